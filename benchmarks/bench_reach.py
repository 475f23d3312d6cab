"""Benchmark issue 22's new answers at 10,000 and 100,000 synthetic projects (SQLite), in process
with Flask's test client (no HTTP, no network): the handout PDF against the listing page of the
same filters, the Atom feed against the listing, and an empty nearby search with and without the
unmet-demand counter (one upsert per search).

Run: `.venv/bin/python benchmarks/bench_reach.py [--sizes 10000 100000] [--no-doc]`; writes the
section "## Reaching people: handout, feed, unmet demand" of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import SEED, machine, machine_line, ms, percentiles, write_section

from atlas.core import demand
from atlas.core.demo import synthetic_projects
from atlas.web.app import create_app
from atlas.web.extensions import get_store

HEADING = "## Reaching people: handout, feed, unmet demand"
CASES = {
    "district Celle": "district=03351",
    "region Lüneburg": "region=lueneburg",
    "near 30169 Hannover, 10 km": "near=30169+Hannover&radius_km=10",
}
EMPTY = "near=27472+Cuxhaven&radius_km=5&q=nirgendwo"


def timed(client, url: str, n: int) -> tuple[dict, int]:
    client.get(url)  # warm-up
    times, size = [], 0
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
        size = len(response.data)
    return percentiles(times, (50, 95)), size


def run(size: int) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as folder:
        os.environ["ATLAS_INSTANCE_PATH"] = str(Path(folder) / "instance")
        os.environ.pop("ATLAS_DATABASE_URL", None)
        app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False, "TILES": "none"})
        store = get_store(app)
        store.create_schema()
        store.save_all(synthetic_projects(size, seed=SEED))
        client = app.test_client()
        row = {}
        for label, query in CASES.items():
            pdf, pdf_bytes = timed(client, f"/projekte/aushang.pdf?{query}", 5)
            page, _ = timed(client, f"/projekte?{query}", 10)
            feed, feed_bytes = timed(client, f"/projekte.atom?{query}", 10)
            row[f"handout PDF, {label}: p50 / p95; bytes"] = (
                f"{ms(pdf['p50'])} / {ms(pdf['p95'])}; {pdf_bytes / 1024:.0f} KB"
            )
            row[f"listing page, {label}: p50 / p95"] = f"{ms(page['p50'])} / {ms(page['p95'])}"
            row[f"Atom feed (50 newest), {label}: p50 / p95; bytes"] = (
                f"{ms(feed['p50'])} / {ms(feed['p95'])}; {feed_bytes / 1024:.0f} KB"
            )
        counted, _ = timed(client, f"/api/projects?{EMPTY}", 30)
        original = demand.record
        demand.record = lambda *a, **k: False
        try:
            uncounted, _ = timed(client, f"/api/projects?{EMPTY}", 30)
        finally:
            demand.record = original
        row["empty nearby search `/api/projects`, counted: p50 / p95"] = (
            f"{ms(counted['p50'])} / {ms(counted['p95'])}"
        )
        row["the same, counter switched off: p50 / p95"] = (
            f"{ms(uncounted['p50'])} / {ms(uncounted['p95'])}"
        )
        return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    results = {size: run(size) for size in args.sizes}
    keys = list(next(iter(results.values())))
    lines = [
        HEADING,
        "",
        f"`benchmarks/bench_reach.py`, run on {time.strftime('%Y-%m-%d')}: a fresh SQLite store "
        f"per size with `synthetic_projects(n, seed={SEED})`, asked in process through Flask's "
        "test client, one request at a time after a warm-up (handout n=5, pages n=10, "
        "searches n=30). The handout is compared with the listing page of the same filters "
        "(what a visitor would otherwise print); the counter with the same search without it.",
        "",
        "Machine: " + machine_line(machine("flask", "weasyprint", "segno", "feedgen")) + ".",
        "",
        "| | " + " | ".join(f"{s:,} projects" for s in args.sizes) + " |",
        "| --- |" + " --- |" * len(args.sizes),
    ]
    lines += [f"| {k} | " + " | ".join(results[s][k] for s in args.sizes) + " |" for k in keys]
    text = "\n".join(lines)
    print(text)
    if not args.no_doc:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
