"""Shared fixtures: a real database per test (a SQLite file, or a PostgreSQL schema when
ATLAS_TEST_DATABASE_URL is set), and the atlas app bound to it."""
from __future__ import annotations

import pytest

from atlas import cli as atlas_cli
from atlas.web import create_app
from databases import PG_URL, drop_database, fresh_database_url

pytest_plugins = ["browser_support"]


def pytest_report_header(config):
    if PG_URL:
        return f"database: PostgreSQL/PostGIS at {PG_URL} (a fresh schema per test)"
    return ("database: SQLite (a fresh file per test); set ATLAS_TEST_DATABASE_URL, e.g. with "
            "`eval \"$(scripts/pg_test_cluster.sh)\"`, to run the suite on PostgreSQL/PostGIS")


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """A fresh instance folder; its SQLite file is the database unless PostgreSQL is chosen."""
    folder = tmp_path / "instance"
    monkeypatch.setenv("ATLAS_INSTANCE_PATH", str(folder))
    url = fresh_database_url()
    if url:
        monkeypatch.setenv("ATLAS_DATABASE_URL", url)
    else:
        monkeypatch.delenv("ATLAS_DATABASE_URL", raising=False)
    yield folder
    drop_database(url)


@pytest.fixture
def app(instance):
    return create_app({"TESTING": True})


@pytest.fixture
def cli(app):
    """Run an `atlas` command in-process: cli("import", path) → click Result."""
    runner = app.test_cli_runner()
    group = atlas_cli.group()

    def invoke(*args, input=None):
        return runner.invoke(group, args=[str(a) for a in args], input=input)
    return invoke

