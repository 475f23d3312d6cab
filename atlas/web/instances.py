"""Running several instances on one database (issue 20): one secret for all, the real client
behind reverse proxies, rate limits in a shared store, safe start-up, and `GET /healthz` for
the load balancer.

Misconfiguration stops the start with one line (`config.ConfigurationProblem`, printed by the
CLI without a traceback), never a silent fallback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, jsonify, request
from flask_babel import gettext as _
from limits.errors import ConfigurationError

from atlas import config
from atlas.web import outbox_worker
from atlas.web.extensions import get_store, limiter

log = logging.getLogger("atlas.instances")
bp = Blueprint("instances", __name__)


def configure_secret(app: Flask, instance: Path) -> None:
    """SECRET_KEY as configured, else read from SECRET_KEY_FILE, else generated once into the
    instance folder (then marked, so `atlas serve` can refuse it where it cannot be shared)."""
    if app.config.get("SECRET_KEY"):
        return
    if app.config.get("SECRET_KEY_FILE"):
        app.config["SECRET_KEY"] = config.secret_from_file(app.config["SECRET_KEY_FILE"])
        return
    app.config["SECRET_KEY"] = config.instance_secret(instance)
    app.extensions["atlas.generated_secret"] = True


def trusted_proxies(settings) -> int:
    """How many reverse proxies to trust: TRUSTED_PROXIES, or the old name PROXY_FIX."""
    hops = settings.get("TRUSTED_PROXIES") or 0
    legacy = settings.get("PROXY_FIX") or os.environ.get(config.PREFIX + "PROXY_FIX")
    if not hops and legacy:
        hops = config.parse("TRUSTED_PROXIES", str(legacy))
    if hops < 0:
        raise config.ConfigurationProblem(
            f"ATLAS_TRUSTED_PROXIES={hops}: must be 0 (no proxy) or the number of proxies"
        )
    return hops


def init_limiter(app: Flask) -> None:
    """Flask-Limiter on ATLAS_RATELIMIT_STORAGE_URI; a store whose client library is missing
    is named with the extra that brings it."""
    try:
        limiter.init_app(app)
    except ConfigurationError as exc:
        uri = app.config["RATELIMIT_STORAGE_URI"]
        hint = ""
        if uri.split(":", 1)[0].startswith("redis"):
            hint = " (install the client: pip install 'gemeinsame-sache-atlas[redis]')"
        raise config.ConfigurationProblem(
            f"ATLAS_RATELIMIT_STORAGE_URI={_safe(uri)}: {exc}{hint}"
        ) from None


def _safe(uri: str) -> str:
    """A storage URI without its password."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://…@{rest.rsplit('@', 1)[1]}"
    return uri


def startup_checks(app: Flask, workers: int = 1) -> list[str]:
    """What `atlas serve` (and the WSGI entry point) checks before serving: raises
    ConfigurationProblem for what would break, returns notices to print for the rest."""
    notices = []
    if app.extensions.get("atlas.generated_secret"):
        store = get_store(app)
        if store.is_postgres or workers > 1:
            where = "a PostgreSQL database" if store.is_postgres else f"{workers} workers"
            raise config.ConfigurationProblem(
                f"With {where} every process must sign sessions and forms with the same key: "
                "set ATLAS_SECRET_KEY (e.g. to the output of "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`) or "
                "ATLAS_SECRET_KEY_FILE to a file holding it, the same for every instance."
            )
    if app.config.get("RATELIMIT_ENABLED", True):
        uri = app.config["RATELIMIT_STORAGE_URI"]
        if uri.startswith("memory://"):
            if workers > 1:
                notices.append(
                    f"Note: rate limits are counted per worker ({workers} workers, "
                    "ATLAS_RATELIMIT_STORAGE_URI=memory://); set it to redis://… to share them."
                )
        elif not limiter.storage.check():
            raise config.ConfigurationProblem(
                f"ATLAS_RATELIMIT_STORAGE_URI={_safe(uri)}: the rate-limit store does not "
                "answer; start it or correct the address."
            )
    return notices


# --- health and schema ------------------------------------------------------------------------


@bp.get("/healthz")
def healthz():
    """For the load balancer: is the database reachable, at which schema revision, and is it
    one this release can serve (current, or newer after a rolling upgrade)."""
    try:
        state = get_store().schema_state()
    except Exception as exc:  # the database is down: say so, do not fail
        log.warning("health check: database unreachable: %s", exc)
        return jsonify({"database": False, "schema": None, "expected": None, "current": False}), 503
    body = {
        "database": True,
        "schema": state.revision,
        "expected": state.head,
        "current": state.status == "current",
        "status": state.status,
    }
    return jsonify(body), 200 if state.usable else 503


def _NOT_READY() -> str:
    return _("Die Datenbank ist gerade nicht bereit. Bitte versuchen Sie es gleich noch einmal.")


def schema_ready() -> None:
    """Before the first request of a process: migrate (one process at a time) or find the
    schema newer and serve. If that fails (database down, migration refused), answer 503 with
    a plain German page and try again on the next request, never a 500 on every one."""
    app = current_app
    if app.extensions.get("atlas.schema_ready") or request.endpoint == "instances.healthz":
        return
    try:
        state = get_store().create_schema()
    except Exception:
        log.exception("the database schema is not ready")
        abort(503, _NOT_READY())
    if not state.usable:
        abort(503, _NOT_READY())
    app.extensions["atlas.schema_ready"] = True
    outbox_worker.start(current_app._get_current_object())
