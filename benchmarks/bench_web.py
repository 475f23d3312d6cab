"""Benchmark the public atlas at 1k, 10k and 100k projects against a naive Folium map of the same.

For each size: a fresh SQLite store in a temporary folder is filled with synthetic projects, the
real server (`atlas serve`, waitress) is started on a free local port, and the map page and the
API are timed over HTTP (one warm-up request each, then N timed ones: p50/p95 of the client's
wall time, loopback transfer included). Beside it, in the same run, the naive way: one
`folium.Marker` with a name popup per project, rendered to HTML (time and bytes).
Writes the figures into benchmarks/RESULTS.md under "## Public atlas at size".
Run: `.venv/bin/python benchmarks/bench_web.py [--sizes 1000,10000,100000] [--profile] [--no-doc]`
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import http.client
import io
import os
import pstats
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import folium
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import bench_env, free_port, machine, served, tail, write_section  # noqa: E402

from atlas.core.demo import synthetic_projects  # noqa: E402
from atlas.store import Store  # noqa: E402

DOC = ROOT / "benchmarks" / "RESULTS.md"
HEADING = "## Public atlas at size"
SEED = 20151130
HANNOVER_BBOX = "9.58,52.27,9.88,52.47"  # about 0.3° × 0.2° around the city centre
#: (label, path, timed requests); the map page's own list runs the same search as the API.
ENDPOINTS = [
    ("map page `/`", "/", 20),
    ("`/api/projects` (no filter, limit 100)", "/api/projects?limit=100", 30),
    (
        "`/api/projects` bbox Hannover, limit 100",
        f"/api/projects?bbox={HANNOVER_BBOX}&limit=100",
        30,
    ),
    ("`/api/projects` near=52.37,9.73, 10 km", "/api/projects?near=52.37,9.73&radius_km=10", 30),
    ("`/api/projects` near=30169, 25 km", "/api/projects?near=30169&radius_km=25", 30),
    ("`/api/markers` (whole state)", "/api/markers", 10),
]


def fill_store(folder: Path, count: int) -> tuple[float, float]:
    """A fresh store with `count` synthetic projects; returns (generate s, insert s)."""
    t = time.perf_counter()
    records = synthetic_projects(count, SEED)
    generated = time.perf_counter() - t
    store = Store(f"sqlite:///{folder / 'atlas.sqlite3'}")
    store.create_schema()
    t = time.perf_counter()
    store.replace_synthetic(records)
    inserted = time.perf_counter() - t
    store.engine.dispose()
    return generated, inserted


def fetch(port: int, path: str) -> tuple[float, int, bytes]:
    """One GET on a fresh connection: (seconds, status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Encoding": "identity"})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - t
    conn.close()
    return elapsed, response.status, body


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def measure(port: int, path: str, repeat: int) -> dict:
    _, status, body = fetch(port, path)  # warm-up: imports, caches, SQLite page cache
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
    times = []
    for _ in range(repeat):
        elapsed, status, body = fetch(port, path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
        times.append(elapsed)
    info = {
        "bytes": len(body),
        "gzip": len(gzip.compress(body, 6)),
        "n": repeat,
        "p50": percentile(times, 50),
        "p95": percentile(times, 95),
    }
    if path.startswith("/api/projects"):
        import json

        data = json.loads(body)
        info["matches"], info["returned"] = data["total"], len(data["features"])
    elif path.startswith("/api/markers"):
        import json

        info["matches"] = info["returned"] = len(json.loads(body)["rows"])
    return info


def naive_folium(records: list[dict]) -> dict:
    """The way a first version would do it: every project a Marker with a popup, in the HTML."""
    t = time.perf_counter()
    m = folium.Map(location=[52.75, 9.2], zoom_start=7, tiles=None)
    for rec in records:
        folium.Marker([rec["lat"], rec["lon"]], popup=folium.Popup(rec["name"])).add_to(m)
    built = time.perf_counter() - t
    html = m.get_root().render()
    total = time.perf_counter() - t
    raw = html.encode("utf-8")
    t = time.perf_counter()
    zipped = len(gzip.compress(raw, 6))
    return {
        "build": built,
        "total": total,
        "bytes": len(raw),
        "gzip": zipped,
        "gzip_s": time.perf_counter() - t,
    }


def profile_api(folder: Path, paths: list[str], repeat: int = 5) -> str:
    """cProfile of the API in-process (Flask test client) against an already filled store."""
    os.environ["ATLAS_INSTANCE_PATH"] = str(folder)
    os.environ["ATLAS_TILES"] = "none"
    from atlas.web.app import create_app

    app = create_app()
    client = app.test_client()
    out = io.StringIO()
    for path in paths:
        client.get(path)  # warm-up
        profiler = cProfile.Profile()
        t = time.perf_counter()
        profiler.enable()
        for _ in range(repeat):
            assert client.get(path).status_code == 200
        profiler.disable()
        per = (time.perf_counter() - t) / repeat
        out.write(f"\n### {path}: {per * 1000:.0f} ms per request (profiled, {repeat} runs)\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(12)
    return out.getvalue()


def human_bytes(n: int) -> str:
    if n >= 1024**2:
        return f"{n / 1024**2:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} B"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def section(results: dict[int, dict], info: dict[str, str], command: str) -> str:
    sizes = sorted(results)
    header = "| | " + " | ".join(f"{n:,} projects" for n in sizes) + " |"
    rule = "| --- |" + " --- |" * len(sizes)
    rows = []
    for label, path, repeat in ENDPOINTS:
        cells = []
        for n in sizes:
            r = results[n]["web"][path]
            extra = f", {r['matches']:,} match" if "matches" in r else ""
            cells.append(
                f"{ms(r['p50'])} / {ms(r['p95'])}; {human_bytes(r['bytes'])} "
                f"(gzip {human_bytes(r['gzip'])}){extra}"
            )
        rows.append(f"| {label}: p50 / p95 (n={repeat}); bytes | " + " | ".join(cells) + " |")
    browser = []
    for n in sizes:
        page, marks = results[n]["web"]["/"], results[n]["web"]["/api/markers"]
        browser.append(
            f"{human_bytes(page['bytes'] + marks['bytes'])} "
            f"(gzip {human_bytes(page['gzip'] + marks['gzip'])}), "
            f"{ms(page['p50'] + marks['p50'])}"
        )
    rows.append("| **atlas map = page + markers**: bytes, p50 time | " + " | ".join(browser) + " |")
    naive = [
        f"{results[n]['naive']['total']:,.1f} s; {human_bytes(results[n]['naive']['bytes'])} "
        f"(gzip {human_bytes(results[n]['naive']['gzip'])})"
        for n in sizes
    ]
    rows.append(
        "| **naive Folium** (one `Marker` + popup per project), render once: time; bytes | "
        + " | ".join(naive)
        + " |"
    )
    ratio = []
    for n in sizes:
        page, marks, nv = (
            results[n]["web"]["/"],
            results[n]["web"]["/api/markers"],
            results[n]["naive"],
        )
        ratio.append(
            f"{nv['bytes'] / (page['bytes'] + marks['bytes']):,.0f}× bytes, "
            f"{nv['total'] / (page['p50'] + marks['p50']):,.0f}× time"
        )
    rows.append("| naive ÷ atlas map | " + " | ".join(ratio) + " |")
    setup = [
        f"generate {results[n]['generate']:.1f} s, insert {results[n]['insert']:.1f} s"
        for n in sizes
    ]
    rows.append("| setup: synthetic records, bulk insert | " + " | ".join(setup) + " |")
    machine_line = "; ".join(f"{k} {v}" for k, v in info.items())
    return "\n".join(
        [
            HEADING,
            "",
            f"`benchmarks/bench_web.py`, run on {date.today().isoformat()} with `{command}`.",
            "",
            f"Each size gets a fresh SQLite store (temporary folder) filled with "
            f"`atlas.core.demo.synthetic_projects(n, seed={SEED})`; the real server (`atlas serve`, "
            f"waitress, 8 threads, `ATLAS_TILES=none`) runs as a subprocess on 127.0.0.1 and is "
            f"asked over HTTP, one request at a time on a fresh connection, after one warm-up "
            f"request per URL. Times are the client's wall time (loopback transfer included). "
            f"Bytes are uncompressed as served (waitress does not compress); gzip is what a "
            f"compressing proxy would send. Bbox: `{HANNOVER_BBOX}` (about 0.3° × 0.2° around "
            f"Hannover). In the same run, the naive Folium map of the same projects is built "
            f"and rendered to one HTML string (no file written); at 100k that takes about a minute "
            f"and tens of megabytes, and it would have to be rebuilt for every change.",
            "",
            f"Machine: {machine_line}. The machine is shared with other jobs and has 2 cores, so "
            f"figures are noisy; compare columns of one run, not runs.",
            "",
            header,
            rule,
            *rows,
            "",
        ]
    )


def write_doc(text: str) -> None:
    write_section(HEADING, text, DOC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive Folium render")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile the API in-process at the largest size",
    )
    parser.add_argument("--no-doc", action="store_true", help="print only, leave the doc alone")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    info = machine("flask", "waitress", "SQLAlchemy", "folium", "numpy")
    for k, v in info.items():
        print(f"{k}: {v}")
    results: dict[int, dict] = {}
    profile_text = ""
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"bench-web-{n}-") as tmp:
            folder = Path(tmp)
            generated, inserted = fill_store(folder, n)
            print(
                f"\n{n:,} projects: generated in {generated:.1f} s, inserted in {inserted:.1f} s",
                flush=True,
            )
            port = free_port()
            web = {}
            # up once the port takes connections: every timed path gets its own first request
            with served(
                bench_env(folder), probe=None, port=port, log_path=folder / "server.log", timeout=60
            ):
                for _label, path, repeat in ENDPOINTS:
                    try:
                        web[path] = r = measure(port, path, repeat)
                    except RuntimeError:
                        print(tail(folder / "server.log"), file=sys.stderr)
                        raise
                    print(
                        f"  {path}: p50 {ms(r['p50'])}, p95 {ms(r['p95'])}, "
                        f"{human_bytes(r['bytes'])} (gzip {human_bytes(r['gzip'])})"
                        + (
                            f", {r['matches']:,} match, {r['returned']} returned"
                            if "matches" in r
                            else ""
                        ),
                        flush=True,
                    )
            results[n] = {"web": web, "generate": generated, "insert": inserted}
            if args.profile and n == max(sizes):
                profile_text = profile_api(folder, [p for _, p, _ in ENDPOINTS])
        if not args.no_naive:
            print(f"  naive Folium with {n:,} markers …", flush=True)
            records = synthetic_projects(n, SEED)
            results[n]["naive"] = r = naive_folium(records)
            del records
            print(
                f"  naive Folium: build {r['build']:.1f} s, total {r['total']:.1f} s, "
                f"{human_bytes(r['bytes'])} (gzip {human_bytes(r['gzip'])})",
                flush=True,
            )
    if profile_text:
        print(profile_text)
    if args.no_naive or args.no_doc:
        return
    command = ".venv/bin/python benchmarks/bench_web.py" + (
        f" --sizes {args.sizes}" if args.sizes != "1000,10000,100000" else ""
    )
    text = section(results, info, command)
    print("\n" + text)
    write_doc(text)
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
