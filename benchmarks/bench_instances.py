"""Benchmark (issue 20): `/api/projects` throughput with 1, 2 and 4 atlas processes on one
PostgreSQL/PostGIS database holding 100,000 synthetic projects, in the same run.

Setup: `atlas demo-data --count 100000` (synthetic, flagged) fills a PostgreSQL database of the
benchmark's own (atlas_bench_instances on ATLAS_TEST_DATABASE_URL's server, or --postgres).
Three servers run at once on 127.0.0.1: `atlas serve` with 1 process (waitress), and with 2
and 4 worker processes (gunicorn gthread), each with --threads threads per process; every
scenario asks them one after the other, so a change in the (shared) machine's load hits all
alike. Load: closed loop (saturation) from --clients client threads with keep-alive
connections, on the same cores as the servers and the database (bench_api_load.load).
Writes the section "## Several processes on PostgreSQL" of benchmarks/RESULTS.md.

Run: `eval "$(scripts/pg_test_cluster.sh)"`, then
`.venv/bin/python benchmarks/bench_instances.py [--duration 10] [--no-doc]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api_load import atlas_target, cases, fill, run_all  # noqa: E402
from common import (  # noqa: E402
    SEED,
    bench_env,
    load_average,
    machine,
    machine_line,
    ms,
    postgres_url,
    postgres_version,
    reset_postgres,
    write_section,
)

HEADING = "## Several processes on PostgreSQL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--cases", default="bbox,near10")
    parser.add_argument("--postgres", help="SQLAlchemy URL of a PostgreSQL database of its own")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    pg = postgres_url(args.postgres, "atlas_bench_instances")
    if not pg:
        raise SystemExit('needs PostgreSQL: eval "$(scripts/pg_test_cluster.sh)" or --postgres')
    reset_postgres(pg)
    info = machine("Flask", "SQLAlchemy", "waitress", "gunicorn", "psycopg", "GeoAlchemy2")
    info["PostgreSQL"] = postgres_version(pg)
    before = load_average()
    processes = [int(p) for p in args.processes.split(",")]
    wanted = [c for c in cases() if c.key in args.cases.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-instances-") as tmp:
        folder = Path(tmp)
        env = bench_env(folder / "instance", pg)
        seconds = fill(env, args.count, args.seed)
        print(f"PostgreSQL: {args.count:,} projects in {seconds:.1f} s", flush=True)
        targets = [
            atlas_target(
                f"{n} process{'es' if n > 1 else ''} × {args.threads} threads "
                f"({'gunicorn' if n > 1 else 'waitress'})",
                env,
                "PostgreSQL",
                n,
                args.threads,
            )
            for n in processes
        ]
        options = SimpleNamespace(
            duration=args.duration, rounds=1, clients=args.clients, warmup=args.warmup
        )
        results, _single = run_all(targets, wanted, [("saturation", None)], options, folder)
    after = load_average()
    lines = [
        HEADING,
        "",
        f"`{' '.join(['.venv/bin/python benchmarks/bench_instances.py', *sys.argv[1:]])}`, "
        f"{date.today().isoformat()}. {args.count:,} synthetic projects (`atlas demo-data`, "
        f"filled in {seconds:.0f} s) in one PostgreSQL database; `atlas serve` with "
        f"{', '.join(map(str, processes))} processes running at once on 127.0.0.1, rate limits "
        f"off; {args.clients} client threads in a closed loop for {args.duration:.0f} s per "
        "scenario, on the same 2 cores as the servers and PostgreSQL.",
        "",
        "| request | server | requests/s | p50 | p95 | p99 | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in wanted:
        for t in targets:
            r = results[t.label].get((case.label, "saturation"))
            if not r:
                continue
            errors = ", ".join(f"{n}× {k}" for k, n in r["errors"].items()) or "0"
            if not r["n"]:
                lines.append(
                    f"| {case.label} | {t.label} | 0 | no answer within the window | | | {errors} |"
                )
                continue
            lines.append(
                f"| {case.label} | {t.label} | {r['rps']:.0f} | {ms(r['p50'])} | "
                f"{ms(r['p95'])} | {ms(r['p99'])} | {errors} |"
            )
    lines += [
        "",
        f"Machine: {machine_line(info)}. Load average before / after: {before} / {after}.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_doc:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
