"""What every response and request passes through: script nonces, the Content-Security-Policy
and the other security headers (HSTS behind HTTPS, no caching of private pages), and the
refusal of NUL and other control characters in any part of a request."""

from __future__ import annotations

import os
import re
import secrets

from flask import Flask, current_app, g, request
from werkzeug.exceptions import BadRequest

from atlas.web.extensions import get_tiles


def init_app(app: Flask) -> None:
    app.before_request(_nonce)
    app.before_request(_no_nul_bytes)
    app.after_request(_security_headers)


def _nonce():
    g.csp_nonce = secrets.token_urlsafe(16)


#: NUL and the other C0 control characters but tab, line feed and carriage return, and DEL: no
#: form, query or API value needs them, and NUL cannot be stored in PostgreSQL text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Pages with personal data or a session: never kept by a browser or a proxy.
PRIVATE_PREFIXES = ("/einreichen", "/einreichung/", "/verwaltung/")


def _strings(value):
    """Every text in a parsed JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _no_nul_bytes():
    """No control character (NUL above all) in the path, the query or the body, whatever its
    type: form fields and file names, the texts of a JSON body, the bytes of any other body."""
    values = [request.path, *request.args.keys(), *request.args.values()]
    if request.content_length or request.headers.get("Transfer-Encoding"):
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += [*request.form.keys(), *request.form.values()]
            values += [f.filename or "" for f in request.files.values()]
        elif request.is_json:
            data = request.get_data(cache=True)
            if _CONTROL_BYTES.search(data):
                raise BadRequest("the request contains a control character")
            values += list(_strings(request.get_json(silent=True)))
        elif _CONTROL_BYTES.search(request.get_data(cache=True)):
            raise BadRequest("the request contains a control character")
    if any(_CONTROL.search(v) for v in values):
        raise BadRequest("the request contains a NUL or another control character")


#: Pages other sites may frame (issue 22's embeds); every other page refuses framing.
EMBED_PREFIX = "/embed/"


def _frame_ancestors() -> str:
    """Who may frame this page: nobody, or for the embeds ATLAS_EMBED_ORIGINS (any site if empty)."""
    if not request.path.startswith(EMBED_PREFIX):
        return "'none'"
    return " ".join(current_app.config.get("EMBED_ORIGINS", "").replace(",", " ").split()) or "*"


def _security_headers(response):
    """No sniffing, no framing (but the embeds), no referrer beyond the origin, and scripts
    only from here."""
    tile_origin = get_tiles().origin or ""
    ancestors = _frame_ancestors()
    nonce = g.get("csp_nonce", "")
    response.headers.setdefault(
        "Content-Security-Policy",
        "; ".join(
            [
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
                f"frame-ancestors {ancestors}",
            ]
        ),
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if ancestors == "'none'":
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    if request.path.startswith(PRIVATE_PREFIXES):
        response.headers["Cache-Control"] = "no-store"
    if current_app.config.get("SESSION_COOKIE_SECURE"):  # served over HTTPS only
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if current_app.config.get("EXPOSE_WORKER"):  # for tests of multi-process serving
        response.headers["X-Atlas-Worker"] = str(os.getpid())
    return response
