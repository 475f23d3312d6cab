"""100 submissions at once against a running server: every one stored, no error answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from tests.support.live_server import atlas_env, atlas_server, database_url, run_atlas, submit

COUNT = 100


@pytest.mark.database
def test_hundred_concurrent_submissions_are_all_stored(tmp_path):
    env = atlas_env(tmp_path / "instance", ATLAS_RATELIMIT_ENABLED="0")
    assert run_atlas(["init"], env).returncode == 0
    with atlas_server(env, threads=16) as base:
        with ThreadPoolExecutor(max_workers=COUNT) as pool:
            answers = list(
                pool.map(
                    lambda i: submit(base, f"Lastprojekt {i:03d}", f"last{i}@example.org"),
                    range(COUNT),
                )
            )
    assert [status for status, _ in answers] == [303] * COUNT
    assert len({location for _, location in answers}) == COUNT  # one private link each
    engine = create_engine(database_url(env))
    with engine.connect() as db:
        names = [
            r[0] for r in db.execute(text("SELECT name FROM projects WHERE status = 'pending'"))
        ]
        if engine.dialect.name == "sqlite":
            assert db.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
    assert sorted(names) == [f"Lastprojekt {i:03d}" for i in range(COUNT)]
