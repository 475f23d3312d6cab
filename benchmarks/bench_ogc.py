"""Benchmark OGC API – Features (/ogc/) at size: a GIS reading every project, the layers, pages
and the statewide downloads.

A fresh SQLite store in a temporary folder (or a PostgreSQL database of the benchmark's own with
--postgres) gets `atlas demo-data --count N` (synthetic, flagged); the real server (`atlas
serve`, waitress) runs on a free local port. Timed over HTTP on 127.0.0.1:

- GDAL's OAPIF driver (pyogrio.read_dataframe) reading the whole `projects` layer with PAGE_SIZE
  1,000 and 10,000, and the `districts` layer;
- for comparison, the same projects paged through /api/projects (limit 1,000, its maximum);
- one items page (limit 100, and limit 10,000), p50/p95 of repeated requests;
- the statewide downloads: the first request builds all three formats (kept per data
  version), so only the first format asked for (GeoJSON) shows the build.

Writes the figures into benchmarks/RESULTS.md under "## OGC API – Features (issue 15)".

Run: `.venv/bin/python benchmarks/bench_ogc.py [--count 100000] [--postgres] [--no-doc]`
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import (  # noqa: E402
    bench_env,
    free_port,
    machine,
    machine_line,
    ms,
    percentiles,
    postgres_url,
    reset_postgres,
    run_atlas,
    served,
    write_section,
)

HEADING = "## OGC API – Features (issue 15)"
SEED = 20151130


def fetch(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        body = response.read()
    return time.perf_counter() - start, body


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def api_paging(base: str, total: int) -> int:
    """Every project through /api/projects, 1,000 a page (its maximum)."""
    import json

    seen = 0
    for offset in range(0, total, 1000):
        _, body = fetch(f"{base}/api/projects?limit=1000&offset={offset}")
        seen += len(json.loads(body)["features"])
    return seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()

    import pyogrio

    url = postgres_url(None, "atlas_bench_ogc") if args.postgres else None
    if args.postgres:
        if url is None:
            raise SystemExit("--postgres needs ATLAS_TEST_DATABASE_URL's server")
        reset_postgres(url)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = bench_env(Path(folder), url, ATLAS_PUBLIC_URL=f"http://127.0.0.1:{port}")
        fill, _ = timed(
            lambda: run_atlas(["demo-data", "--count", str(args.count), "--seed", str(SEED)], env)
        )
        print(f"filled {args.count:,} in {fill:.0f} s", flush=True)
        with served(env, port=port, probe="/ogc/", timeout=120) as (_proc, base):
            source = f"OAPIF:{base}/ogc/"
            for page_size in (1000, 10_000):
                seconds, frame = timed(
                    lambda ps=page_size: pyogrio.read_dataframe(
                        source, layer="projects", PAGE_SIZE=ps
                    )
                )
                rows.append(
                    (
                        f"GDAL OAPIF reads all projects, PAGE_SIZE={page_size:,}",
                        f"{seconds:.1f} s, {len(frame):,} features",
                    )
                )
                print(rows[-1], flush=True)
            seconds, seen = timed(lambda: api_paging(base, args.count))
            rows.append(
                (
                    "same projects paged through /api/projects (limit 1,000)",
                    f"{seconds:.1f} s, {seen:,} features",
                )
            )
            seconds, frame = timed(lambda: pyogrio.read_dataframe(source, layer="districts"))
            rows.append(("GDAL OAPIF reads `districts` (45 polygons)", f"{seconds:.2f} s"))
            for limit in (100, 10_000):
                page = f"{base}/ogc/collections/projects/items?limit={limit}&offset=5000"
                fetch(page)
                times, size = [], 0
                for _ in range(args.repeat if limit == 100 else 3):
                    seconds, body = fetch(page)
                    times.append(seconds)
                    size = len(body)
                p = percentiles(times, (50, 95))
                rows.append(
                    (
                        f"one items page, limit {limit:,} (offset 5,000): p50 / p95 (n={len(times)})",
                        f"{ms(p['p50'])} / {ms(p['p95'])}; {size / 1e6:.2f} MB",
                    )
                )
                print(rows[-1], flush=True)
            for fmt in ("geojson", "gpkg", "csv"):
                link = f"{base}/ogc/downloads/projekte.{fmt}"
                first, body = fetch(link)
                again, _ = fetch(link)
                rows.append(
                    (
                        f"download `projekte.{fmt}`: first request / again",
                        f"{first:.2f} s / {ms(again)}; {len(body) / 1e6:.1f} MB",
                    )
                )
                print(rows[-1], flush=True)
    info = machine("flask", "waitress", "sqlalchemy", "pyogrio", "pyproj")
    info["GDAL"] = pyogrio.__gdal_version_string__
    database = "PostgreSQL/PostGIS" if args.postgres else "SQLite"
    text = "\n".join(
        [
            HEADING,
            "",
            f"`benchmarks/bench_ogc.py`, run on {date.today().isoformat()} with "
            f"{args.count:,} synthetic projects (seed {SEED}) on {database}; `atlas serve` "
            "(waitress, 8 threads) on 127.0.0.1, one request at a time.",
            "",
            f"Machine: {machine_line(info)}. Shared with other jobs: compare rows of one run.",
            "",
            "| what | result |",
            "| --- | --- |",
            *[f"| {what} | {result} |" for what, result in rows],
        ]
    )
    print(text)
    if not args.no_doc:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
