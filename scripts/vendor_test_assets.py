#!/usr/bin/env python3
"""Refresh tests/support/vendor/: front-end files that only the tests use, never the atlas.

axe-core checks the pages for WCAG 2.0/2.1 A and AA violations in the browser tests
(tests/support/accessibility.py injects it with Playwright). It lives under tests/, not under
atlas/static/, so the atlas never serves it and the wheel does not carry it. The licence
(MPL-2.0) and package.json (the version actually copied) stay beside the script.
Run:  .venv/bin/python scripts/vendor_test_assets.py
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from npm_registry import npm_pack  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEST_VENDOR_DIR = ROOT / "tests" / "support" / "vendor"

#: npm name → pinned version and the files copied (package-relative).
PACKAGES = {
    "axe-core": {"version": "4.14.1", "files": ["axe.min.js", "LICENSE", "package.json"]},
}


def main() -> None:
    for name, spec in PACKAGES.items():
        pkg_dir = npm_pack(f"{name}@{spec['version']}")
        packed = json.loads((pkg_dir / "package.json").read_text(encoding="utf-8"))
        if (packed["name"], packed["version"]) != (name, spec["version"]):
            raise SystemExit(
                f"npm gave {packed['name']}@{packed['version']} for {name}@{spec['version']}"
            )
        target = TEST_VENDOR_DIR / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for rel in spec["files"]:
            shutil.copyfile(pkg_dir / rel, target / rel)
        size = sum((target / rel).stat().st_size for rel in spec["files"])
        print(f"{name}@{spec['version']}: {len(spec['files'])} files, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
