"""What every response and request passes through: script nonces, the Content-Security-Policy
and the other security headers, and the refusal of NUL characters."""

from __future__ import annotations

import os
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


def _no_nul_bytes():
    """No text field of any database may hold NUL; refuse it before it reaches one."""
    values = [request.path, *request.args.values()]
    if request.method == "POST" and request.content_length:
        values += [v for v in request.form.values()]
    if any("\x00" in v for v in values):
        raise BadRequest("the request contains a NUL character")


def _security_headers(response):
    """No sniffing, no framing, no referrer beyond the origin, and scripts only from here."""
    tile_origin = get_tiles().origin or ""
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
                "frame-ancestors 'none'",
            ]
        ),
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    if current_app.config.get("EXPOSE_WORKER"):  # for tests of multi-process serving
        response.headers["X-Atlas-Worker"] = str(os.getpid())
    return response
