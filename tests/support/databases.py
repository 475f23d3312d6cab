"""Which database the tests run against: a SQLite file each (default), or, with
ATLAS_TEST_DATABASE_URL set (see scripts/pg_test_cluster.sh), a fresh schema each on that
PostgreSQL.

Tests that never ask for a database run on the SQLite pass only (tests/conftest.py marks them
`no_database`); `database_free` turns asking for one anyway into an error, so a test that
starts a server without the `instance` fixture cannot be left out of the PostgreSQL pass unseen.
"""

from __future__ import annotations

import gc
import os
import uuid
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("ATLAS_TEST_DATABASE_URL")

#: The test running now when it is marked `no_database`; None otherwise.
_database_free: str | None = None


class UndeclaredDatabase(RuntimeError):
    """A test marked `no_database` (by hand or because it has no database fixture) asked for
    the test database."""


@contextmanager
def database_free(test: str):
    """While `test` runs, asking for the test database is an error."""
    global _database_free
    _database_free = test
    try:
        yield
    finally:
        _database_free = None


def fresh_database_url() -> str | None:
    """A new empty PostgreSQL schema as its own URL; None means: use the instance's SQLite."""
    if _database_free:
        raise UndeclaredDatabase(
            f"{_database_free} uses the test database but is marked no_database, so the "
            "PostgreSQL pass leaves it out: give it the `instance` fixture or mark it "
            "`pytest.mark.database`"
        )
    if not PG_URL:
        return None
    schema = f"t_{uuid.uuid4().hex[:16]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        if conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar():
            raise RuntimeError(
                f"{PG_URL} has atlas tables in its public schema; the tests need "
                "it clean (PostGIS only): use a database of its own for tests"
            )
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema},public"})
    return url.render_as_string(hide_password=False)


def drop_database(url: str | None) -> None:
    """Drop a schema fresh_database_url made (nothing for SQLite)."""
    if not url or not PG_URL:
        return
    gc.collect()  # close pools of apps the test made, so DROP SCHEMA is not kept waiting
    schema = make_url(url).query["options"].split("=")[1].split(",")[0]
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()
