"""Shared fixtures: a real database per test (a SQLite file, or a PostgreSQL schema when
ATLAS_TEST_DATABASE_URL is set), and the atlas app bound to it.

Tests that never touch a database are marked `no_database` here: by hand, or because they
use none of DATABASE_FIXTURES and are not marked `database` (a test that starts a server
through atlas_env() in its own body must be). The Makefile's PostgreSQL pass leaves them out
(`-m "not no_database"`); while one runs, asking for the test database is an error
(support/databases.py), so a test that needs one cannot be left out of that pass unseen.
"""

from __future__ import annotations

import pytest

from atlas import cli as atlas_cli
from atlas.web.app import create_app
from tests.support.databases import PG_URL, database_free, drop_database, fresh_database_url

pytest_plugins = ["tests.support.browser"]

#: Fixtures that give a test the test database (`app`, `cli` and the `client`s go through
#: `instance`; `server` is the browser tests' served instance).
DATABASE_FIXTURES = {"instance", "server"}


def pytest_report_header(config):
    if PG_URL:
        return f"database: PostgreSQL/PostGIS at {PG_URL} (a fresh schema per test)"
    return (
        "database: SQLite (a fresh file per test); set ATLAS_TEST_DATABASE_URL, e.g. with "
        '`eval "$(scripts/pg_test_cluster.sh)"`, to run the suite on PostgreSQL/PostGIS'
    )


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        uses = sorted(DATABASE_FIXTURES.intersection(item.fixturenames))
        if item.get_closest_marker("no_database"):
            if uses or item.get_closest_marker("database"):
                raise pytest.UsageError(
                    f"{item.nodeid} is marked no_database but uses a "
                    f"database ({', '.join(uses) or 'marked database'})"
                )
        elif not uses and not item.get_closest_marker("database"):
            item.add_marker(pytest.mark.no_database)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if item.get_closest_marker("no_database"):
        with database_free(item.nodeid):
            yield
    else:
        yield


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
