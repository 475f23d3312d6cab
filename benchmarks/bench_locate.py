"""Benchmark atlas.geo.regions.locate against geopandas.sjoin and check it against the unsimplified data.

1,000,000 random points (fixed seed) over the state's bounding box. Timings of locate (cold: file
read and grid build included; warm) and of sjoin against the same simplified polygons, in one run.
Correctness: for every point farther than 50 m from any district boundary, locate must give the
same district (or outside) as sjoin on the unsimplified VG250 polygons.
Writes the figures into benchmarks/RESULTS.md under "## Point assignment".
Run: `.venv/bin/python benchmarks/bench_locate.py [--points N]` (needs the npm cache, see build_regions).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from build_regions import MAX_ERROR_M, METRIC_CRS, hausdorff_m, raw_districts  # noqa: E402
from common import write_section  # noqa: E402

from atlas.geo import regions  # noqa: E402

DOC = ROOT / "benchmarks" / "RESULTS.md"
HEADING = "## Point assignment"
SEED = 20151130  # founding day of "Niedersachsen packt an"


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} (usable {len(os.sched_getaffinity(0))})",
        "Python": platform.python_version(),
        "shapely": f"{shapely.__version__} (GEOS {shapely.geos_version_string})",
        "geopandas": gpd.__version__,
        "numpy": np.__version__,
        "pyproj": pyproj.__version__,
    }


def timed(fn, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def sjoin_codes(
    lon: np.ndarray, lat: np.ndarray, polygons: gpd.GeoDataFrame, predicate: str
) -> np.ndarray:
    """District code per point via geopandas.sjoin, None outside; first match on shared borders."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(
        points, polygons[["district_code", "geometry"]], how="left", predicate=predicate
    )
    joined = joined[~joined.index.duplicated(keep="first")]
    return (
        joined["district_code"]
        .astype(object)
        .where(joined["district_code"].notna(), None)
        .to_numpy()
    )


def near_boundary(
    lon: np.ndarray, lat: np.ndarray, raw: gpd.GeoDataFrame, metres: float
) -> np.ndarray:
    """Points within `metres` of any unsimplified district boundary (including the state border)."""
    lines = raw.to_crs(METRIC_CRS).boundary.values
    band = shapely.buffer(shapely.union_all(lines), metres)
    shapely.prepare(band)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True).transform(lon, lat)
    return shapely.intersects_xy(band, x, y)


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def write_doc(section: str) -> None:
    write_section(HEADING, section, DOC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--no-doc", action="store_true", help="print only, leave benchmarks/RESULTS.md alone"
    )
    args = parser.parse_args()

    info = machine()
    for key, value in info.items():
        print(f"{key}: {value}")

    # Cold: drop every cache so the first call reads the GeoJSON and builds the grid.
    for cached in (regions.districts, regions._district_table, regions._grid):
        cached.cache_clear()
    simple = gpd.read_file(regions.REGIONS_DIR / "districts.geojson", engine="pyogrio")
    xmin, ymin, xmax, ymax = simple.total_bounds
    rng = np.random.default_rng(SEED)
    lon = rng.uniform(xmin, xmax, args.points)
    lat = rng.uniform(ymin, ymax, args.points)
    print(
        f"{args.points:,} points over {xmin:.3f}–{xmax:.3f} E, {ymin:.3f}–{ymax:.3f} N (seed {SEED})"
    )

    t = time.perf_counter()
    codes = regions.locate(lat, lon)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    regions._grid.cache_clear()
    regions._grid()
    grid_build = time.perf_counter() - t
    warm, codes_warm = timed(lambda: regions.locate(lat, lon), args.repeat)
    assert (codes == codes_warm).all()
    print(
        f"locate cold {fmt(cold)} (grid build alone {fmt(grid_build)}), warm median {fmt(statistics.median(warm))}"
    )

    sjoin_times = {}
    for predicate in ("within", "intersects"):
        times, joined = timed(
            lambda: sjoin_codes(lon, lat, simple, predicate), max(1, args.repeat // 2)
        )
        sjoin_times[predicate] = statistics.median(times)
        same = int((joined == codes).sum())
        print(
            f"sjoin {predicate}: median {fmt(sjoin_times[predicate])}; same answer as locate for {same:,} points"
        )
        if predicate == "within":
            same_simplified = same

    raw = raw_districts()
    t = time.perf_counter()
    reference = sjoin_codes(lon, lat, raw, "within")
    ref_time = time.perf_counter() - t
    near = near_boundary(lon, lat, raw, MAX_ERROR_M)
    far = ~near
    mismatch_far = int((reference[far] != codes[far]).sum())
    mismatch_near = int((reference[near] != codes[near]).sum())
    inside = int(sum(c is not None for c in codes))
    raw_sorted = raw.set_index("district_code").loc[simple.district_code].reset_index()
    error = hausdorff_m(
        raw_sorted.to_crs(METRIC_CRS).geometry.values, simple.to_crs(METRIC_CRS).geometry.values
    )
    print(
        f"boundary error of the committed polygons (Hausdorff, EPSG:25832): max {error.max():.1f} m, "
        f"median {np.median(error):.1f} m"
    )
    print(
        f"unsimplified sjoin {fmt(ref_time)}; {int(far.sum()):,} points farther than {MAX_ERROR_M:.0f} m from a "
        f"boundary: {mismatch_far} differ; {int(near.sum()):,} points within {MAX_ERROR_M:.0f} m: "
        f"{mismatch_near} differ (simplification error allowed there)"
    )

    warm_med = statistics.median(warm)
    best_sjoin = min(sjoin_times.values())
    rows = [
        ("`locate`, cold (read GeoJSON, build grid, assign)", fmt(cold)),
        ("`locate`, grid build alone", fmt(grid_build)),
        (f"`locate`, warm (median of {args.repeat})", fmt(warm_med)),
        (
            "`geopandas.sjoin` predicate=within (points built from arrays)",
            fmt(sjoin_times["within"]),
        ),
        ("`geopandas.sjoin` predicate=intersects", fmt(sjoin_times["intersects"])),
    ]
    section = "\n".join(
        [
            HEADING,
            "",
            f"`benchmarks/bench_locate.py`: {args.points:,} uniformly random points (seed {SEED}) "
            "over the bounding box "
            f"of Lower Saxony ({xmin:.2f}–{xmax:.2f} °E, {ymin:.2f}–{ymax:.2f} °N); {inside:,} fall inside the state. "
            "All timings in one process, against the same simplified polygons in `data/regions/districts.geojson`.",
            "",
            "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + ".",
            "",
            "| what | time |",
            "| --- | --- |",
            *[f"| {a} | {b} |" for a, b in rows],
            "",
            f"Warm `locate` is {best_sjoin / warm_med:,.0f}× faster than the faster sjoin; cold it is "
            f"{best_sjoin / cold:,.1f}× faster. `locate` and sjoin (within) agree on {same_simplified:,} of "
            f"{args.points:,} points.",
            "",
            "How: a lon/lat grid (cells of "
            f"{regions.CELL_DEG[0]}° × {regions.CELL_DEG[1]}°) is built on first use; a cell that no district boundary "
            "crosses answers from the grid, points in boundary cells get an exact `shapely.intersects_xy` test "
            "against only the districts whose boundary crosses that cell.",
            "",
            f"Correctness against the unsimplified VG250 polygons (sjoin within): of {int(far.sum()):,} points farther "
            f"than {MAX_ERROR_M:.0f} m from any boundary, **{mismatch_far} differ**. Of the {int(near.sum()):,} points "
            f"within {MAX_ERROR_M:.0f} m of a boundary, {mismatch_near} differ, which the simplification "
            f"(Hausdorff error per district, EPSG:25832: max {error.max():.1f} m, median {np.median(error):.1f} m) "
            "allows.",
            "",
        ]
    )
    if not args.no_doc:
        write_doc(section)
        print(f"wrote {DOC.relative_to(ROOT)}")
    if mismatch_far:
        raise SystemExit(f"{mismatch_far} points far from any boundary are assigned differently")


if __name__ == "__main__":
    main()
