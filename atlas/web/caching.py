"""HTTP caching of answers built from the published projects: an ETag from the store's data
version, and 304 Not Modified when the client already holds that version.

Decorate a data endpoint with `@data_versioned`: its 200 answers carry an ETag from the data
version and the request's path and query, and `Cache-Control: no-cache` (a client keeps the
answer but asks again; the question is cheap, the answer often a 304 without a body).
"""

from __future__ import annotations

import hashlib
from functools import wraps

from flask import Flask, Response, make_response, request
from flask_compress import Compress

from atlas.store import utcnow
from atlas.web.assets import fingerprint
from atlas.web.extensions import get_store


def data_etag(*extra) -> str:
    """A strong ETag for this request's answer at the current data version."""
    version = get_store().data_version()
    # The day too: an entry turns unconfirmed by time alone (issue 21), with no data change.
    day = utcnow().date()
    raw = "|".join(map(str, (version, day, request.path, request.query_string.decode(), *extra)))
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


def client_holds(tag: str) -> bool:
    """The client's copy (If-None-Match) is the answer with this ETag; Flask-Compress marks a
    compressed answer's ETag "<tag>:gzip", which counts as the same."""
    return tag in {t.split(":", 1)[0] for t in request.if_none_match.as_set()}


def data_versioned(view):
    """Answer 304 when the client's copy (If-None-Match) is of the current data version;
    otherwise the view's answer, with that version's ETag when it is a 200."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        tag = data_etag()
        if client_holds(tag):
            response = Response(status=304)
        else:
            response = make_response(view(*args, **kwargs))
            if response.status_code != 200:
                return response
        response.set_etag(tag)
        response.cache_control.no_cache = True
        return response

    return wrapper


#: Answers worth compressing (Flask-Compress, gzip) from COMPRESS_MIN_SIZE bytes on.
COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "image/svg+xml",
]
#: A year: vendored files are asked for with their content's fingerprint (`?v=`), so new
#: content is a new URL.
IMMUTABLE_SECONDS = 365 * 24 * 3600

compress = Compress()


def init_app(app: Flask) -> None:
    """gzip for HTML, JSON, GeoJSON, scripts and styles above a small size; streamed answers
    (the downloads, sent by the server's file wrapper) stay streamed and uncompressed; vendored
    files asked for by fingerprint are cached for a year."""
    app.config.setdefault("COMPRESS_ALGORITHM", ["gzip"])
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    app.config.setdefault("COMPRESS_STREAMS", False)
    compress.init_app(app)
    # Registered after Flask-Compress, so it runs before it (after_request runs in reverse).
    app.after_request(_static_in_memory)


def _static_in_memory(response: Response) -> Response:
    """A static file read into the answer (they are small), so Flask-Compress compresses it;
    a vendored file asked for by its fingerprint is cached for a year."""
    if request.endpoint != "static" or response.status_code != 200:
        return response
    if response.is_streamed and response.mimetype in COMPRESSED_TYPES:
        response.direct_passthrough = False
        response.set_data(response.get_data())
    filename = (request.view_args or {}).get("filename", "")
    if filename.startswith("vendor/") and request.args.get("v") == fingerprint(filename):
        response.cache_control.public = True
        response.cache_control.max_age = IMMUTABLE_SECONDS
        response.cache_control.immutable = True
    return response
