#!/usr/bin/env python3
"""Refresh atlas/static/vendor/ from the npm registry, following atlas/static/vendor/manifest.json.

Pages must not load anything from a CDN, so every script, stylesheet, font and image they use is
copied here: the files the manifest lists, whatever those stylesheets reference via url(), the
package's licence and its package.json (which records the version actually copied).
Run:  .venv/bin/python scripts/vendor_assets.py
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from npm_registry import npm_pack  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from atlas.web.assets import MANIFEST, ROTATE_CSS, STATIC_DIR, VENDOR_DIR, css_urls  # noqa: E402

LICENCE_NAMES = (
    "LICENSE",
    "LICENSE.md",
    "LICENSE.txt",
    "LICENCE",
    "LICENCE.md",
    "LICENCE.txt",
    "MIT-LICENCE.txt",
    "MIT-LICENSE.txt",
)


def licence_file(pkg_dir: Path) -> str:
    """The package's own licence text; vendoring without it would break the licences' notice clause."""
    for name in LICENCE_NAMES:
        if (pkg_dir / name).is_file():
            return name
    raise SystemExit(f"{pkg_dir}: no licence file among {LICENCE_NAMES}")


def referenced_files(pkg_dir: Path, css_path: str) -> list[str]:
    """Package-relative paths of the fonts/images a stylesheet loads; remote references are refused."""
    found = []
    for ref in css_urls((pkg_dir / css_path).read_text(encoding="utf-8")):
        ref = ref.strip()
        if not ref or ref.startswith(("data:", "#")):
            continue
        if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", ref, re.I):
            raise SystemExit(f"{css_path} loads a remote resource: {ref}")
        path = posixpath.normpath(
            posixpath.join(posixpath.dirname(css_path), ref.split("?")[0].split("#")[0])
        )
        if path.startswith("../") or not (pkg_dir / path).is_file():
            raise SystemExit(f"{css_path} references {ref}, which the package does not contain")
        found.append(path)
    return found


def vendor_package(name: str, spec: dict) -> list[Path]:
    """Copy one package's needed files into VENDOR_DIR/<name>/ and return what was written."""
    pkg_dir = npm_pack(f"{name}@{spec['version']}")
    packed = json.loads((pkg_dir / "package.json").read_text(encoding="utf-8"))
    if (packed["name"], packed["version"]) != (name, spec["version"]):
        raise SystemExit(
            f"npm gave {packed['name']}@{packed['version']} for {name}@{spec['version']}"
        )
    files = [
        "package.json",
        licence_file(pkg_dir),
        *spec["js"],
        *spec["css"],
        *spec.get("extra", []),
    ]
    for css in spec["css"]:
        files += referenced_files(pkg_dir, css)
    target = VENDOR_DIR / name
    written = []
    for rel in dict.fromkeys(files):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pkg_dir / rel, target / rel)
        written.append(target / rel)
    return written


def write_rotate_css() -> Path:
    """Folium's `fa-rotate-<angle>` classes for Icon(angle=...); Folium takes them from its
    GitHub repo, and no npm package has them."""
    path = STATIC_DIR / ROTATE_CSS
    rules = "".join(f".fa-rotate-{a}{{transform:rotate({a}deg)}}\n" for a in range(1, 361))
    path.write_text(
        "/* Equivalent of Folium's leaflet.awesome.rotate.css, written by scripts/vendor_assets.py. */\n"
        + rules,
        encoding="utf-8",
    )
    return path


def main() -> None:
    packages = json.loads(MANIFEST.read_text(encoding="utf-8"))["packages"]
    # Start clean so files dropped from the manifest (or from a package) do not linger.
    for entry in VENDOR_DIR.iterdir():
        if entry != MANIFEST:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    total = 0
    for name, spec in packages.items():
        written = vendor_package(name, spec)
        size = sum(p.stat().st_size for p in written)
        total += size
        print(f"{name}@{spec['version']}: {len(written)} files, {size / 1024:.0f} KiB")
    rotate = write_rotate_css()
    print(f"{rotate.relative_to(ROOT)}: {rotate.stat().st_size / 1024:.0f} KiB")
    print(f"total vendored: {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
