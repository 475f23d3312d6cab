"""Which database the tests run against: a SQLite file each (default), or, with
ATLAS_TEST_DATABASE_URL set (see scripts/pg_test_cluster.sh), a fresh schema each on that PostgreSQL."""
from __future__ import annotations

import gc
import os
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("ATLAS_TEST_DATABASE_URL")


def fresh_database_url() -> str | None:
    """A new empty PostgreSQL schema as its own URL; None means: use the instance's SQLite."""
    if not PG_URL:
        return None
    schema = f"t_{uuid.uuid4().hex[:16]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        if conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar():
            raise RuntimeError(f"{PG_URL} has atlas tables in its public schema; the tests need "
                               "it clean (PostGIS only): use a database of its own for tests")
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema},public"})
    return url.render_as_string(hide_password=False)


def drop_database(url: str | None) -> None:
    if not url:
        return
    gc.collect()      # close pools of apps the test made, so DROP SCHEMA is not kept waiting
    schema = make_url(url).query["options"].split("=")[1].split(",")[0]
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()
