"""A bounded load test: mixed reading and submitting by many clients at once, then the check that
every accepted submission is in the store and that no answer was a 5xx.

Setup: a fresh store (a SQLite file in a temporary folder, or a PostgreSQL database of the load
test's own on the server of ATLAS_TEST_DATABASE_URL) with the curated projects (`atlas init`) and
`--projects` synthetic ones (`atlas demo-data`); `atlas serve` with ATLAS_RATELIMIT_ENABLED=0 as
a subprocess on 127.0.0.1.

Load: `--clients` threads, each a visitor with its own keep-alive HTTP/1.1 connection who sends
the next request as soon as the last answer has arrived (closed loop), for `--duration` seconds.
A request is one of: the map page (`/`, sometimes filtered), the listing (`/projekte`, filters and
pages), `/api/projects` with filters, with `near` (a postcode or a point, 5–50 km) and with `bbox`,
`/api/markers`, a project's page (`/projekte/<id>`), or a submission: the form (GET
`/einreichen`, for its CSRF token and session cookie) and the confirmed submission (POST, answered
303 with the private link when accepted). About `--submit-share` of all requests are such POSTs.
Submitted names say they are synthetic ("Lasttest … (synthetisch)").

Afterwards: each accepted submission's private link must answer 200 and show its name, the store
must hold each accepted name exactly once, and no answer may have been a 5xx; otherwise the exit
status is 1. Writes its subsection of "## Load test" in benchmarks/RESULTS.md (one per backend).

Run: `.venv/bin/python benchmarks/loadtest.py [--backend sqlite|postgres] [--duration 60]
[--clients 100] [--workers 2] [--threads 8] [--projects 10000]`; for PostgreSQL first
`eval "$(scripts/pg_test_cluster.sh)"` (or give `--database-url`).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shlex
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from common import (
    SEED,
    bench_env,
    free_port,
    load_average,
    machine,
    machine_line,
    postgres_url,
    postgres_version,
    reset_postgres,
    run_atlas,
    served,
    tail,
    write_section,
)

from atlas.core.fields import FIELDS as ATLAS_FIELDS  # noqa: E402  (common puts the checkout first)
from atlas.geo.regions import REGIONS as ATLAS_REGIONS  # noqa: E402
from tests.support.forms import csrf_token, submission  # noqa: E402  (common puts the checkout first)

HEADING = "## Load test"
LABELS = {"sqlite": "SQLite", "postgres": "PostgreSQL/PostGIS"}
#: Request kinds for reading, with their weights; a submission is form + POST on top.
READS = {
    "map page /": 10,
    "listing /projekte": 15,
    "api projects (filters)": 12,
    "api projects near": 15,
    "api projects bbox": 12,
    "api markers": 8,
    "detail /projekte/<id>": 28,
}
KINDS = [*READS, "submit form GET /einreichen", "submit POST /einreichen"]
FIELDS = list(ATLAS_FIELDS)
REGIONS = list(ATLAS_REGIONS)
QUERIES = ["sprachcafe", "patenschaft", "fahrrad", "beratung", "test", "hannover", "garten"]
#: Lower Saxony's bounding box (lon, lat) for random map views.
LON, LAT = (6.65, 11.60), (51.30, 53.89)


@dataclass
class Tally:
    """One client's record: latencies and statuses per kind, and its accepted submissions."""

    latency: dict = field(default_factory=lambda: defaultdict(list))
    status: dict = field(default_factory=lambda: defaultdict(Counter))
    errors: dict = field(default_factory=lambda: defaultdict(Counter))
    accepted: dict = field(default_factory=dict)  # name → private link (path)
    refused: list = field(default_factory=list)  # (name, status, body excerpt)
    server_errors: list = field(default_factory=list)  # (kind, path, status, body excerpt)
    reconnects: int = 0  # a kept-alive connection the server had closed, reopened
    client_cpu: float = 0.0  # CPU seconds the client threads used (they share the cores)


class Visitor:
    """One client: a keep-alive connection, a random generator, and what it has seen."""

    def __init__(self, number: int, base: str, world: dict, tally: Tally):
        self.number, self.world, self.tally = number, world, tally
        self.host = urlsplit(base)
        self.rng = random.Random(SEED + number)
        self.conn = None
        self.sent = 0

    def _request(
        self,
        kind: str,
        method: str,
        path: str,
        body: str | None = None,
        headers: dict | None = None,
    ):
        """Send, read the whole answer, time it; None if the connection failed."""
        for attempt in (1, 2):  # a keep-alive connection the server closed is reopened
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.host.hostname, self.host.port, timeout=120
                )
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.conn.close()
                self.conn = None
                if attempt == 2 or method == "POST":  # never send a submission twice
                    self.tally.errors[kind][type(exc).__name__] += 1
                    return None
                self.tally.reconnects += 1
                continue
            elapsed = time.perf_counter() - start
            self.tally.latency[kind].append(elapsed)
            self.tally.status[kind][response.status] += 1
            if response.status >= 500:
                self.tally.server_errors.append(
                    (kind, path, response.status, data[:300].decode(errors="replace"))
                )
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return response, data
        return None

    def read(self) -> None:
        kind = self.rng.choices(list(READS), weights=list(READS.values()))[0]
        self._request(kind, "GET", self._path(kind))

    def _filters(self, p: float = 0.5) -> dict:
        rng, args = self.rng, {}
        if rng.random() < p:
            args["field"] = rng.choice(FIELDS)
        if rng.random() < p / 2:
            args["region"] = rng.choice(REGIONS)
        if rng.random() < p / 3:
            args["q"] = rng.choice(QUERIES)
        return args

    def _near(self) -> dict:
        rng = self.rng
        if rng.random() < 0.5:
            near = rng.choice(self.world["postcodes"])
        else:
            near = f"{rng.uniform(52.0, 53.3):.4f},{rng.uniform(7.5, 10.8):.4f}"
        return {"near": near, "radius_km": rng.choice([5, 10, 25, 50])}

    def _path(self, kind: str) -> str:
        rng = self.rng
        if kind == "map page /":
            args = self._filters(0.3)
            if rng.random() < 0.2:
                args.update(self._near())
            return "/" + ("?" + urlencode(args) if args else "")
        if kind == "listing /projekte":
            args = self._filters(0.4)
            if rng.random() < 0.5:
                args["seite"] = rng.randint(2, 6)
            return "/projekte" + ("?" + urlencode(args) if args else "")
        if kind == "api projects (filters)":
            args = {**self._filters(0.6), "limit": rng.choice([20, 50, 100])}
            return "/api/projects?" + urlencode(args)
        if kind == "api projects near":
            args = {**self._near(), "limit": rng.choice([20, 100])}
            if rng.random() < 0.3:
                args["field"] = rng.choice(FIELDS)
            return "/api/projects?" + urlencode(args)
        if kind == "api projects bbox":
            w, h = rng.uniform(0.1, 0.8), rng.uniform(0.05, 0.5)
            lon, lat = rng.uniform(LON[0], LON[1] - w), rng.uniform(LAT[0], LAT[1] - h)
            args = {"bbox": f"{lon:.4f},{lat:.4f},{lon + w:.4f},{lat + h:.4f}", "limit": 100}
            return "/api/projects?" + urlencode({**args, **self._filters(0.2)})
        if kind == "api markers":
            args = self._filters(0.4)
            return "/api/markers" + ("?" + urlencode(args) if args else "")
        return "/projekte/" + rng.choice(self.world["ids"])

    def submit(self) -> None:
        """Fetch the form, then confirm at once (as the browser test does after the preview)."""
        got = self._request("submit form GET /einreichen", "GET", "/einreichen")
        if got is None:
            return
        response, html = got
        token = csrf_token(html.decode())
        if response.status != 200 or token is None:
            return
        cookie = (response.getheader("Set-Cookie") or "").split(";")[0]
        self.sent += 1
        name = f"Lasttest {self.number:05d}-{self.sent:04d} (synthetisch)"
        postcode, city = self.rng.choice(self.world["places"])
        body = urlencode(
            {
                "csrf_token": token,
                **submission(
                    name,
                    f"lasttest{self.number}@example.org",
                    fields=self.rng.choice(FIELDS),
                    postcode=postcode,
                    city=city,
                ),
            }
        )
        got = self._request(
            "submit POST /einreichen",
            "POST",
            "/einreichen",
            body,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        if got is None:
            return
        response, data = got
        if response.status == 303:
            self.tally.accepted[name] = urlsplit(response.getheader("Location", "")).path
        else:
            self.tally.refused.append((name, response.status, _excerpt(data)))

    def run(self, stop: threading.Event, submit_chance: float) -> None:
        while not stop.is_set():
            if self.rng.random() < submit_chance:
                self.submit()
            else:
                self.read()
        if self.conn is not None:
            self.conn.close()


def _excerpt(html: bytes) -> str:
    text = re.sub(r"<[^>]+>", " ", html.decode(errors="replace"))
    found = re.findall(r"(Bitte[^.]*\.|[^.]*nicht[^.]*\.)", text)
    return " ".join(" ".join(found).split())[:200] or " ".join(text.split())[:200]


# --- the world the visitors move in ---------------------------------------------------------


def world_of(url: str) -> dict:
    """Published ids for project pages, postcodes for `near`, (postcode, city) for submissions."""
    from sqlalchemy import create_engine, text

    from atlas.geo import geocoding

    engine = create_engine(url)
    try:
        with engine.connect() as db:
            ids = [
                r[0] for r in db.execute(text("SELECT id FROM projects WHERE status = 'published'"))
            ]
    finally:
        engine.dispose()
    g = geocoding.gazetteer()
    places = []
    for postcode in sorted(g.postcodes):
        answer = geocoding.resolve(postcode)
        city = g.postcodes[postcode].get("label_place")
        if (
            answer["status"] == "ok"
            and city
            and geocoding.resolve(f"{postcode} {city}")["status"] == "ok"
        ):
            places.append((postcode, city))
    return {"ids": ids, "postcodes": [p for p, _ in places], "places": places}


# --- the run --------------------------------------------------------------------------------


def run_load(
    base: str, world: dict, clients: int, duration: float, submit_share: float, first: int = 0
):
    """Closed-loop load for `duration` seconds; returns the merged tallies, the wall time and
    how many clients did not stop. Clients are numbered from `first` (their names differ)."""
    # a submission sends two requests (form, POST): this chance makes POSTs `share` of all
    chance = submit_share / (1 - submit_share)
    tallies = [Tally() for _ in range(clients)]
    visitors = [Visitor(first + i, base, world, t) for i, t in enumerate(tallies)]
    stop = threading.Event()
    threads = [threading.Thread(target=v.run, args=(stop, chance), daemon=True) for v in visitors]
    cpu = time.process_time()
    start = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(duration)
    stop.set()
    for t in threads:
        t.join(timeout=180)
    wall = time.perf_counter() - start
    hung = sum(t.is_alive() for t in threads)
    merged = Tally()
    merged.client_cpu = time.process_time() - cpu
    for t in tallies:
        for kind, values in t.latency.items():
            merged.latency[kind] += values
        for kind, counts in t.status.items():
            merged.status[kind].update(counts)
        for kind, counts in t.errors.items():
            merged.errors[kind].update(counts)
        merged.accepted.update(t.accepted)
        merged.refused += t.refused
        merged.server_errors += t.server_errors
        merged.reconnects += t.reconnects
    return merged, wall, hung


def check_links(base: str, accepted: dict) -> list[str]:
    """Every accepted submission's private link answers 200 and shows its name."""
    host = urlsplit(base)

    def one(item):
        name, link = item
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        try:
            conn.request("GET", link)
            response = conn.getresponse()
            page = response.read().decode(errors="replace")
            return (
                None
                if response.status == 200 and name in page
                else f"{name}: {link} answered {response.status}"
            )
        except (OSError, http.client.HTTPException) as exc:
            return f"{name}: {link} failed ({type(exc).__name__})"
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [p for p in pool.map(one, accepted.items()) if p]


def check_store(url: str, accepted: dict) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as db:
            names = Counter(
                r[0]
                for r in db.execute(text("SELECT name FROM projects WHERE name LIKE 'Lasttest %'"))
            )
            integrity = (
                db.execute(text("PRAGMA integrity_check")).scalar()
                if engine.dialect.name == "sqlite"
                else "n/a"
            )
    finally:
        engine.dispose()
    return {
        "stored": sum(names.values()),
        "missing": sorted(set(accepted) - set(names)),
        "duplicated": sorted(n for n, c in names.items() if c > 1),
        "unacknowledged": sorted(set(names) - set(accepted)),
        "integrity": integrity,
    }


# --- the report -----------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report(
    args,
    backend_info: str,
    tally: Tally,
    wall: float,
    hung: int,
    links: list[str],
    store: dict,
    server_log_errors: int,
    load_before: str,
    command: str,
    setup: dict,
) -> tuple[str, bool]:
    total = sum(len(v) for v in tally.latency.values())
    failed = sum(sum(c.values()) for c in tally.errors.values())
    fivexx = sum(n for c in tally.status.values() for s, n in c.items() if s >= 500)
    posts = sum(tally.status["submit POST /einreichen"].values())
    cores = len(os.sched_getaffinity(0))
    ok = (
        fivexx == 0
        and setup["warm_5xx"] == 0
        and not store["missing"]
        and not store["duplicated"]
        and not links
        and not hung
        and store["integrity"] in ("ok", "n/a")
    )
    lines = [
        f"### {LABELS[args.backend]}",
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}`.",
        "",
        f"Server: `atlas serve --workers {args.workers} --threads {args.threads}` "
        f"({'gunicorn gthread' if args.workers > 1 else 'waitress'}), "
        f"ATLAS_RATELIMIT_ENABLED=0, ATLAS_TILES=none; store: {backend_info} with "
        f"{setup['projects']:,} published projects ({args.projects:,} synthetic, the rest "
        f"curated). "
        f"{args.clients} client threads for {args.duration:.0f} s, closed loop, keep-alive; "
        f"they used {tally.client_cpu:.0f} CPU-s of the {cores * wall:.0f} the {cores} cores "
        f"had. "
        f"Load average (1/5/15 min) before the run: {load_before}; after: {load_average()}.",
        "",
        "Machine: "
        + machine_line(machine("flask", "waitress", "gunicorn", "SQLAlchemy", "psycopg"))
        + ".",
        "",
        f"**{total:,} requests in {wall:.1f} s = {total / wall:,.0f} requests/s; "
        f"5xx: {fivexx}; failed requests (connection errors): {failed}; "
        f"submissions accepted (303): {len(tally.accepted):,} of {posts:,} POSTs "
        f"({posts / max(total, 1):.1%} of requests).**",
        "",
        "| kind | requests | per s | p50 ms | p95 ms | p99 ms | max ms | statuses |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for kind in KINDS:
        values = tally.latency.get(kind, [])
        if not values:
            continue
        statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(tally.status[kind].items()))
        errors = ", ".join(f"{e}: {n}" for e, n in tally.errors.get(kind, {}).items())
        lines.append(
            f"| {kind} | {len(values):,} | {len(values) / wall:,.1f} | "
            f"{_ms(_pct(values, 50))} | {_ms(_pct(values, 95))} | "
            f"{_ms(_pct(values, 99))} | {_ms(max(values))} | {statuses}"
            f"{'; ' + errors if errors else ''} |"
        )
    everything = [v for values in tally.latency.values() for v in values]
    if everything:
        lines.append(
            f"| **all** | {total:,} | {total / wall:,.1f} | {_ms(_pct(everything, 50))}"
            f" | {_ms(_pct(everything, 95))} | {_ms(_pct(everything, 99))} | "
            f"{_ms(max(everything))} | 5xx: {fivexx} |"
        )
    lines += [
        "",
        f"Check afterwards (including the {setup['warm_accepted']:,} submissions accepted in "
        f"the {args.warmup:.0f} s warm-up before the timed run, which had "
        f"{setup['warm_5xx']} 5xx): {len(tally.accepted) + setup['warm_accepted']:,} "
        f"accepted submissions, "
        f"{store['stored']:,} stored, {len(store['missing'])} accepted but missing, "
        f"{len(store['duplicated'])} stored twice, {len(links)} private links not answering "
        f"200 with the name; "
        + (f"SQLite integrity check: {store['integrity']}; " if store["integrity"] != "n/a" else "")
        + f"{server_log_errors} errors in the server log; "
        f"{len(store['unacknowledged'])} stored whose POST got no answer; "
        f"{tally.reconnects} idle keep-alive connections closed by the server and reopened "
        f"(the request then sent again); "
        f"{len(tally.refused)} submissions refused (not 303)"
        + (f", e.g. {tally.refused[0][1]}: {tally.refused[0][2]!r}" if tally.refused else "")
        + (f"; {hung} clients did not stop" if hung else "")
        + f". **{'Passed' if ok else 'FAILED'}.**",
        "",
    ]
    return "\n".join(lines), ok


def update_results(subsection: str, backend: str) -> None:
    """Replace this backend's subsection of "## Load test" (other sections stay untouched)."""
    from common import RESULTS

    doc = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    found = re.search(rf"^{re.escape(HEADING)}\n(.*?)(?=^## |\Z)", doc, re.S | re.M)
    current = found.group(1) if found else ""
    parts = {
        label: re.search(rf"^### {re.escape(label)}\n.*?(?=^### |\Z)", current, re.S | re.M)
        for label in LABELS.values()
    }
    texts = {label: (m.group(0).rstrip("\n") if m else None) for label, m in parts.items()}
    texts[LABELS[backend]] = subsection.rstrip("\n")
    intro = (
        "`benchmarks/loadtest.py`: a bounded load test on 127.0.0.1 — mixed reading (map "
        "page, `/projekte`, `/api/projects` with filters, `near` and `bbox`, `/api/markers`, "
        "project pages) and submitting (the form, then the confirmed POST; about 10 % of all "
        "requests are such POSTs) by 100 concurrent clients for 60 s against `atlas serve` "
        "with ATLAS_RATELIMIT_ENABLED=0, on each backend. Every client is a thread of one "
        "process with its own keep-alive connection that sends its next request as soon as the "
        "last answer arrived, so latencies include the wait in the server's queue; clients and "
        "server share the machine's 2 cores (and with other jobs: see the load average). "
        "Afterwards every accepted submission (303) must be in the store exactly once, its "
        "private link must answer 200, and no answer may be a 5xx."
    )
    body = "\n\n".join([HEADING, intro] + [t for t in texts.values() if t])
    write_section(HEADING, body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="seconds of the same load before the timed run (not timed)",
    )
    parser.add_argument("--workers", type=int, default=2, help="atlas serve --workers")
    parser.add_argument("--threads", type=int, default=8, help="atlas serve --threads")
    parser.add_argument(
        "--projects",
        type=int,
        default=10_000,
        help="synthetic projects in the store besides the curated ones",
    )
    parser.add_argument(
        "--submit-share",
        type=float,
        default=0.10,
        help="share of all requests that are submissions (POSTs)",
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL database of the load test's own "
        "(default: database atlas_loadtest on ATLAS_TEST_DATABASE_URL's server)",
    )
    parser.add_argument(
        "--no-results",
        action="store_true",
        help="print the figures, do not write benchmarks/RESULTS.md",
    )
    args = parser.parse_args()
    command = ".venv/bin/python benchmarks/loadtest.py " + shlex.join(sys.argv[1:])

    with tempfile.TemporaryDirectory(prefix="atlas-loadtest-") as tmp:
        instance = Path(tmp) / "instance"
        if args.backend == "postgres":
            url = postgres_url(args.database_url, "atlas_loadtest")
            if not url:
                raise SystemExit(
                    'no PostgreSQL: run `eval "$(scripts/pg_test_cluster.sh)"` '
                    "first or give --database-url"
                )
            reset_postgres(url)
            backend_info = f"PostgreSQL {postgres_version(url)}"
        else:
            url = None
            import sqlite3

            backend_info = f"SQLite {sqlite3.sqlite_version} (WAL)"
        env = bench_env(instance, url)
        store_url = url or f"sqlite:///{instance / 'atlas.sqlite3'}"
        print(
            f"setting up {backend_info} with {args.projects:,} synthetic projects …",
            file=sys.stderr,
        )
        run_atlas(["init"], env)
        run_atlas(["demo-data", "--count", str(args.projects), "--seed", str(SEED)], env)
        world = world_of(store_url)
        port = free_port()
        log_path = Path(tmp) / "serve.log"
        load_before = load_average()
        with served(
            env,
            threads=args.threads,
            workers=args.workers,
            port=port,
            log_path=log_path,
            timeout=90,
        ) as (_proc, base):
            print(
                f"{args.clients} clients for {args.duration:.0f} s against {base} …",
                file=sys.stderr,
            )
            # warm-up: every worker loads its gazetteer, boundaries and caches; not timed, but
            # its accepted submissions are checked with the others
            warm, _, _ = run_load(
                base, world, args.clients, args.warmup, args.submit_share, first=10_000
            )
            tally, wall, hung = run_load(
                base, world, args.clients, args.duration, args.submit_share
            )
            accepted = {**warm.accepted, **tally.accepted}
            links = check_links(base, accepted)
        log = tail(log_path, 10_000_000)
        log_errors = len(re.findall(r"unexpected error|Traceback", log))
        store = check_store(store_url, accepted)
        text, ok = report(
            args,
            backend_info,
            tally,
            wall,
            hung,
            links,
            store,
            log_errors,
            load_before,
            command,
            {
                "projects": len(world["ids"]),
                "warm_accepted": len(warm.accepted),
                "warm_5xx": len(warm.server_errors),
            },
        )
        tally.server_errors += warm.server_errors
        print(text)
        for kind, path, status, body in tally.server_errors[:5]:
            print(f"5xx: {kind} {path} → {status}: {body!r}", file=sys.stderr)
        if log_errors:
            print("server log (end):\n" + log[-4000:], file=sys.stderr)
        if store["missing"]:
            print(f"accepted but missing: {store['missing'][:10]}", file=sys.stderr)
        if not args.no_results:
            update_results(text, args.backend)
            print(f"written to {Path('benchmarks/RESULTS.md')}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
