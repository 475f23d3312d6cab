"""Finding projects: the filters of the map, the listing and the API, checked and run in one place.

- `query`: request parameters checked and turned into a Query (BadQuery says what is wrong).
- `filters`: the SQL conditions and orders that both back ends share.
- `backend`: the Result of a search, and the interface every back end offers.
- `sqlite`: the back end for SQLite, an in-memory point index.
- `postgis`: the back end for PostgreSQL, PostGIS's indexes.
- `clusters`: the map's clusters for a view, from either back end's matches.

Distances come from `atlas.geo.geodesy` (pyproj, WGS84), re-exported here as `distances_km`.
"""

from __future__ import annotations

from atlas.geo.geodesy import distances_km
from atlas.search.backend import Backend, Result
from atlas.search.clusters import ClusterIndex, index_for, index_ready
from atlas.search.filters import has_field
from atlas.search.postgis import PostgisBackend
from atlas.search.query import (
    MAX_LIMIT,
    MAX_RADIUS_KM,
    RADII_KM,
    SORTS,
    BadQuery,
    Near,
    Query,
    parse,
)
from atlas.search.sqlite import SqliteBackend
from atlas.store import Store

__all__ = [
    "MAX_LIMIT",
    "MAX_RADIUS_KM",
    "RADII_KM",
    "SORTS",
    "Backend",
    "BadQuery",
    "ClusterIndex",
    "Near",
    "Query",
    "Result",
    "backend_for",
    "clusters",
    "clusters_ready",
    "distances_km",
    "has_field",
    "markers",
    "parse",
    "run",
]

_POSTGIS = PostgisBackend()
_SQLITE = SqliteBackend()


def backend_for(store: Store) -> Backend:
    """The back end for the store's database: PostGIS on PostgreSQL, else the point index."""
    return _POSTGIS if store.is_postgres else _SQLITE


def run(store: Store, query: Query) -> Result:
    """The count and the page of a query, in its order."""
    return backend_for(store).run(store, query)


def markers(store: Store, query: Query) -> list[list]:
    """Every match as [id, lat, lon, first field, name]: the compact feed for the clustered map
    (the name is each marker's accessible name)."""
    return backend_for(store).markers(store, query)


def clusters(store: Store, query: Query) -> ClusterIndex:
    """The cluster hierarchy of a query's matches (its bbox is the view, not a filter), built
    once per data version and filter set and shared by the threads of a worker."""
    return index_for(store, query, backend_for(store))


def clusters_ready(store: Store, query: Query) -> bool:
    """Whether `clusters(store, query)` is built already (answers at once)."""
    return index_ready(store, query)
