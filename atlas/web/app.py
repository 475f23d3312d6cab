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
    alerts,
    api,
    assets,
    auth,
    caching,
    confirm,
    coverage,
    demand,
    embed,
    errors,
    feeds,
    handout,
    i18n,
    imports,
    instances,
    moderation,
    ogc,
    pages,
    security,
    submit,
    wording,
)
from atlas.web.extensions import babel
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
    instances.configure_secret(app, instance)
    app.extensions["atlas.store"] = Store(app.config["DATABASE_URL"])
    hops = instances.trusted_proxies(app.config)
    if hops:
        # Behind that many reverse proxies: the client's address (rate limits, logs) and scheme
        # come from their X-Forwarded-For/-Proto headers, which only those proxies may set.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    instances.init_limiter(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS_DIR),
    )
    auth.init_app(app)
    assets.local_assets(app.static_url_path)
    for blueprint in (pages.bp, api.bp, coverage.bp, submit.bp, moderation.bp, ogc.bp, imports.bp):
        app.register_blueprint(blueprint)
    for blueprint in (feeds.bp, demand.bp, embed.bp, handout.bp, alerts.bp):  # issue 22
        app.register_blueprint(blueprint)
    app.add_template_filter(lambda d: urlencode({k: v for k, v in d.items() if v}), "query_string")
    app.add_template_global(
        lambda pkg: [
            url_for("static", filename=f, v=assets.fingerprint(f)) for f in assets.VENDOR[pkg]["js"]
        ],
        "vendor_js",
    )
    app.add_template_global(
        lambda pkg: [
            url_for("static", filename=f, v=assets.fingerprint(f))
            for f in assets.VENDOR[pkg]["css"]
        ],
        "vendor_css",
    )
    # API answers as written: UTF-8 instead of \u escapes, keys in the order the code put them
    # (sorting every feature's keys on each answer buys nothing a client needs).
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.before_request(_schema_ready)
    app.register_blueprint(instances.bp)
    security.init_app(app)
    errors.init_app(app)
    wording.init_app(app)
    confirm.init_app(app)  # issue 21
    caching.init_app(app)
    i18n.init_app(app)
    return app


_SCHEMA_LOCK = threading.Lock()


def _schema_ready():
    """Migrate once per process before the first request, so `flask run` on a fresh instance
    serves an empty atlas instead of failing (`atlas init` also loads the curated data); with
    several processes one migrates at a time (atlas.web.instances)."""
    if not current_app.extensions.get("atlas.schema_ready"):
        with _SCHEMA_LOCK:
            instances.schema_ready()
