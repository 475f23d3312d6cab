"""Benchmark `/api/projects` (near and bbox) at 100,000 projects under 50 concurrent clients,
on SQLite and on PostgreSQL/PostGIS, against datasette serving the same projects table.

Setup: `atlas demo-data --count 100000` fills a fresh SQLite file (temporary folder) and, if a
PostgreSQL URL is known, a database of the benchmark's own. All servers run at the same time as
subprocesses on 127.0.0.1, and every scenario asks them back to back, so a change in the load
of the (shared) machine hits all of them alike:
- `atlas serve --workers 2` (gunicorn gthread, 2 processes × 8 threads) and `atlas serve`
  (waitress, 1 process × 8 threads), on each backend;
- `datasette serve <the same SQLite file>` (uvicorn; datasette only reads SQLite, so it is the
  comparison for the PostgreSQL rows too), with `suggest_facets off` and a 10 s SQL time limit,
  so that it spends its time on the query asked and never answers with a time-out.

Comparable requests: bbox is `bbox=minlon,minlat,maxlon,maxlat` for the atlas and
`lon__gte/lon__lte/lat__gte/lat__lte` for datasette, both published only, 100 rows with the total
count, ordered by name. Datasette has no radius search: for `near` it gets the bounding box of
the radius circle (a superset of the circle, in primary-key order), the closest filter it can
run; the atlas answers the real question (geodesic circle, nearest first, with distances).

Load: 50 client threads, each with its own keep-alive HTTP/1.1 connection (http.client), in the
same process and on the same 2 cores as the servers. Per scenario a warm-up, then a fixed
duration; every request started in that window is timed to its last byte. Two kinds of load:
- saturation: each client sends its next request as soon as its answer is in (closed loop,
  50 requests always in flight: latency = queueing + service, throughput = capacity);
- paced: each client sends one request every 1/rate seconds (default 0.4/s: 50 people each
  searching every 2.5 s, 20 requests/s offered), which a server keeps up with or not.
Writes the section "## API under concurrent load" of benchmarks/RESULTS.md.

Run: `eval "$(scripts/pg_test_cluster.sh)"` (optional, for PostgreSQL), then
`.venv/bin/python benchmarks/bench_api_load.py [--duration 15] [--profile] [--no-doc]`.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ATLAS,
    BIN,
    SEED,
    bench_env,
    free_port,
    load_average,
    machine,
    machine_line,
    ms,
    percentiles,
    postgres_url,
    postgres_version,
    reset_postgres,
    run_atlas,
    serving,
    write_section,
)

HEADING = "## API under concurrent load"
HANNOVER_BBOX = (9.58, 52.27, 9.88, 52.47)  # minlon, minlat, maxlon, maxlat; as bench_web.py
NEAR = [
    ("near10", "near=52.37,9.73, 10 km", "52.37,9.73", 10.0),
    ("near25", "near=30169 (postcode), 25 km", "30169", 25.0),
]
GOAL_P95_S = 0.025
DATASETTE_SETTINGS = [
    "--setting",
    "suggest_facets",
    "off",
    "--setting",
    "sql_time_limit_ms",
    "10000",
    "--setting",
    "default_cache_ttl",
    "0",
]


# --- what is asked ------------------------------------------------------------------------------


@dataclass
class Case:
    key: str
    label: str
    atlas: str  # path on the atlas
    datasette: str  # path on datasette: the comparable filter


def _circle_bbox(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """Bounding box of a geodesic circle (WGS84): the box datasette can filter on."""
    from pyproj import Geod

    lons, lats, _ = Geod(ellps="WGS84").fwd(
        [lon] * 4, [lat] * 4, [0, 90, 180, 270], [radius_km * 1000] * 4
    )
    return min(lons), min(lats), max(lons), max(lats)


def _datasette_box(box, **extra) -> str:
    minlon, minlat, maxlon, maxlat = box
    query = {
        "status": "published",
        "lat__gte": f"{minlat:.6f}",
        "lat__lte": f"{maxlat:.6f}",
        "lon__gte": f"{minlon:.6f}",
        "lon__lte": f"{maxlon:.6f}",
        "_size": "100",
        "_shape": "objects",
        **extra,
    }
    return "/atlas/projects.json?" + urlencode(query)


def cases() -> list[Case]:
    from atlas.geo.geocoding import resolve_offline

    box = ",".join(str(v) for v in HANNOVER_BBOX)
    out = [
        Case(
            "bbox",
            "bbox Hannover (0.3° × 0.2°)",
            f"/api/projects?bbox={box}&limit=100",
            _datasette_box(HANNOVER_BBOX, _sort="name"),
        )
    ]
    for key, label, near, radius in NEAR:
        if "," in near:
            lat, lon = (float(v) for v in near.split(","))
        else:
            answer = resolve_offline(near)
            lat, lon = answer["lat"], answer["lon"]
        out.append(
            Case(
                key,
                label,
                f"/api/projects?near={near}&radius_km={radius:g}&limit=100",
                _datasette_box(_circle_bbox(lat, lon, radius)),
            )
        )
    return out


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    body: bytes = b""
    reconnects: int = 0
    window: float = 0.0
    cpu: float = 0.0  # server CPU seconds from the start of the window to the end


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path, headers={"Accept-Encoding": "identity"})
    response = conn.getresponse()
    return response.status, response.read()


def load(
    port: int,
    path: str,
    *,
    clients: int,
    duration: float,
    warmup: float,
    rate_per_client: float | None,
    cpu=None,
    timeout: float = 120,
) -> Outcome:
    """`clients` threads ask `path` over keep-alive connections; the times of the requests
    started in [warmup, warmup + duration) are kept. rate_per_client None: closed loop."""
    out = Outcome()
    lock = threading.Lock()
    start = time.perf_counter() + 0.5
    begin, end = start + warmup, start + warmup + duration
    interval = 1.0 / rate_per_client if rate_per_client else 0.0

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        next_at = start + (k / clients) * interval  # paced clients spread over one interval
        mine, errors, reconnects, body = [], {}, 0, b""
        time.sleep(max(0.0, start - time.perf_counter()))
        while True:
            now = time.perf_counter()
            if interval:
                if next_at >= end:
                    break
                time.sleep(max(0.0, next_at - now))
                next_at += interval
            elif now >= end:
                break
            t = time.perf_counter()
            try:
                try:
                    status, data = _get(conn, path)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    conn.close()  # the server closed an idle keep-alive connection
                    reconnects += 1
                    status, data = _get(conn, path)
            except Exception as exc:  # noqa: BLE001 - counted as an error, not raised
                status, data = type(exc).__name__, b""
                conn.close()
            elapsed = time.perf_counter() - t
            if begin <= t < end:
                if status == 200:
                    mine.append(elapsed)
                    body = data
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        conn.close()
        with lock:
            out.latencies += mine
            out.reconnects += reconnects
            for key, n in errors.items():
                out.errors[key] = out.errors.get(key, 0) + n
            out.body = out.body or body

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for th in threads:
        th.start()
    time.sleep(max(0.0, begin - time.perf_counter()))
    cpu_before, t0 = (cpu() if cpu else 0.0), time.perf_counter()
    for th in threads:
        th.join()
    out.cpu = (cpu() - cpu_before) if cpu else 0.0
    out.window = time.perf_counter() - t0
    return out


def _stat(pid: int | str) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()  # fields from 3 (state) on


def session_cpu(sid: int) -> float:
    """User + system CPU seconds of the processes of session `sid` (a server and its workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (f := _stat(entry.name)) and int(f[3]) == sid:
            total += int(f[11]) + int(f[12])
    return total / os.sysconf("SC_CLK_TCK")


# --- servers ------------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    kind: str  # "atlas" | "datasette"
    command: list[str]  # "{port}" stands for the port
    env: dict | None
    probe: str
    backend: str
    port: int = 0
    pid: int = 0

    def args(self) -> list[str]:
        return [a.replace("{port}", str(self.port)) for a in self.command]


def atlas_target(label: str, env: dict, backend: str, workers: int, threads: int) -> Target:
    command = [
        str(ATLAS),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]
    return Target(label, "atlas", command, env, "/api/regions", backend)


def datasette_target(sqlite_file: Path) -> Target:
    command = [
        str(BIN / "datasette"),
        "serve",
        str(sqlite_file),
        "-h",
        "127.0.0.1",
        "-p",
        "{port}",
        *DATASETTE_SETTINGS,
    ]
    return Target(
        "datasette, uvicorn 1 process",
        "datasette",
        command,
        None,
        "/atlas/projects.json?_size=1",
        "SQLite",
    )


def run_all(
    targets: list[Target], all_cases: list[Case], modes, args, folder: Path
) -> tuple[dict, dict]:
    """Start every server, then per case and mode ask them one after the other."""
    results = {t.label: {} for t in targets}
    single = {}
    with ExitStack() as stack:
        for t in targets:
            t.port = free_port()
            proc, _ = stack.enter_context(
                serving(t.args(), t.port, folder / f"{t.port}.log", t.probe, env=t.env)
            )
            t.pid = proc.pid
            print(f"started {t.label} on port {t.port}", flush=True)
        for case in all_cases:
            for t in targets:
                path = case.atlas if t.kind == "atlas" else case.datasette
                single[(t.label, case.label)] = r = single_request_times(t.port, path)
                print(
                    f"  {case.label} | {t.label} | one at a time: p50 {ms(r['p50'])}, "
                    f"p95 {ms(r['p95'])}",
                    flush=True,
                )
            for mode, rate in modes:
                duration = args.duration * (2 if rate else 1)  # paced: enough samples
                for round_ in range(args.rounds):
                    for t in targets:
                        path = case.atlas if t.kind == "atlas" else case.datasette
                        o = load(
                            t.port,
                            path,
                            clients=args.clients,
                            duration=duration,
                            warmup=args.warmup,
                            rate_per_client=rate,
                            cpu=lambda t=t: session_cpu(t.pid),
                        )
                        r = summarise(o, t.kind)
                        print(
                            f"  {case.label} | {t.label} | {mode}, round {round_ + 1}: "
                            + (
                                f"p50 {ms(r['p50'])}, p95 {ms(r['p95'])}, p99 {ms(r['p99'])}, "
                                f"{r['rps']:.0f} req/s, {r['n']} requests, CPU "
                                f"{r['cpu_ms']:.1f} ms/request, {r['matches']} matches, "
                                f"{r['returned']} returned, {r['kb']:.0f} KB"
                                if r["n"]
                                else "no answers"
                            )
                            + (f", errors {r['errors']}" if r["errors"] else "")
                            + (f", reconnects {r['reconnects']}" if r["reconnects"] else ""),
                            flush=True,
                        )
                        # best of the rounds: a burst of the machine's other jobs hits one only
                        best = results[t.label].get((case.label, mode))
                        if (
                            best is None
                            or (r["n"] and not best["n"])
                            or (r["n"] and r["p95"] < best["p95"])
                        ):
                            results[t.label][(case.label, mode)] = r
    return results, single


def single_request_times(port: int, path: str, repeat: int = 20) -> dict:
    """One client, one keep-alive connection, one request at a time: the service time."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    status, body = _get(conn, path)  # warm-up
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        status, _ = _get(conn, path)
        times.append(time.perf_counter() - t)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
    conn.close()
    return percentiles(times, (50, 95))


def summarise(o: Outcome, kind: str) -> dict:
    n = len(o.latencies)
    r = {
        "n": n,
        "errors": o.errors,
        "reconnects": o.reconnects,
        "kb": len(o.body) / 1024,
        "rps": n / o.window if o.window else 0.0,
        "cpu_ms": 1000 * o.cpu / n if n else 0.0,
        "matches": "?",
        "returned": "?",
    }
    r.update(percentiles(o.latencies) if n else dict.fromkeys(("p50", "p95", "p99"), float("nan")))
    if o.body:
        data = json.loads(o.body)
        if kind == "atlas":
            r["matches"], r["returned"] = data["total"], len(data["features"])
        else:
            r["matches"], r["returned"] = data.get("filtered_table_rows_count"), len(data["rows"])
    return r


# --- setup and profile --------------------------------------------------------------------------


def fill(env: dict, count: int, seed: int) -> float:
    t = time.perf_counter()
    run_atlas(["demo-data", "--count", str(count), "--seed", str(seed)], env, timeout=1800)
    return time.perf_counter() - t


def check_sqlite(path: Path, count: int) -> None:
    with sqlite3.connect(path) as conn:
        n = conn.execute("SELECT count(*) FROM projects WHERE status = 'published'").fetchone()[0]
    if n < count:
        raise RuntimeError(f"{path} holds {n} published projects, expected {count}")


def profile_in_process(env: dict, paths: list[str], repeat: int = 20) -> str:
    """cProfile of the atlas's API in-process (Flask test client) against a filled store."""
    saved = dict(os.environ)
    os.environ.pop("ATLAS_DATABASE_URL", None)
    os.environ.update({k: v for k, v in env.items() if k.startswith("ATLAS_")})
    try:
        from atlas.web.app import create_app

        app = create_app()
        client = app.test_client()
        out = io.StringIO()
        for path in paths:
            client.get(path)
            times = []
            profiler = cProfile.Profile()
            for _ in range(repeat):
                t = time.perf_counter()
                profiler.enable()
                assert client.get(path).status_code == 200
                profiler.disable()
                times.append(time.perf_counter() - t)
            out.write(
                f"\n### {path}: median {ms(float(np.median(times)))} per request "
                f"in-process (profiled, {repeat} runs)\n"
            )
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(15)
        app.extensions["atlas.store"].engine.dispose()
        return out.getvalue()
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --- report -------------------------------------------------------------------------------------


def _ratio(base: dict | None, r: dict, q: str) -> float | None:
    if not base or not r["n"] or not base["n"]:
        return None
    return base[q] / r[q]


def section(
    results: dict,
    all_cases: list[Case],
    targets: list[Target],
    modes,
    info: dict,
    args,
    fill_times: dict,
    single: dict,
    load_before: str,
    load_after: str,
) -> str:
    ds = next(t for t in targets if t.kind == "datasette")
    lines = [
        HEADING,
        "",
        f"`benchmarks/bench_api_load.py`, run on {date.today().isoformat()} with `{args.command}`.",
        "",
        f"{args.count:,} synthetic projects (`atlas demo-data --count {args.count} --seed "
        f"{args.seed}`, points spread by district population) in a fresh SQLite file"
        + (
            " and in a PostgreSQL/PostGIS database of the benchmark's own"
            if "PostgreSQL" in fill_times
            else ""
        )
        + " (filling: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in fill_times.items())
        + "). "
        "All servers run at once on 127.0.0.1 and each scenario asks them one after the other: "
        + "; ".join(t.label for t in targets)
        + ". Datasette serves the same SQLite file "
        "(`" + " ".join(DATASETTE_SETTINGS) + "`); it only reads SQLite, so it is also the "
        "comparison for the PostgreSQL rows.",
        "",
        f"Load: {args.clients} client threads in one process on the same machine, each with its "
        f"own keep-alive connection; per scenario {args.warmup:g} s warm-up, then a timed window "
        f"whose requests are timed to the last byte (client wall time). **Saturation** "
        f"({args.duration:g} s): every client sends its next request when its answer is in, "
        f"so {args.clients} requests are always in flight and latency is queueing + service "
        f"(by Little's law p50 ≈ {args.clients} ÷ throughput). **Paced** "
        f"({2 * args.duration:g} s): every client sends one request every "
        f"{1 / args.rate:g} s ({args.clients * args.rate:g} requests/s offered, 50 people "
        f"searching at once); a server that keeps up answers at its service time. Each "
        f"scenario runs {args.rounds} round(s), the servers interleaved, and the round with the "
        f"lower p95 is shown (a burst of the machine's other jobs then spoils only one). "
        f'"CPU/req" is the CPU time of the server\'s own processes per answered request '
        f"(PostgreSQL's backends are not included: the cluster is shared with other jobs' "
        f"tests); the client threads use the same 2 cores.",
        "",
        "Comparable filters: bbox `" + ",".join(map(str, HANNOVER_BBOX)) + "` for the atlas, "
        "`lon__gte/lon__lte/lat__gte/lat__lte` on the same box for datasette, both published "
        "only, 100 rows plus the total count, ordered by name. Datasette has no radius search: "
        "for `near` it gets the bounding box of the radius circle, the closest filter it can "
        "run (a superset of the circle, so more matches, in primary-key order, no distances); "
        "the atlas answers the real question (the geodesic circle, nearest first, with "
        "distances).",
        "",
        f"Machine: {machine_line(info)}. Load average before / after: {load_before} / "
        f"{load_after}. The machine is shared with other jobs (2 cores); the load generator runs "
        f"on the same cores as the servers. Figures are noisy: compare rows of one run.",
        "",
    ]
    lines += goals(results, all_cases, targets, modes, ds, args) + [""]
    for mode, _ in modes:
        lines += [
            f"### {mode.capitalize()}",
            "",
            "| request | server | p50 | p95 | p99 | req/s | CPU/req | matches (rows), size "
            "| datasette ÷ atlas: p50 / p95 / p99 |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for case in all_cases:
            base = results[ds.label].get((case.label, mode))
            for t in targets:
                r = results[t.label].get((case.label, mode))
                if r is None:
                    continue
                ratios = [_ratio(base, r, q) for q in ("p50", "p95", "p99")]
                ratio = (
                    ""
                    if t.kind == "datasette" or None in ratios
                    else " / ".join(f"{x:.2f}×" for x in ratios)
                )
                notes = f"; errors {r['errors']}" if r["errors"] else ""
                lines.append(
                    f"| {case.label} | {t.label} | {ms(r['p50'])} | {ms(r['p95'])} | "
                    f"{ms(r['p99'])} | {r['rps']:.0f} | {r['cpu_ms']:.1f} ms | "
                    f"{r['matches']:,} ({r['returned']}), {r['kb']:.0f} KB{notes} | {ratio} |"
                    if r["n"]
                    else f"| {case.label} | {t.label} | no answers{notes} | | | | | | |"
                )
        lines.append("")
    lines += [
        "### One request at a time (service time)",
        "",
        "20 requests after one warm-up, one keep-alive connection, on the same servers "
        "before the load.",
        "",
        "| request | server | p50 | p95 | datasette ÷ atlas, p50 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for case in all_cases:
        base = single.get((ds.label, case.label))
        for t in targets:
            r = single.get((t.label, case.label))
            if r:
                ratio = "" if t.kind == "datasette" else f"{base['p50'] / r['p50']:.2f}×"
                lines.append(
                    f"| {case.label} | {t.label} | {ms(r['p50'])} | {ms(r['p95'])} | {ratio} |"
                )
    lines.append("")
    return "\n".join(lines)


def goals(results, all_cases, targets, modes, ds, args) -> list[str]:
    out = []
    below, total, worst = 0, 0, None
    for t in targets:
        if t.kind == "datasette":
            continue
        for case in all_cases:
            for mode, _ in modes:
                r, base = (
                    results[t.label].get((case.label, mode)),
                    results[ds.label].get((case.label, mode)),
                )
                for q in ("p50", "p95", "p99"):
                    ratio = _ratio(base, r, q) if r else None
                    if ratio is None:
                        continue
                    total += 1
                    below += ratio < 1
                    if worst is None or ratio < worst[0]:
                        worst = (ratio, t.label, case.label, mode, q)
    if worst:
        out.append(
            f'**Goal "every ratio at least 1 in our favour": '
            f"{'met' if not below else 'NOT met'}** ({total - below} of {total} "
            f"datasette ÷ atlas ratios ≥ 1; lowest {worst[0]:.2f}×: {worst[1]}, "
            f"{worst[2]}, {worst[3]}, {worst[4]})."
        )
    for mode, _ in modes:
        rows = [
            (results[t.label][(c.label, mode)]["p95"], t.label, c.label)
            for t in targets
            if t.kind == "atlas"
            for c in all_cases
            if c.label.startswith("near")
            and (c.label, mode) in results[t.label]
            and results[t.label][(c.label, mode)]["n"]
        ]
        if rows:
            ok = [x for x in rows if x[0] < GOAL_P95_S]
            out.append(
                f'**Goal "nearby p95 under {GOAL_P95_S * 1000:.0f} ms at 100k", '
                f"{mode}: {'met' if len(ok) == len(rows) else 'NOT met'}** "
                f"({len(ok)} of {len(rows)} atlas rows; best {ms(min(rows)[0])}: "
                f"{min(rows)[1]}, {min(rows)[2]}; worst {ms(max(rows)[0])}: "
                f"{max(rows)[1]}, {max(rows)[2]})."
            )
    return [" ".join(out)] if out else []


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--duration",
        type=float,
        default=15.0,
        help="timed seconds per saturation scenario (paced: twice that)",
    )
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--rate", type=float, default=0.4, help="requests per second per client in the paced mode"
    )
    parser.add_argument("--modes", default="saturation,paced")
    parser.add_argument("--cases", default="bbox,near10,near25")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="rounds per scenario; the one with the lower p95 is reported",
    )
    parser.add_argument(
        "--servers",
        default="atlas-2w,atlas-1w,datasette",
        help="atlas-2w (gunicorn, 2 workers), atlas-1w (waitress), datasette",
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per atlas process")
    parser.add_argument(
        "--postgres",
        help="SQLAlchemy URL of a PostgreSQL database of its own "
        "(default: atlas_bench on ATLAS_TEST_DATABASE_URL's "
        "server, if set)",
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the atlas's requests in-process and print the hot spots",
    )
    parser.add_argument("--no-doc", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args()
    args.command = ".venv/bin/python benchmarks/bench_api_load.py" + "".join(
        f" {a}" for a in sys.argv[1:] if a not in ("--no-doc", "--profile")
    )
    pg = None if args.no_postgres else postgres_url(args.postgres, "atlas_bench")
    info = machine(
        "Flask",
        "SQLAlchemy",
        "waitress",
        "gunicorn",
        "datasette",
        "uvicorn",
        "psycopg",
        "GeoAlchemy2",
        "numpy",
        "pyproj",
    )
    if pg:
        reset_postgres(pg)
        info["PostgreSQL"] = postgres_version(pg)
    load_before = load_average()
    for k, v in info.items():
        print(f"{k}: {v}")
    modes = [(m, {"saturation": None, "paced": args.rate}[m]) for m in args.modes.split(",")]
    wanted = args.servers.split(",")
    all_cases = [c for c in cases() if c.key in args.cases.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-api-load-") as tmp:
        folder = Path(tmp)
        sqlite_file = folder / "sqlite" / "atlas.sqlite3"
        backends = [("SQLite", bench_env(folder / "sqlite"))]
        if pg:
            backends.append(("PostgreSQL", bench_env(folder / "postgres", pg)))
        else:
            print(
                "PostgreSQL skipped: give --postgres URL or run "
                '`eval "$(scripts/pg_test_cluster.sh)"` first'
            )
        fill_times = {}
        for label, env in backends:
            fill_times[label] = fill(env, args.count, args.seed)
            print(f"{label}: {args.count:,} projects in {fill_times[label]:.1f} s", flush=True)
        check_sqlite(sqlite_file, args.count)
        targets = []
        for label, env in backends:
            if "atlas-2w" in wanted:
                targets.append(
                    atlas_target(
                        f"atlas {label}, gunicorn 2 workers × {args.threads} threads",
                        env,
                        label,
                        2,
                        args.threads,
                    )
                )
            if "atlas-1w" in wanted:
                targets.append(
                    atlas_target(
                        f"atlas {label}, waitress 1 process × {args.threads} threads",
                        env,
                        label,
                        1,
                        args.threads,
                    )
                )
        targets.append(datasette_target(sqlite_file))
        results, single = run_all(targets, all_cases, modes, args, folder)
        if args.profile:
            for label, env in backends:
                print(f"\n## profile, {label}")
                print(profile_in_process(env, [c.atlas for c in all_cases]))
    text = section(
        results,
        all_cases,
        targets,
        modes,
        info,
        args,
        fill_times,
        single,
        load_before,
        load_average(),
    )
    print("\n" + text)
    if not args.no_doc:
        write_section(HEADING, text)
        print("wrote benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
