"""The Flask application factory: it only assembles configuration, store, extensions and
blueprints; the shared state lives in `extensions`."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, current_app, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from atlas import config
from atlas.resources import STATIC_DIR, TEMPLATES_DIR, TRANSLATIONS_DIR
from atlas.store import Store
from atlas.web import (
    api,
    assets,
    auth,
    coverage,
    errors,
    i18n,
    moderation,
    pages,
    security,
    submit,
    wording,
)
from atlas.web.extensions import babel, get_store, limiter
from atlas.web.i18n import select_locale


def create_app(test_config: dict | None = None) -> Flask:
    instance = config.instance_path()
    app = Flask(
        "atlas",
        instance_relative_config=True,
        root_path=str(Path(__file__).parent),
        static_folder=str(STATIC_DIR),
        template_folder=str(TEMPLATES_DIR),
        instance_path=str(instance),
    )
    if not os.path.isdir(app.instance_path):
        # Only its owner may enter: it holds the SQLite file and the secret key.
        os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
        os.chmod(app.instance_path, 0o700)
    app.config.update(config.defaults(instance))
    app.config.from_prefixed_env("ATLAS")
    app.config.update(config.from_environ())
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.instance_secret(instance)
    app.extensions["atlas.store"] = Store(app.config["DATABASE_URL"])
    if app.config["PROXY_FIX"]:
        # Behind that many reverse proxies: the client's address (rate limits) and scheme come
        # from their X-Forwarded-For/-Proto headers, which only those proxies may set.
        hops = app.config["PROXY_FIX"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    limiter.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS_DIR),
    )
    auth.init_app(app)
    assets.local_assets(app.static_url_path)
    for blueprint in (pages.bp, api.bp, coverage.bp, submit.bp, moderation.bp):
        app.register_blueprint(blueprint)
    app.add_template_filter(lambda d: urlencode({k: v for k, v in d.items() if v}), "query_string")
    app.add_template_global(
        lambda pkg: [url_for("static", filename=f) for f in assets.VENDOR[pkg]["js"]], "vendor_js"
    )
    app.add_template_global(
        lambda pkg: [url_for("static", filename=f) for f in assets.VENDOR[pkg]["css"]], "vendor_css"
    )
    # API answers as written: UTF-8 instead of \u escapes, keys in the order the code put them
    # (sorting every feature's keys on each answer buys nothing a client needs).
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.before_request(_schema_ready)
    security.init_app(app)
    errors.init_app(app)
    wording.init_app(app)
    i18n.init_app(app)
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
