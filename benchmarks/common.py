"""Shared helpers of the benchmarks: the machine, percentiles, databases, RESULTS.md; servers
come from the tests' own support package (tests/support/live_server.py), re-exported here.

The scripts run from a checkout with the project's venv (`.venv/bin/python benchmarks/…`); every
server they start is a subprocess on 127.0.0.1 that they stop again, and every database they fill
is their own (a temporary SQLite file, or a PostgreSQL database named for the benchmark).
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import live_server  # noqa: E402
from tests.support.live_server import ATLAS, free_port, served, serving, tail  # noqa: E402,F401

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BIN = Path(sys.executable).parent
#: Same seed as the other benchmarks: 30.11.2015, the alliance's founding day.
SEED = 20151130


# --- the machine ----------------------------------------------------------------------------


def dist_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine(*packages: str) -> dict[str, str]:
    """CPU model, cores, RAM, Python and the versions of `packages` (distribution names)."""
    cpu, mem = "unknown", "unknown"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        mem = f"{kb / 1024**2:.1f} GiB"
    except (OSError, StopIteration):
        pass
    info = {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} (usable {len(os.sched_getaffinity(0))})",
        "RAM": mem,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }
    for name in packages:
        info[name] = dist_version(name)
    import sqlite3

    info["SQLite"] = sqlite3.sqlite_version
    return info


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def postgres_version(url: str) -> str:
    """`15.x, PostGIS 3.x`: the versions of the server behind url."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            pg = conn.execute(text("SHOW server_version")).scalar()
            gis = conn.execute(text("SELECT postgis_lib_version()")).scalar()
    finally:
        engine.dispose()
    return f"{pg.split()[0]}, PostGIS {gis}"


# --- figures --------------------------------------------------------------------------------


def percentiles(values, qs=(50, 95, 99)) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {f"p{q}": float(np.percentile(arr, q)) for q in qs}


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


# --- servers: tests/support/live_server.py, with a benchmark's defaults ----------------------


def bench_env(instance: Path, database_url: str | None = None, **extra: str) -> dict:
    """An environment for `atlas …` on its own instance folder: SQLite unless a URL is given
    (never the tests' database), rate limits off."""
    return live_server.atlas_env(
        instance, database_url, **{"ATLAS_RATELIMIT_ENABLED": "0", **extra}
    )


def run_atlas(
    args: list[str], env: dict, timeout: float = 900, command: list[str] | None = None
) -> subprocess.CompletedProcess:
    """`atlas ARGS` (or `command ARGS`); raises with its output if it fails."""
    return live_server.run_atlas(args, env, timeout=timeout, command=command, check=True)


# --- PostgreSQL -----------------------------------------------------------------------------


def postgres_url(explicit: str | None, name: str) -> str | None:
    """The URL of a PostgreSQL database of the benchmark's own: `explicit`, else database `name`
    on the server of ATLAS_TEST_DATABASE_URL (scripts/pg_test_cluster.sh); None if neither.

    The test database itself is never used for data: the tests need its public schema clean.
    """
    if explicit:
        return explicit
    test_url = os.environ.get("ATLAS_TEST_DATABASE_URL")
    if not test_url:
        return None
    from sqlalchemy.engine import make_url

    return make_url(test_url).set(database=name).render_as_string(hide_password=False)


def reset_postgres(url: str) -> None:
    """Create the database if missing, empty it (its public schema with every table, trigger
    and function the atlas made), and enable PostGIS."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    if target.database in ("atlas_test", "postgres", "template0", "template1"):
        raise SystemExit(
            f"refusing to fill database '{target.database}'; give the benchmark "
            f"a database of its own"
        )
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            ).scalar():
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            conn.execute(text("CREATE EXTENSION postgis"))
    finally:
        engine.dispose()


# --- RESULTS.md -----------------------------------------------------------------------------

#: Written notes under a generated section start with this line and survive a new run.
NOTES_MARKER = "<!-- notes: written by hand, kept when the benchmark rewrites this section -->"


def write_section(heading: str, text: str, path: Path = RESULTS) -> None:
    """Replace the section under `heading` (a "## …" line) in RESULTS.md, or append it; the
    part of the old section from NOTES_MARKER on is kept below the new figures."""
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    body = text.rstrip("\n") + "\n\n"
    if found := pattern.search(doc):
        old = found.group(0)
        if NOTES_MARKER in old:
            body += old[old.index(NOTES_MARKER) :].rstrip("\n") + "\n\n"
        doc = pattern.sub(lambda _: body, doc)
    else:
        doc = doc.rstrip("\n") + "\n\n" + body
    path.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")


def machine_line(info: dict[str, str]) -> str:
    return "; ".join(f"{k} {v}" for k, v in info.items())
