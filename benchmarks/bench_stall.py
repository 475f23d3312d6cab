"""Benchmark the stall of issue 14: can one client's downloads stall the server for everyone else?

At `--count` synthetic projects (`atlas demo-data`, default 100,000), `--downloads` clients (16)
download `/regionen/weser-ems/projekte.geojson` at once, `--rounds` times each in a row (1),
starting with the server cold (no download built yet); meanwhile one client sends a steady stream
of one-project API calls (`/api/projects/<id>`, a random published id, one every 20 ms after the
answer) until the downloads are done and at least `--seconds` (10) have passed. Reported: the
API calls' p50/p95/p99/max, the downloads done and their median time, and
the server's resident memory before and at its peak (VmRSS from /proc, sampled every 50 ms, the
server process and its children). The issue's goals: API p95 under 200 ms, memory under 1 GB.

Rate limits are off (as for 16 different clients); the server is `atlas serve` (waitress, 8
threads). With `--baseline REF` the same run is made with the atlas of git commit REF (its package
extracted with `git archive`, as in bench_import.py): the comparison before the change. Client
and server share the machine's cores.

Run: `.venv/bin/python benchmarks/bench_stall.py [--count 100000] [--seconds 10] [--rounds 1]
[--baseline REF]`; PostgreSQL with `--postgres URL` (or ATLAS_TEST_DATABASE_URL's server, database
`atlas_bench_stall`). Writes the section "## Stall (issue 14)" of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import old_atlas  # noqa: E402
from common import (  # noqa: E402
    ATLAS,
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

HEADING = "## Stall (issue 14)"
DOWNLOAD = "/regionen/weser-ems/projekte.geojson"
PROBE = "/api/regions"


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn's workers), from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def published_ids(url: str, n: int = 2000) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ids = conn.execute(
                text("SELECT id FROM projects WHERE status = 'published' ORDER BY id")
            ).scalars()
            ids = list(ids)
    finally:
        engine.dispose()
    random.Random(SEED).shuffle(ids)
    return ids[:n]


def run_once(command: list[str], env: dict, ids: list[str], args, log: Path) -> dict:
    port = free_port()
    serve = command + ["serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "8"]
    with serving(serve, port, log, PROBE, env, timeout=120) as (proc, base):
        time.sleep(1)
        idle = rss_bytes(proc.pid)
        stop = threading.Event()
        peak = [idle]

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_bytes(proc.pid))
                time.sleep(0.05)

        downloads: list[float] = []
        sizes: list[int] = []
        errors: list[str] = []

        def download():
            for _ in range(args.rounds):
                t = time.perf_counter()
                try:
                    with urllib.request.urlopen(base + DOWNLOAD, timeout=300) as r:
                        size = 0
                        while chunk := r.read(1 << 20):
                            size += len(chunk)
                    downloads.append(time.perf_counter() - t)
                    sizes.append(size)
                except OSError as exc:
                    errors.append(f"download: {exc}")
                    return

        api: list[float] = []

        def calls():
            pick = random.Random(SEED)
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    with urllib.request.urlopen(
                        f"{base}/api/projects/{pick.choice(ids)}", timeout=300
                    ) as r:
                        r.read()
                    api.append(time.perf_counter() - t)
                except OSError as exc:
                    errors.append(f"api: {exc}")
                time.sleep(0.02)

        workers = [threading.Thread(target=sample), threading.Thread(target=calls)]
        loaders = [threading.Thread(target=download) for _ in range(args.downloads)]
        start = time.perf_counter()
        for w in workers + loaders:
            w.start()
        for w in loaders:
            w.join()
        all_done = time.perf_counter() - start
        time.sleep(max(0.0, args.seconds - all_done))
        stop.set()
        for w in workers:
            w.join()
    return {
        "api": percentiles(api),
        "api_max": max(api) if api else float("nan"),
        "api_n": len(api),
        "downloads": len(downloads),
        "download_p50": percentiles(downloads)["p50"] if downloads else float("nan"),
        "all_done": all_done,
        "size": sizes[0] if sizes else 0,
        "idle": idle,
        "peak": peak[0],
        "errors": errors[:3],
    }


def mb(value: int) -> str:
    return f"{value / 1024**2:,.0f} MB"


def row(label: str, code: str, r: dict) -> str:
    met = r["api"]["p95"] < 0.2 and r["peak"] < 1024**3
    return (
        f"| {label} | {code} | {r['api_n']} | {ms(r['api']['p50'])} | **{ms(r['api']['p95'])}** | "
        f"{ms(r['api']['p99'])} | {ms(r['api_max'])} | {r['downloads']} × "
        f"{r['size'] / 1024**2:.1f} MB, median {r['download_p50']:.2f} s, all in "
        f"{r['all_done']:.1f} s | "
        f"{mb(r['idle'])} → **{mb(r['peak'])}** | {'met' if met else 'not met'}"
        f"{'; errors: ' + '; '.join(r['errors']) if r['errors'] else ''} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument(
        "--seconds", type=float, default=10, help="API calls for at least this long"
    )
    parser.add_argument("--downloads", type=int, default=16, help="parallel download clients")
    parser.add_argument("--rounds", type=int, default=1, help="downloads per client, in a row")
    parser.add_argument("--baseline", metavar="REF", help="also run the atlas of git commit REF")
    parser.add_argument("--postgres", help="SQLAlchemy URL of a PostgreSQL database of its own")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--no-sqlite", action="store_true", help="PostgreSQL only (a section of its own)"
    )
    parser.add_argument("--no-doc", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args()
    pg = None if args.no_postgres else postgres_url(args.postgres, "atlas_bench_stall")
    info = machine("Flask", "SQLAlchemy", "waitress", "psycopg")
    if pg:
        try:
            reset_postgres(pg)
            info["PostgreSQL"] = postgres_version(pg)
        except Exception as exc:  # noqa: BLE001 - a missing server skips PostgreSQL
            print(f"PostgreSQL skipped: {exc}")
            pg = None
    load = load_average()
    print(machine_line(info))
    lines = []
    with tempfile.TemporaryDirectory(prefix="bench-stall-") as tmp:
        folder = Path(tmp)
        backends = []
        if not args.no_sqlite:
            backends.append(("SQLite", bench_env(folder / "instance", None)))
        if pg:
            backends.append(("PostgreSQL", bench_env(folder / "instance-pg", pg)))
        old = old_atlas(args.baseline, folder) if args.baseline else None
        for label, env in backends:
            t = time.perf_counter()
            run_atlas(["demo-data", "--count", str(args.count), "--seed", "0"], env)
            print(
                f"{label}: {args.count:,} projects in {time.perf_counter() - t:.0f} s", flush=True
            )
            from tests.support.live_server import database_url

            ids = published_ids(database_url(env))
            runs = [("this change", [str(ATLAS)])]
            if old:
                runs.insert(0, (f"before (`{args.baseline}`)", old))
            for code, command in runs:
                r = run_once(command, env, ids, args, folder / f"serve-{label}-{len(lines)}.log")
                lines.append(row(label, code, r))
                print(lines[-1], flush=True)
    command = (
        ".venv/bin/python benchmarks/bench_stall.py"
        + (f" --count {args.count}" if args.count != 100_000 else "")
        + (f" --seconds {args.seconds:g}" if args.seconds != 10 else "")
        + (f" --rounds {args.rounds}" if args.rounds != 1 else "")
        + (" --no-sqlite" if args.no_sqlite else "")
        + (f" --baseline {args.baseline}" if args.baseline else "")
    )
    heading = HEADING + (f", {args.rounds} downloads per client" if args.rounds != 1 else "")
    heading += ", PostgreSQL only" if args.no_sqlite else ""
    text = (
        f"{heading}\n\n"
        f"`{command}` ({time.strftime('%Y-%m-%d')}): {args.count:,} synthetic projects; "
        f"{args.downloads} clients download `{DOWNLOAD}` at once, {args.rounds} time(s) each in a "
        "row, from a cold start (the first request builds it), while one client calls "
        "`/api/projects/<id>` (random published id, 20 ms pause after each answer) until the "
        f"downloads are done and at least {args.seconds:g} s have passed. `atlas serve`, 8 "
        "threads, rate limits off; memory is "
        "the server's VmRSS (idle → peak). Goals (issue 14): API p95 under 200 ms, memory "
        "under 1 GB.\n\n"
        f"Machine: {machine_line(info)}; load before the run {load}. Client and server share "
        "the cores.\n\n"
        "| database | code | API calls | p50 | p95 | p99 | max | downloads | server memory | "
        "goals |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(lines) + "\n"
    )
    print("\n" + text)
    if not args.no_doc:
        write_section(heading, text)


if __name__ == "__main__":
    main()
