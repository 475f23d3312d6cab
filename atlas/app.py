"""The Flask application factory: configuration, instance folder, store."""
from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

from urllib.parse import urlencode

from datetime import timedelta

from flask import Flask, current_app, g, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from . import ROOT
from .store import Store


#: Per-client limits on submitting and logging in (ATLAS_RATELIMIT_ENABLED=0 switches them off).
limiter = Limiter(key_func=get_remote_address)


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

    from . import api, assets, coverage, moderation_pages, pages, submission_pages
    from .cli import register
    assets.local_assets(app.static_url_path)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(coverage.bp)
    app.register_blueprint(submission_pages.bp)
    app.register_blueprint(moderation_pages.bp)
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
    app.before_request(_nonce)
    app.before_request(_no_nul_bytes)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(Exception, _unexpected)
    register(app)
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


def _nonce():
    g.csp_nonce = secrets.token_urlsafe(16)


def _no_nul_bytes():
    """No text field of any database may hold NUL; refuse it before it reaches one."""
    values = [request.path, *request.args.values()]
    if request.method == "POST" and request.content_length:
        values += [v for v in request.form.values()]
    if any("\x00" in v for v in values):
        from werkzeug.exceptions import BadRequest
        raise BadRequest("the request contains a NUL character")


def _security_headers(response):
    """No sniffing, no framing, no referrer beyond the origin, and scripts only from here."""
    from .maps import Tiles
    tile_origin = Tiles.from_config(current_app.config.get("TILES")).origin or ""
    nonce = g.get("csp_nonce", "")
    response.headers.setdefault("Content-Security-Policy", "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        # Folium and Leaflet style elements inline; styles cannot run code.
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: {tile_origin}".strip(),
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    if current_app.config.get("EXPOSE_WORKER"):     # for tests of multi-process serving
        response.headers["X-Atlas-Worker"] = str(os.getpid())
    return response


ERROR_TEXTS = {
    404: ("Seite nicht gefunden", "Diese Seite gibt es nicht (mehr)."),
    405: ("Nicht erlaubt", "Diese Anfrage ist hier nicht möglich."),
    413: ("Zu groß", "Die gesendeten Daten sind zu groß."),
    429: ("Zu viele Anfragen", "Bitte warten Sie einen Moment und versuchen Sie es erneut."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _error_page(exc: HTTPException):
    if _wants_json():
        from .api import error
        return error(exc.description or exc.name, exc.code or 500)
    title, message = ERROR_TEXTS.get(exc.code, (exc.name, exc.description))
    return render_template("error.html", title=title, message=message), exc.code


def _unexpected(exc: Exception):
    """Last line: log the fault, answer plainly, never leak a traceback."""
    current_app.logger.exception("unexpected error on %s", request.path)
    if _wants_json():
        from .api import error
        return error("internal error; it has been logged", 500)
    return render_template("error.html", title="Fehler",
                           message="Etwas ist schiefgegangen. Der Fehler wurde protokolliert."), 500


def _instance_secret(instance: Path) -> str:
    """A secret generated once per instance, so sessions survive restarts without configuration."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def get_store(app: Flask | None = None) -> Store:
    return (app or current_app).extensions["atlas.store"]


def get_geocode(app: Flask | None = None):
    """The configured geocoding function (query → answer dict): offline unless Nominatim is set."""
    app = app or current_app
    if "atlas.geocode" not in app.extensions:
        from . import geocoding
        if app.config.get("GEOCODER", "offline") != "nominatim":
            app.extensions["atlas.geocode"] = geocoding.resolve
        else:
            online = geocoding.online_geocoder(
                app.config["NOMINATIM_URL"], app.config["NOMINATIM_USER_AGENT"],
                min_delay_seconds=float(app.config["NOMINATIM_MIN_DELAY"]),
                cache=get_store(app).cache())
            app.extensions["atlas.geocode"] = lambda q: geocoding.resolve(q, geocoder=online)
    return app.extensions["atlas.geocode"]
