"""The Flask application factory: configuration, instance folder, store."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, current_app

from . import ROOT
from .store import Store


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask("atlas", instance_relative_config=True, root_path=str(Path(__file__).parent),
                template_folder=str(ROOT / "templates"),
                instance_path=os.environ.get("ATLAS_INSTANCE_PATH") or str(ROOT / "instance"))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        DATABASE_URL=f"sqlite:///{Path(app.instance_path) / 'atlas.sqlite3'}",
        GEOCODER="offline",
        NOMINATIM_URL="https://nominatim.openstreetmap.org",
        NOMINATIM_USER_AGENT="gemeinsame-sache-atlas/0.1 (Niedersachsen packt an)",
        NOMINATIM_MIN_DELAY=1.0,
    )
    app.config.from_prefixed_env("ATLAS")
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    app.extensions["atlas.store"] = Store(app.config["DATABASE_URL"])

    from .cli import register
    register(app)
    return app


def _instance_secret(instance: Path) -> str:
    """A secret generated once per instance, so sessions survive restarts without configuration."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def get_store(app: Flask | None = None) -> Store:
    return (app or current_app).extensions["atlas.store"]
