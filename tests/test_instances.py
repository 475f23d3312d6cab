"""Several instances on one database (issue 20): one secret for all, shared rate limits in
Redis, clear refusals of bad configuration, and start-ups and upgrades that cannot crash.

Real processes throughout: `atlas serve`/`atlas migrate` on 127.0.0.1, Debian's redis-server,
the test database (SQLite file or PostgreSQL schema)."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from atlas.web.app import create_app
from atlas.web.extensions import get_store
from tests.support.live_server import (
    ATLAS,
    atlas_env,
    database_url,
    free_port,
    post_form,
    run_atlas,
    served,
)
from tests.support.redis_server import redis_server
from tests.support.smtp_stub import closed_port

pytestmark = pytest.mark.database


def failed_login(base: str, email: str) -> int:
    """One wrong login over HTTP (form, cookie, post); the answer's status."""
    fields = {"email": email, "password": "falsch-falsch"}
    return post_form(base, "/verwaltung/login", fields)[0]


# --- one secret -------------------------------------------------------------------------------

_MAKE_SECRET = """
import sys, time
from pathlib import Path
from atlas.config import instance_secret
start = float(sys.argv[2])
while time.time() < start:
    pass
print(instance_secret(Path(sys.argv[1])))
"""


def test_twenty_processes_starting_at_once_share_one_generated_key(tmp_path):
    folder = tmp_path / "instance"
    folder.mkdir()
    start = time.time() + 1.5  # all of them are waiting by then, and start together
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _MAKE_SECRET, str(folder), str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(20)
    ]
    keys = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(keys)) == 1 and len(keys[0]) > 40
    assert (folder / "secret_key").read_text().strip() == keys[0]
    assert [f.name for f in folder.iterdir()] == ["secret_key"]  # no temporary file left


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_refuses_a_generated_key_where_it_cannot_be_shared(instance, workers):
    env = atlas_env(instance)
    env.pop("ATLAS_SECRET_KEY")
    postgres = "postgresql" in database_url(env)
    if workers == 1 and not postgres:
        pytest.skip("a single process on SQLite may keep its generated key")
    done = run_atlas(
        ["serve", "--port", str(free_port()), "--workers", str(workers)], env, timeout=60
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "ATLAS_SECRET_KEY" in lines[0] and "ATLAS_SECRET_KEY_FILE" in lines[0]


def test_a_key_file_is_enough(instance, tmp_path):
    key = tmp_path / "key"
    key.write_text("from-a-file-" + "x" * 40 + "\n")
    env = atlas_env(instance, ATLAS_SECRET_KEY_FILE=str(key))
    env.pop("ATLAS_SECRET_KEY")
    with served(env, workers=2, threads=2, probe="/healthz") as (_proc, base):
        status = failed_login(base, "someone@example.org")
    assert status == 400  # a form fetched from one worker was accepted by whichever answered
    assert not (instance / "secret_key").exists()


# --- shared rate limits -----------------------------------------------------------------------


def test_an_unreachable_rate_limit_store_stops_serve_with_one_line(instance):
    env = atlas_env(instance, ATLAS_RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port()}/0")
    done = run_atlas(["serve", "--port", str(free_port())], env, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "ATLAS_RATELIMIT_STORAGE_URI" in line and "does not answer" in line


def test_an_unknown_rate_limit_store_is_named(instance):
    env = atlas_env(instance, ATLAS_RATELIMIT_STORAGE_URI="nosuchstore://x")
    done = run_atlas(["migrate"], env, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "ATLAS_RATELIMIT_STORAGE_URI=nosuchstore://x" in done.stderr


def test_several_workers_with_memory_limits_say_so(instance):
    env = atlas_env(instance)
    with served(env, workers=2, threads=2, probe="/healthz") as (_proc, _base):
        log = next(instance.glob("serve-*.log")).read_text()
    assert "rate limits are counted per worker (2 workers" in log


def test_two_instances_share_their_limits_in_redis(instance, tmp_path):
    with redis_server(tmp_path / "redis") as redis_url:
        env = atlas_env(
            instance,
            ATLAS_RATELIMIT_STORAGE_URI=redis_url,
            ATLAS_RATELIMIT_LOGIN="4 per minute",
        )
        with (
            served(env, threads=2, probe="/healthz") as (_a, first),
            served(env, threads=2, probe="/healthz") as (_b, second),
        ):
            answers = [
                failed_login(base, f"nobody{i}@example.org")
                for i, base in enumerate([first, second] * 3)
            ]
    # Four failures in all, alternating between the instances; then both refuse.
    assert answers == [400, 400, 400, 400, 429, 429]


# --- start-up and upgrades --------------------------------------------------------------------


def _start_together(args: list[str], env: dict, count: int) -> list[subprocess.CompletedProcess]:
    procs = [
        subprocess.Popen(
            [str(ATLAS), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    return [(p, *p.communicate(timeout=180)) for p in procs]


def _revision(env: dict) -> str:
    engine = create_engine(database_url(env))
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    return revision


@pytest.mark.parametrize("start", ["empty", "older"])
def test_instances_starting_at_once_all_come_up(instance, start):
    env = atlas_env(instance)
    if start == "older":
        # The schema as an earlier release left it (migrations up to 0006).
        from alembic import command

        from atlas.store import schema

        instance.mkdir(parents=True, exist_ok=True)
        config = schema._config()
        engine = create_engine(database_url(env))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0006")
        engine.dispose()
    results = _start_together(["migrate"], env, 4)
    for proc, out, err in results:
        assert proc.returncode == 0, err[-2000:]
        assert "up to date" in out
    from atlas.store import schema

    assert _revision(env) == schema.head()
    # And servers started at once on it all answer.
    with (
        served(env, threads=2, probe="/healthz") as (_a, first),
        served(env, threads=2, probe="/healthz") as (_b, second),
    ):
        for base in (first, second):
            conn = http.client.HTTPConnection(*urlsplit(base).netloc.split(":"), timeout=30)
            conn.request("GET", "/projekte")
            assert conn.getresponse().status == 200


def test_healthz_says_where_the_schema_stands(instance):
    app = create_app({"TESTING": True})
    client = app.test_client()
    before = client.get("/healthz")
    assert before.status_code == 503 and before.json["database"] is True
    assert before.json["current"] is False and before.json["schema"] is None
    get_store(app).create_schema()
    now = client.get("/healthz").json
    assert now["database"] is True and now["current"] is True
    assert now["schema"] == now["expected"]


def test_an_older_release_meeting_a_newer_schema_logs_and_serves(instance, caplog):
    app = create_app({"TESTING": True})
    store = get_store(app)
    store.create_schema()
    with store.engine.begin() as conn:  # as if a newer release had migrated
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    client = app.test_client()
    assert client.get("/projekte").status_code == 200
    assert "newer than this release knows" in caplog.text
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json == {
        "database": True,
        "schema": "9999_from_the_future",
        "expected": health.json["expected"],
        "current": False,
        "status": "newer",
    }


def test_a_database_that_is_down_answers_503_not_500_and_recovers(tmp_path, monkeypatch):
    monkeypatch.setenv("ATLAS_INSTANCE_PATH", str(tmp_path / "instance"))
    port = closed_port()
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{port}/x"}
    )
    client = app.test_client()
    page = client.get("/projekte")
    assert page.status_code == 503
    assert "Die Datenbank ist gerade nicht bereit" in page.get_data(as_text=True)
    assert "Vorübergehend nicht verfügbar" in page.get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json["database"] is False


# --- sessions ---------------------------------------------------------------------------------


def test_a_logout_on_one_instance_ends_the_session_on_every_instance(instance):
    from atlas.core.accounts import add_user
    from tests.test_submissions import PASSWORD, login

    shared = {"TESTING": True, "SECRET_KEY": "one-key-for-both-instances"}
    first, second = create_app(dict(shared)), create_app(dict(shared))
    store = get_store(first)
    store.create_schema()
    add_user(store, "admin@land.example", PASSWORD, None, True)
    here, there = first.test_client(), second.test_client()
    assert login(here, "admin@land.example").status_code == 303
    there.set_cookie("session", here.get_cookie("session").value)
    assert there.get("/verwaltung/postausgang").status_code == 200  # one login, both instances
    here.post("/verwaltung/logout")
    # The copy of the cookie on the other instance is refused now, too.
    assert there.get("/verwaltung/postausgang").status_code in (302, 303)


def test_an_unreachable_database_stops_serve_with_one_line(tmp_path):
    env = atlas_env(
        tmp_path / "instance",
        f"postgresql+psycopg://nobody:secret@127.0.0.1:{closed_port()}/atlas",
    )
    done = run_atlas(["serve", "--port", str(free_port())], env, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "cannot reach the database" in line and "secret" not in line
