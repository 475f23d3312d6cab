"""Benchmark `atlas import` of 10,000 CSV rows that need offline geocoding, SQLite and PostgreSQL.

The CSV is synthetic (ids `synthetic-import-…`, "(synthetisch)" in every name, organisation
"Synthetische Testdaten", synthetic=true) and has no lat/lon: every row carries an address made of
real postcodes and place names from the atlas's gazetteer (street + postcode + place, postcode +
place, postcode alone, or an unambiguous place name alone), so each row is geocoded offline,
its postcode checked, its point located in a district, and the lot saved in one transaction.

Timed: `atlas import FILE` as a subprocess, end to end (interpreter start, imports, gazetteer and
boundaries loaded, validation, geocoding, saving), into a freshly migrated empty store; then the
same file again into the now full store (every row compared with what is stored: 0 added).
With `--baseline REF` the same is timed with the atlas of git commit REF (its package extracted
by `git archive`): the anchor, e.g. 70ee7f1, the last commit before the import speed-up.
Writes the section "## Import" of benchmarks/RESULTS.md.

Run: `.venv/bin/python benchmarks/bench_import.py [--rows 10000] [--repeat 3] [--baseline REF]
[--profile]`;
PostgreSQL with `--postgres URL`, or `eval "$(scripts/pg_test_cluster.sh)"` first (then the
database `atlas_bench` on that server is used; it is created and its atlas tables replaced).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import pstats
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    SEED,
    bench_env,
    load_average,
    machine,
    machine_line,
    postgres_url,
    postgres_version,
    reset_postgres,
    run_atlas,
    write_section,
)

from atlas.core.fields import FIELDS  # noqa: E402
from atlas.geo.geocoding import gazetteer, resolve_offline  # noqa: E402

HEADING = "## Import"
GOAL_S = 10.0
#: The browser import of the same rows as .xlsx (issue 18): preview, then the import.
BROWSER_PREVIEW_S, BROWSER_IMPORT_S = 10.0, 5.0
STREETS = [
    "Hauptstraße",
    "Bahnhofstraße",
    "Schulstraße",
    "Kirchweg",
    "Am Markt",
    "Lindenallee",
    "Gartenstraße",
    "Bergstraße",
    "Mühlenweg",
    "Ringstraße",
]
COLUMNS = [
    "id",
    "name",
    "organisation",
    "description",
    "fields",
    "tags",
    "street",
    "postcode",
    "city",
    "website",
    "synthetic",
]


def _locations() -> tuple[list[tuple[str, str]], list[str]]:
    """(postcode, place) pairs and bare place names that the offline geocoder answers with "ok"."""
    g = gazetteer()
    pairs = []
    for code, record in sorted(g.postcodes.items()):
        for place in record["places"]:
            if resolve_offline(f"{code} {place['name']}")["status"] == "ok":
                pairs.append((code, place["name"]))
    names = sorted({e.name for e in g.entities if e.kind == "municipality"})
    unique = [n for n in names if resolve_offline(n)["status"] == "ok"]
    return pairs, unique


def make_csv(rows: int, seed: int = SEED) -> tuple[str, dict]:
    """The CSV text and what it holds (row kinds, distinct geocoder queries)."""
    rng = np.random.default_rng(seed)
    pairs, places = _locations()
    slugs = list(FIELDS)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    kinds = rng.choice(4, size=rows, p=[0.4, 0.3, 0.2, 0.1])
    queries = set()
    for i in range(rows):
        postcode, city = pairs[rng.integers(len(pairs))]
        street = None
        if kinds[i] == 0:  # street, postcode and place: a full address
            street = f"{STREETS[rng.integers(len(STREETS))]} {rng.integers(1, 120)}"
        elif kinds[i] == 2:  # postcode alone
            city = None
        elif kinds[i] == 3:  # a place name alone, one that is not ambiguous
            postcode, city = None, places[rng.integers(len(places))]
        fields = list(dict.fromkeys(rng.choice(slugs, size=1 + (rng.random() < 0.3))))
        writer.writerow(
            {
                "id": f"synthetic-import-{i:05d}",
                "name": f"Importtest {i + 1} (synthetisch)",
                "organisation": "Synthetische Testdaten",
                "description": "Synthetischer Eintrag für die Importmessung, kein echtes Projekt.",
                "fields": ";".join(fields),
                "tags": "synthetisch",
                "street": street or "",
                "postcode": postcode or "",
                "city": city or "",
                "website": f"https://example.org/synthetisch/{i}" if rng.random() < 0.5 else "",
                "synthetic": "true",
            }
        )
        queries.add(", ".join(filter(None, [street, " ".join(filter(None, [postcode, city]))])))
    counts = {
        "full address": int((kinds == 0).sum()),
        "postcode + place": int((kinds == 1).sum()),
        "postcode only": int((kinds == 2).sum()),
        "place only": int((kinds == 3).sum()),
        "distinct queries": len(queries),
        "postcode/place pairs": len(pairs),
        "unambiguous places": len(places),
    }
    return out.getvalue(), counts


def time_import(path: Path, env: dict, atlas: list[str] | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    done = run_atlas(["import", str(path)], env, command=atlas)
    return time.perf_counter() - t, done.stdout.strip().splitlines()[-1]


def old_atlas(ref: str, folder: Path) -> list[str]:
    """A command that runs `atlas` as of git commit `ref` (its package extracted with
    `git archive`, data and templates of this checkout): the anchor before a speed-up."""
    dest = folder / f"atlas-{ref}"
    dest.mkdir()
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "atlas"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(dest, filter="data")
    for name in ("data", "templates"):
        (dest / name).symlink_to(ROOT / name)
    return [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {str(dest)!r}); from atlas.cli import main; main()",
    ]


def bench_backend(
    label: str, csv_path: Path, env: dict, repeat: int, reset, atlas: list[str] | None = None
) -> dict:
    """`repeat` imports into an empty store (reset before each), then one into the full store."""
    fresh, message = [], ""
    for _ in range(repeat):
        reset()
        run_atlas(["migrate"], env, command=atlas)
        seconds, message = time_import(csv_path, env, atlas)
        fresh.append(seconds)
        print(f"  {label}, empty store: {seconds:.2f} s — {message}", flush=True)
    again, again_message = time_import(csv_path, env, atlas)
    print(f"  {label}, again into the full store: {again:.2f} s — {again_message}", flush=True)
    return {"fresh": fresh, "message": message, "again": again, "again_message": again_message}


def baseline(env: dict) -> float:
    """`atlas --help`: interpreter and CLI start alone, the floor of any `atlas` command."""
    times = []
    for _ in range(3):
        t = time.perf_counter()
        run_atlas(["--help"], env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def in_process(csv_text: str, url: str, profile: bool = False) -> tuple[dict, str]:
    """The phases of `atlas import` timed in one warm process (gazetteer and boundaries loaded),
    optionally under cProfile; the store at url must be empty."""
    from atlas.core import importing
    from atlas.geo.geocoding import resolve
    from atlas.store import Store

    store = Store(url)
    store.create_schema()
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    t0 = time.perf_counter()
    sheet = importing.read_file(csv_text.encode(), "bench.csv")
    rows = sheet.rows
    t1 = time.perf_counter()
    planned = importing.plan(rows, geocode=resolve)
    errors = [p for p in planned if p.status != importing.OK]
    t2 = time.perf_counter()
    counts = importing.apply(
        store, planned, file_name="bench.csv", sheet=None, region=None, actor="bench"
    ).counts
    t3 = time.perf_counter()
    if profiler:
        profiler.disable()
    store.engine.dispose()
    if errors or counts["added"] != len(rows):
        raise RuntimeError(f"in-process import: {counts}, {len(errors)} errors")
    phases = {"read": t1 - t0, "clean": t2 - t1, "save": t3 - t2}
    if not profiler:
        return phases, ""
    out = io.StringIO()
    out.write(
        f"in-process, profiled: read {phases['read']:.2f} s, clean (geocode, locate) "
        f"{phases['clean']:.2f} s, save {phases['save']:.2f} s\n"
    )
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)
    return phases, out.getvalue()


def section(
    results: dict,
    info: dict,
    counts: dict,
    rows: int,
    command: str,
    floor: float,
    load: str,
    ref: str | None = None,
) -> str:
    lines = [
        HEADING,
        "",
        f"`benchmarks/bench_import.py`, run on {date.today().isoformat()} with `{command}`.",
        "",
        f"A synthetic CSV of {rows:,} rows (seed {SEED}; ids `synthetic-import-…`, every name "
        f'"(synthetisch)", organisation "Synthetische Testdaten", `synthetic=true`) without '
        f"lat/lon: each row has a real address from the gazetteer, so every row is geocoded "
        f"offline, its postcode checked, its point assigned to a district, and all rows are "
        f"saved in one transaction. Rows: {counts['full address']:,} street + postcode + place, "
        f"{counts['postcode + place']:,} postcode + place, {counts['postcode only']:,} postcode "
        f"only, {counts['place only']:,} place name only; {counts['distinct queries']:,} distinct "
        f"geocoder queries (drawn from {counts['postcode/place pairs']:,} postcode/place pairs and "
        f"{counts['unambiguous places']:,} unambiguous municipality names).",
        "",
        f"Timed: `atlas import FILE` as a subprocess, wall time end to end (interpreter start, "
        f"imports, loading gazetteer and boundaries, validation, geocoding, saving), into a "
        f"freshly migrated empty store, {len(next(iter(results.values()))['fresh'])} times; "
        f"then the same file once more into the full store (every row compared with the stored "
        f"one, nothing changes). The floor of any `atlas` command (`atlas --help`: interpreter "
        f"and CLI start) was {floor:.2f} s."
        + (
            f" Anchor, in the same run: the same imports (once each) with the atlas of commit "
            f"`{ref}`, the last before the import speed-up (package extracted with `git archive`)."
            if ref
            else ""
        ),
        "",
        f"Machine: {machine_line(info)}. Load average before the run: {load}. The machine is "
        f"shared with other jobs (2 cores), so figures are noisy.",
        "",
        f"**Goal: {rows:,} rows in under {GOAL_S:.0f} s: "
        + ("met" if all(max(r["fresh"]) < GOAL_S for r in results.values()) else "NOT met")
        + "** (slowest run "
        + f"{max(max(r['fresh']) for r in results.values()):.1f} s).",
        "",
        "| backend | `atlas import`, empty store: median (min–max) | rows per second | same "
        "file again, full store | in one warm process: read CSV / check + geocode + locate / "
        "save |"
        + (f" anchor: atlas at `{ref}`, empty store; again |" if ref else "")
        + " what `atlas import` printed (empty store; again) |",
        "| --- | --- | --- | --- | --- |" + (" --- |" if ref else "") + " --- |",
    ]
    for label, r in results.items():
        med = statistics.median(r["fresh"])
        p = r["phases"]
        anchor = ""
        if ref:
            b = r["baseline"]
            anchor = (
                f" {b['fresh'][0]:.2f} s ({b['fresh'][0] / med:.1f}× ours); "
                f"{b['again']:.2f} s ({b['again'] / r['again']:.1f}× ours) |"
            )
        spread = f"{min(r['fresh']):.2f}–{max(r['fresh']):.2f} s"
        lines.append(
            f"| {label} | **{med:.2f} s** ({spread}) | {rows / med:,.0f} | "
            f"{r['again']:.2f} s | {p['read']:.2f} s / "
            f"{p['clean']:.2f} s / {p['save']:.2f} s |{anchor} {_short(r['message'])}; "
            f"{_short(r['again_message'])} |"
        )
    browser = {label: r["browser"] for label, r in results.items() if "browser" in r}
    if browser:
        met = all(
            b["preview"] < BROWSER_PREVIEW_S and b["import"] < BROWSER_IMPORT_S
            for b in browser.values()
        )
        lines += [
            "",
            "### The same rows as an .xlsx workbook, imported in the browser",
            "",
            "The rows above written as an .xlsx workbook (openpyxl, German headers, postcodes "
            "as numbers), uploaded to `/verwaltung/import` of a real `atlas serve` (waitress) by "
            "an administrator (statewide), into a freshly migrated empty store. *Preview*: the "
            "upload POST and the preview page it redirects to (reading the workbook, checking, "
            "geocoding and locating every row, keeping the checked list in the database, the "
            "page with every row and the map); *import*: the POST that stores the ready rows.",
            "",
            f"**Goal: preview within {BROWSER_PREVIEW_S:.0f} s, import within "
            f"{BROWSER_IMPORT_S:.0f} s more: " + ("met" if met else "NOT met") + "**.",
            "",
            "| backend | workbook | preview request | import request | `atlas import` of the "
            "CSV, same run (median) | rows ready in the preview | preview page | what the "
            "page said |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for label, b in browser.items():
            lines.append(
                f"| {label} | {b['bytes'] / 1e6:.1f} MB | **{b['preview']:.2f} s** | "
                f"**{b['import']:.2f} s** | {statistics.median(results[label]['fresh']):.2f} s | "
                f"{b['ready']:,} | {b['page_bytes'] / 1e6:.1f} MB | {b['message']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
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
        help="cProfile the import in-process (SQLite) and print the hot spots",
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also time the same import with the atlas of git commit REF "
        "(the anchor: before a speed-up), once per backend",
    )
    parser.add_argument("--no-doc", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args()
    pg = None if args.no_postgres else postgres_url(args.postgres, "atlas_bench")
    info = machine("SQLAlchemy", "numpy", "shapely", "rapidfuzz", "psycopg")
    if pg:
        info["PostgreSQL"] = postgres_version_safe(pg)
    load = load_average()
    for k, v in info.items():
        print(f"{k}: {v}")
    t = time.perf_counter()
    csv_text, counts = make_csv(args.rows)
    print(f"CSV of {args.rows:,} rows made in {time.perf_counter() - t:.1f} s: {counts}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "synthetic-import.csv"
        csv_path.write_text(csv_text, encoding="utf-8")
        env = bench_env(folder / "instance")
        floor = baseline(env)
        print(f"atlas --help: {floor:.2f} s")
        sqlite_file = folder / "instance" / "atlas.sqlite3"

        def reset_sqlite():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)

        backends = [("SQLite", env, reset_sqlite, f"sqlite:///{sqlite_file}")]
        if pg:
            backends.append(
                (
                    "PostgreSQL",
                    bench_env(folder / "instance-pg", pg),
                    lambda: reset_postgres(pg),
                    pg,
                )
            )
        else:
            print(
                "PostgreSQL skipped: give --postgres URL or run "
                '`eval "$(scripts/pg_test_cluster.sh)"` first'
            )
        from atlas.geo import regions

        regions.locate([52.37], [9.73])  # boundaries loaded before the in-process phases
        old = old_atlas(args.baseline, folder) if args.baseline else None
        for label, backend_env, reset, url in backends:
            results[label] = bench_backend(label, csv_path, backend_env, args.repeat, reset)
            if old:
                results[label]["baseline"] = bench_backend(
                    f"{label}, atlas at {args.baseline}", csv_path, backend_env, 1, reset, old
                )
            reset()
            results[label]["phases"], _ = in_process(csv_text, url)
            print(
                f"  {label}, in-process phases: "
                + ", ".join(f"{k} {v:.2f} s" for k, v in results[label]["phases"].items()),
                flush=True,
            )
        from bench_import_browser import browser_import, write_xlsx

        xlsx = folder / "synthetische-liste.xlsx"
        write_xlsx(csv_text, xlsx)
        for label, backend_env, reset, _url in backends:
            reset()
            run_atlas(["migrate"], backend_env)
            results[label]["browser"] = b = browser_import(backend_env, xlsx, folder)
            print(
                f"  {label}, browser import of the .xlsx: preview {b['preview']:.2f} s, "
                f"import {b['import']:.2f} s — {b['message']}",
                flush=True,
            )
        if args.profile:
            reset_sqlite()
            print(in_process(csv_text, f"sqlite:///{sqlite_file}", profile=True)[1])
    command = (
        ".venv/bin/python benchmarks/bench_import.py"
        + (f" --rows {args.rows}" if args.rows != 10_000 else "")
        + (f" --repeat {args.repeat}" if args.repeat != 3 else "")
        + (f" --baseline {args.baseline}" if args.baseline else "")
    )
    text = section(results, info, counts, args.rows, command, floor, load, args.baseline)
    print("\n" + text)
    if not args.no_doc:
        write_section(HEADING, text)
        print("wrote benchmarks/RESULTS.md")


def _short(message: str) -> str:
    """ "Imported x.csv: 10000 added, …" → "10000 added, …"."""
    return message.split(": ", 1)[-1].rstrip(".")


def postgres_version_safe(url: str) -> str:
    try:
        reset_postgres(url)
        return postgres_version(url)
    except Exception as exc:  # noqa: BLE001 - reported, and the PostgreSQL run then fails loudly
        return f"unreachable ({exc.__class__.__name__})"


if __name__ == "__main__":
    main()
