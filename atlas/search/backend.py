"""What a search answers, and what every back end offers.

A back end answers searches on one kind of database (`atlas.search.backend_for` picks it by
the store's dialect): `sqlite.SqliteBackend` keeps the points in memory, because SQLite has
no spatial index; `postgis.PostgisBackend` leaves them to PostGIS's indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from atlas.search.query import Query
from atlas.store import Project, Store


@dataclass
class Result:
    """The number of all matches, and the page asked for: each project with its distance in km
    from the place searched (None without a place)."""

    total: int
    items: list[tuple[Project, float | None]]


class Backend(Protocol):
    def run(self, store: Store, query: Query) -> Result:
        """The count and the page of a query, in its order."""

    def markers(self, store: Store, query: Query) -> list[list]:
        """Every match as [id, lat, lon, first field, name]: the compact feed for the clustered
        map."""
