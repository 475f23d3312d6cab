"""The app's shared state, reached from blueprints and commands: the store, the configured
geocoder, the rate limiter and the tile settings. The factory fills it; nothing here imports a
blueprint (like `get_db` in Flask's tutorial)."""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from atlas import search
from atlas.geo import geocoding
from atlas.store import Store
from atlas.web.maps import Tiles

#: Per-client limits on submitting, logging in and heavy requests (ATLAS_RATELIMIT_ENABLED=0
#: switches them off). Fixed windows: the login gives back attempts that did not fail, a step
#: down of the window's counter (atlas.web.auth.count_failures_only).
limiter = Limiter(key_func=get_remote_address, strategy="fixed-window")

#: Translations of the interface (gettext catalogues under atlas/translations). In code,
#: `from flask_babel import gettext as _` (or `lazy_gettext` at import time); in templates `_()`.
#: The language of a request: atlas.web.i18n.select_locale.
babel = Babel()


def _heavy_limit() -> str:
    return current_app.config["RATELIMIT_DOWNLOAD"]


def heavy(view):
    """Limit a view per client by ATLAS_RATELIMIT_DOWNLOAD: the endpoints whose answer is large
    or costly to build (downloads, coverage, the marker feed), each counted on its own. Over
    the limit, HTML pages get the German 429 page and /api/ a JSON error (atlas.web.errors)."""
    return limiter.limit(_heavy_limit)(view)


def builds_clusters(filters):
    """Limit a view that may build a cluster index (a second of CPU at 100,000 projects) by
    ATLAS_RATELIMIT_DOWNLOAD, shared by the map pages and /api/clusters; views of a filter set
    already built (`filters()` → the search filters of this request) do not count."""

    def ready() -> bool:
        try:
            query = search.parse(filters(), geocode=get_geocode())
        except search.BadQuery:
            return True  # answered with what is wrong, nothing built
        return search.clusters_ready(get_store(), query)

    return limiter.shared_limit(_heavy_limit, "cluster-builds", exempt_when=ready)


def get_store(app: Flask | None = None) -> Store:
    return (app or current_app).extensions["atlas.store"]


def get_tiles(app: Flask | None = None) -> Tiles:
    return Tiles.from_config((app or current_app).config.get("TILES"))


def get_geocode(app: Flask | None = None):
    """The configured geocoding function (query → answer dict): offline unless Nominatim is set."""
    app = app or current_app
    if "atlas.geocode" not in app.extensions:
        if app.config["GEOCODER"] != "nominatim":
            app.extensions["atlas.geocode"] = geocoding.resolve
        else:
            online = geocoding.online_geocoder(
                app.config["NOMINATIM_URL"],
                app.config["NOMINATIM_USER_AGENT"],
                min_delay_seconds=app.config["NOMINATIM_MIN_DELAY"],
                cache=get_store(app).cache(),
                # At most one request per NOMINATIM_MIN_DELAY across all processes (issue 20).
                throttle=get_store(app).throttle("nominatim", app.config["NOMINATIM_MIN_DELAY"]),
            )
            app.extensions["atlas.geocode"] = lambda q: geocoding.resolve(q, geocoder=online)
    return app.extensions["atlas.geocode"]
