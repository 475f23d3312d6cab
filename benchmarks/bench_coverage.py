"""Benchmark the coverage pages (/regionen, /regionen/<slug>) with 100,000 synthetic projects.

A fresh SQLite store in a temporary folder is filled with `atlas.core.demo.synthetic_projects`, the
real server (`atlas serve`, waitress) runs on a free local port, and every region's page is timed
over HTTP: the very first request after start (gazetteer, boundaries), then N timed requests each
right after one project was changed (so nothing computed is reused: the worst case a visitor
meets), and N timed repeats (the cached case). The markers a region page loads afterwards
(/api/markers?region=…) and the JSON API are timed beside it, and an in-process breakdown shows
where an uncached page's time goes. Writes the figures into benchmarks/RESULTS.md under
"## Coverage page".

Run: `.venv/bin/python benchmarks/bench_coverage.py [--count 100000] [--repeat 10] [--no-doc]`
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import bench_env, free_port, served, write_section  # noqa: E402

from atlas.core.demo import synthetic_projects  # noqa: E402
from atlas.geo.regions import REGIONS  # noqa: E402
from atlas.store import Store  # noqa: E402

DOC = ROOT / "benchmarks" / "RESULTS.md"
HEADING = "## Coverage page"
SEED = 20151130
TARGET_S = 1.0


def machine() -> str:
    cpu = "unknown"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    import folium
    import pyproj
    import sqlalchemy

    return (
        f"CPU {cpu}; cores {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}); "
        f"Python {platform.python_version()}; numpy {np.__version__}; pyproj {pyproj.__version__}; "
        f"SQLAlchemy {sqlalchemy.__version__}; folium {folium.__version__}"
    )


def fetch(port: int, path: str) -> tuple[float, bytes]:
    """One GET on a fresh connection: (seconds, body); anything but 200 is an error."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Encoding": "identity"})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - t
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
    return elapsed, body


def measure(port: int, path: str, repeat: int, change=None) -> dict:
    """p50/p95 of `repeat` requests after a warm-up; `change()` runs before each (not timed)."""
    fetch(port, path)
    times, body = [], b""
    for _ in range(repeat):
        if change:
            change()
        elapsed, body = fetch(port, path)
        times.append(elapsed)
    return {
        "p50": float(np.percentile(times, 50)),
        "p95": float(np.percentile(times, 95)),
        "max": max(times),
        "bytes": len(body),
        "gzip": len(gzip.compress(body, 6)),
        "n": repeat,
    }


def touch(folder: Path):
    """A function that changes one project, as an edit would: every cache keyed on data goes stale."""
    from sqlalchemy import select, update

    from atlas.store import Project, utcnow

    store = Store(f"sqlite:///{folder / 'atlas.sqlite3'}")
    with store.session() as s:
        first = s.scalar(select(Project.id).order_by(Project.id).limit(1))

    def change() -> None:
        with store.session.begin() as s:
            s.execute(update(Project).where(Project.id == first).values(updated_at=utcnow()))

    return change


def breakdown(folder: Path, region: str, repeat: int) -> dict[str, float]:
    """Median seconds of each step of one uncached region page, in-process against the same store."""
    os.environ["ATLAS_INSTANCE_PATH"] = str(folder)
    os.environ["ATLAS_TILES"] = "none"
    from atlas.core import coverage
    from atlas.web import coverage_maps, maps
    from atlas.web.app import create_app
    from atlas.web.extensions import get_store

    app = create_app()
    store = get_store(app)
    client = app.test_client()
    client.get(f"/regionen/{region}")
    steps: dict[str, list[float]] = {}

    def timed(name, fn):
        t = time.perf_counter()
        value = fn()
        steps.setdefault(name, []).append(time.perf_counter() - t)
        return value

    with app.test_request_context():
        for _ in range(repeat):
            coverage._CACHE.clear()
            rows = timed(
                "district × field counts (one grouped query)",
                lambda: coverage.district_rows(store, region),
            )
            targets = timed(
                "project points of the field, whole state, and their R-tree",
                lambda: coverage._project_points(store, None),
            )
            munis = coverage.municipalities(region)
            timed(
                "nearest project per municipality (exact geodesic)",
                lambda: coverage.nearest_targets(munis.lat, munis.lon, targets),
            )
            spots = coverage.white_spots(store, region, None, coverage.DEFAULT_DISTANCE_KM)
            classes = coverage_maps.Classes.for_rows(rows, None)
            timed(
                "Folium map: build and render",
                lambda: maps.render(
                    coverage_maps.region_map(
                        maps.Tiles(None, ""), region, rows, None, spots, classes
                    ),
                    "n",
                ),
            )
            coverage._CACHE.clear()
            timed(
                "whole request, nothing cached (Flask test client)",
                lambda: client.get(f"/regionen/{region}"),
            )
            timed(
                "whole request, cached (Flask test client)",
                lambda: client.get(f"/regionen/{region}"),
            )
    return {name: float(np.median(values)) for name, values in steps.items()}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB" if n < 1024**2 else f"{n / 1024**2:,.1f} MB"


def section(
    count: int,
    counts: dict[str, int],
    cold: tuple[str, float],
    pages: dict,
    markers: dict,
    api: dict,
    overview: dict,
    steps: dict,
    largest: str,
    repeat: int,
    command: str,
) -> str:
    rows = []
    for slug, info in REGIONS.items():
        page, field_page, cached = pages[slug]["all"], pages[slug]["field"], pages[slug]["cached"]
        mark, body = markers[slug], api[slug]
        rows.append(
            f"| {info['name']} ({counts[slug]:,} projects) | {ms(page['p50'])} / {ms(page['p95'])}; "
            f"{kb(page['bytes'])} (gzip {kb(page['gzip'])}) | {ms(field_page['p50'])} / "
            f"{ms(field_page['p95'])} | {ms(cached['p50'])} | {ms(body['p50'])} | "
            f"{ms(mark['p50'])}; {kb(mark['bytes'])} (gzip {kb(mark['gzip'])}) |"
        )
    worst = max(max(p["all"]["p95"], p["field"]["p95"]) for p in pages.values())
    verdict = "met" if worst < TARGET_S else "NOT met"
    step_rows = [f"| {name} | {ms(value)} |" for name, value in steps.items()]
    return "\n".join(
        [
            HEADING,
            "",
            f"`benchmarks/bench_coverage.py`, run on {date.today().isoformat()} with `{command}`.",
            "",
            f"A fresh SQLite store with `atlas.core.demo.synthetic_projects({count}, seed={SEED})` (points "
            f"spread by district population); the real server (`atlas serve`, waitress, "
            f"`ATLAS_TILES=none`) on 127.0.0.1, asked over HTTP one request at a time on a fresh "
            f"connection; p50 / p95 of {repeat} requests after one warm-up, each right after one "
            f"project was changed (an edit makes every figure stale, so nothing computed is reused), "
            f"unless the column says cached. Counts and the project points with their R-tree are "
            f"cached per data version (`Store.data_version()`); the page itself is always rendered. "
            f"A region page runs the "
            f"district × field counts as one grouped SQL query, reads the points of every published "
            f"project of the field in the whole state (a project across the region's border serves "
            f"municipalities there too), finds each municipality's nearest one (an R-tree in UTM 32N "
            f"gives the nearest by grid distance, then pyproj measures the exact WGS84 geodesic to "
            f"every candidate within 1 % of it), and renders a Folium choropleth with the white spots. Its "
            f"markers are not in the page: atlas.js loads them from `/api/markers?region=…` and "
            f"clusters them in the browser, as on the public map.",
            "",
            f"Machine: {machine()}. Shared with other jobs; figures are noisy.",
            "",
            f"**Target: a region page under {TARGET_S:.0f} s at {count:,} projects: {verdict}** "
            f"(slowest p95 {ms(worst)}). The very first request after the server starts "
            f"({cold[0]}) took {ms(cold[1])}: it also loads the gazetteer and simplifies the boundaries.",
            "",
            "| region | page `/regionen/<slug>`, all fields, 15 km: p50 / p95; bytes | page with "
            "`?field=sprache&distance_km=10`: p50 / p95 | page, cached: p50 | `/api/coverage?region=…`: "
            "p50 | markers the page then loads, `/api/markers?region=…`: p50; bytes |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            f"| overview `/regionen` | {ms(overview['p50'])} / {ms(overview['p95'])}; {kb(overview['bytes'])} "
            f"(gzip {kb(overview['gzip'])}) | | | | |",
            "",
            f"Where the time of one uncached page goes ({REGIONS[largest]['name']}, all fields, in-process, "
            f"median of {repeat}):",
            "",
            "| step | time |",
            "| --- | --- |",
            *step_rows,
            "",
        ]
    )


def write_doc(text: str) -> None:
    write_section(HEADING, text, DOC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--no-doc", action="store_true", help="print only, leave the doc alone")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="bench-coverage-") as tmp:
        folder = Path(tmp)
        records = synthetic_projects(args.count, SEED)
        counts = {slug: sum(1 for r in records if r["region"] == slug) for slug in REGIONS}
        store = Store(f"sqlite:///{folder / 'atlas.sqlite3'}")
        store.create_schema()
        store.replace_synthetic(records)
        store.engine.dispose()
        del records
        print(
            f"{args.count:,} projects: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()),
            flush=True,
        )
        port = free_port()
        pages, markers, api = {}, {}, {}
        change = touch(folder)
        # up once the port takes connections, so the cold request below is the very first
        with served(
            bench_env(folder), probe=None, port=port, log_path=folder / "server.log", timeout=60
        ):
            cold_region = "lueneburg"
            cold = (f"`/regionen/{cold_region}`", fetch(port, f"/regionen/{cold_region}")[0])
            print(f"cold /regionen/{cold_region}: {ms(cold[1])}", flush=True)
            for slug in REGIONS:
                pages[slug] = {
                    "all": measure(port, f"/regionen/{slug}", args.repeat, change),
                    "field": measure(
                        port, f"/regionen/{slug}?field=sprache&distance_km=10", args.repeat, change
                    ),
                    "cached": measure(port, f"/regionen/{slug}", args.repeat),
                }
                api[slug] = measure(port, f"/api/coverage?region={slug}", args.repeat, change)
                markers[slug] = measure(
                    port, f"/api/markers?region={slug}", max(3, args.repeat // 2), change
                )
                print(
                    f"/regionen/{slug}: p50 {ms(pages[slug]['all']['p50'])}, p95 "
                    f"{ms(pages[slug]['all']['p95'])}; field page p50 {ms(pages[slug]['field']['p50'])}; "
                    f"cached p50 {ms(pages[slug]['cached']['p50'])}; "
                    f"api p50 {ms(api[slug]['p50'])}; markers p50 {ms(markers[slug]['p50'])}",
                    flush=True,
                )
            overview = measure(port, "/regionen", args.repeat, change)
            print(f"/regionen: p50 {ms(overview['p50'])}", flush=True)
        largest = max(counts, key=counts.get)
        steps = breakdown(folder, largest, args.repeat)
        for name, value in steps.items():
            print(f"  {name}: {ms(value)}")
    command = ".venv/bin/python benchmarks/bench_coverage.py" + (
        f" --count {args.count}" if args.count != 100_000 else ""
    )
    text = section(
        args.count,
        counts,
        cold,
        pages,
        markers,
        api,
        overview,
        steps,
        largest,
        args.repeat,
        command,
    )
    print("\n" + text)
    if not args.no_doc:
        write_doc(text)
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
