"""Shared fixtures: a real SQLite file per test, and the atlas app bound to it."""
from __future__ import annotations

import pytest

from atlas import create_app


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """A fresh instance folder whose SQLite file is the embedded default."""
    folder = tmp_path / "instance"
    monkeypatch.setenv("ATLAS_INSTANCE_PATH", str(folder))
    monkeypatch.delenv("ATLAS_DATABASE_URL", raising=False)
    return folder


@pytest.fixture
def app(instance):
    return create_app({"TESTING": True})


@pytest.fixture
def cli(app):
    """Run an `atlas` command in-process: cli("import", path) → click Result."""
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        return runner.invoke(args=[str(a) for a in args], input=input)
    return invoke

