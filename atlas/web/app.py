"""The Flask application factory: it only assembles configuration, store, extensions and
blueprints; the shared state lives in `extensions`."""
from __future__ import annotations

import os
import secrets
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, current_app, url_for

from atlas.resources import STATIC_DIR, TEMPLATES_DIR
from atlas.store import Store
from atlas.web import api, assets, auth, coverage, errors, moderation, pages, security, submit
from atlas.web.extensions import get_store, limiter


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask("atlas", instance_relative_config=True, root_path=str(Path(__file__).parent),
                static_folder=str(STATIC_DIR), template_folder=str(TEMPLATES_DIR),
                instance_path=os.environ.get("ATLAS_INSTANCE_PATH")
                or str(Path.cwd() / "instance"))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        DATABASE_URL=f"sqlite:///{Path(app.instance_path) / 'atlas.sqlite3'}",
        GEOCODER="offline",
        NOMINATIM_URL="https://nominatim.openstreetmap.org",
        NOMINATIM_USER_AGENT="gemeinsame-sache-atlas/0.1 (Niedersachsen packt an)",
        NOMINATIM_MIN_DELAY=1.0,
        MAX_CONTENT_LENGTH=256 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_SUBMIT="20 per hour",
        RATELIMIT_LOGIN="10 per minute",
        RATELIMIT_HEADERS_ENABLED=True,
        MAIL_FROM="gemeinsame-sache@localhost",
        #: Where people reach the atlas; links in mails are built on it.
        PUBLIC_URL="http://127.0.0.1:8000",
    )
    app.config.from_prefixed_env("ATLAS")
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    app.extensions["atlas.store"] = Store(app.config["DATABASE_URL"])

    limiter.init_app(app)
    auth.init_app(app)
    assets.local_assets(app.static_url_path)
    for blueprint in (pages.bp, api.bp, coverage.bp, submit.bp, moderation.bp):
        app.register_blueprint(blueprint)
    app.add_template_filter(lambda d: urlencode({k: v for k, v in d.items() if v}),
                            "query_string")
    app.add_template_global(lambda pkg: [url_for("static", filename=f)
                                         for f in assets.VENDOR[pkg]["js"]], "vendor_js")
    app.add_template_global(lambda pkg: [url_for("static", filename=f)
                                         for f in assets.VENDOR[pkg]["css"]], "vendor_css")
    # API answers as written: UTF-8 instead of \u escapes, keys in their order (sorting 100
    # features' keys cost more than encoding them).
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.before_request(_schema_ready)
    security.init_app(app)
    errors.init_app(app)
    return app


_SCHEMA_LOCK = threading.Lock()


def _schema_ready():
    """Migrate once per process before the first request, so `flask run` on a fresh instance
    serves an empty atlas instead of failing (`atlas init` also loads the curated data)."""
    if not current_app.extensions.get("atlas.schema_ready"):
        with _SCHEMA_LOCK:
            if not current_app.extensions.get("atlas.schema_ready"):
                get_store().create_schema()
                current_app.extensions["atlas.schema_ready"] = True


def _instance_secret(instance: Path) -> str:
    """A secret generated once per instance, so sessions survive restarts without configuration."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
