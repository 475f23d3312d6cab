"""The SQLite back end: an in-memory index of every published project's point.

SQLite has no spatial index: a radius search in SQL reads every row of the circle's box and
makes a Python object of each. The point index answers box, radius, region, district and field
filters, the count and the order with numpy, and only the page shown is read from the store. A
text search (`q`) still goes to SQL, with the distances measured in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from sqlalchemy import and_, case, select

from atlas.core.fields import FIELDS
from atlas.geo.geodesy import SPHERE_ERROR, distances_km, sphere_km
from atlas.geo.regions import REGIONS
from atlas.search.backend import Result
from atlas.search.filters import (
    MARKER_COLUMNS,
    ORDER,
    conditions,
    has_field,
    listing,
    marker_row,
)
from atlas.search.query import Near, Query
from atlas.store import Project, Store, VersionedCache

REGION_KEYS = list(REGIONS)
FIELD_KEYS = list(FIELDS)


def _language_masks(values: list) -> dict[str, np.ndarray]:
    """For each language some project works in, which positions do (their JSON lists)."""
    masks: dict[str, np.ndarray] = {}
    for position, codes in enumerate(values):
        if isinstance(codes, str):  # a plain fetch gives the JSON text
            codes = json.loads(codes)
        for code in codes or ():
            if code not in masks:
                masks[code] = np.zeros(len(values), dtype=bool)
            masks[code][position] = True
    return masks


@dataclass(frozen=True)
class PointIndex:
    """Every published project's point and filter keys as arrays, sorted by latitude; built
    once per data version and shared by the threads of a worker."""

    ids: np.ndarray  # str, in latitude order
    lat: np.ndarray
    lon: np.ndarray
    region: np.ndarray  # index into REGION_KEYS, -1 for none
    district: np.ndarray  # district key as int, -1 for none
    fields: np.ndarray  # bit i set: the project works in FIELD_KEYS[i]
    languages: dict  # ISO 639-1 code → bool per position: the project works in it (issue 16)
    order: dict  # sort → positions in that order
    rank: dict  # sort → place of each position in that order

    @classmethod
    def build(cls, store: Store) -> PointIndex:
        """Read in the name order of the SQL path (SQLite's lower() folds ASCII only), then
        sorted by latitude; ranks for the other orders come from numpy sorts."""
        flags = [case((has_field(slug), 1), else_=0) for slug in FIELD_KEYS]
        rows = store.fetch(
            select(
                Project.id,
                Project.lat,
                Project.lon,
                Project.created_at,
                Project.region,
                Project.district_code,
                Project.languages,
                *flags,
            )
            .where(Project.status == "published")
            .order_by(*ORDER["name"])
        )
        n = len(rows)
        cols = list(zip(*rows)) if rows else [()] * (7 + len(flags))
        lat = np.array(cols[1], dtype=float)
        by_lat = np.argsort(lat, kind="stable")  # index position → row (= name order)

        def column(values, dtype) -> np.ndarray:
            return np.array(values, dtype=dtype)[by_lat] if n else np.empty(0, dtype)

        def order_of(rank: np.ndarray) -> np.ndarray:
            order = np.empty(n, dtype=np.int64)
            order[rank] = np.arange(n)
            return order

        ids = column(cols[0], object)
        id_order = np.argsort(ids.astype(str), kind="stable")
        id_rank = order_of(id_order)
        created = np.unique(column(cols[3], object).astype(str), return_inverse=True)[1]
        newest_order = np.lexsort((id_rank, -created.reshape(-1)))
        region_of = {key: i for i, key in enumerate(REGION_KEYS)}
        fields = np.zeros(n, dtype=np.int32)
        for bit, values in enumerate(cols[7:]):
            fields |= column(values, np.int32) << bit
        name_rank = by_lat.astype(np.int64)
        return cls(
            ids=ids,
            lat=lat[by_lat],
            lon=column(cols[2], float),
            region=column([region_of.get(r, -1) for r in cols[4]], np.int8),
            district=column([int(c) if c else -1 for c in cols[5]], np.int32),
            fields=fields,
            languages=_language_masks([cols[6][k] for k in by_lat] if n else []),
            order={"id": id_order, "name": order_of(name_rank), "newest": newest_order},
            rank={"id": id_rank, "name": name_rank, "newest": order_of(newest_order)},
        )

    def _band(self, south: float, north: float) -> slice:
        return slice(
            int(np.searchsorted(self.lat, south, "left")),
            int(np.searchsorted(self.lat, north, "right")),
        )

    def select(self, query: Query) -> np.ndarray:
        """Positions of all matches, in the query's order as far as the page needs it: after
        offset + limit, a nearest-first answer is in no particular order."""
        band = slice(0, len(self.ids))
        boxes = [query.bbox] if query.bbox else []
        if query.near:
            boxes.append(query.near.box())
        for _minlon, minlat, _maxlon, maxlat in boxes:
            inner = self._band(minlat, maxlat)
            start = max(band.start, inner.start)
            band = slice(start, max(start, min(band.stop, inner.stop)))
        keep = np.ones(band.stop - band.start, dtype=bool)
        for minlon, minlat, maxlon, maxlat in boxes:
            lat, lon = self.lat[band], self.lon[band]
            keep &= (lon >= minlon) & (lon <= maxlon) & (lat >= minlat) & (lat <= maxlat)
        if query.region:
            keep &= self.region[band] == REGION_KEYS.index(query.region)
        if query.district:
            keep &= self.district[band] == int(query.district)
        if query.field:
            keep &= (self.fields[band] & (1 << FIELD_KEYS.index(query.field))) != 0
        if query.language:
            mask = self.languages.get(query.language)
            keep &= mask[band] if mask is not None else False
        found = np.flatnonzero(keep) + band.start
        if query.near:
            found, approx = self._within(query.near, found)
            if query.sort == "distance":
                return self._nearest_first(query, found, approx)
        return self._ordered(query.sort, found)

    def _within(self, near: Near, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The matches inside the geodesic circle, with their distances on the sphere.

        The sphere is within 1 % of the WGS84 geodesic (about 0.5 % at most), so it settles all
        but a thin ring near the edge; there, and for the page shown, pyproj measures exactly.
        """
        approx = sphere_km(near.lat, near.lon, self.lat[found], self.lon[found])
        r = near.radius_km
        maybe = approx <= r * (1 + SPHERE_ERROR)
        found, approx = found[maybe], approx[maybe]
        edge = np.flatnonzero(approx > r * (1 - SPHERE_ERROR))
        outside = edge[self.distances(near, found[edge]) > r]
        return np.delete(found, outside), np.delete(approx, outside)

    def _nearest_first(self, query: Query, found: np.ndarray, approx: np.ndarray) -> np.ndarray:
        """The first offset + limit matches by geodesic distance (then id), the rest after them.

        Only candidates that the sphere cannot rule out are measured exactly: a match beyond
        (1 + e) / (1 - e) times the k-th sphere distance cannot be among the first k."""
        k = query.offset + query.limit
        if len(found) > k:
            cutoff = np.partition(approx, k - 1)[k - 1]
            head = approx <= cutoff * (1 + SPHERE_ERROR) / (1 - SPHERE_ERROR) + 1e-9
        else:
            head = np.ones(len(found), dtype=bool)
        first, rest = found[head], found[~head]
        exact = self.distances(query.near, first)
        return np.concatenate([first[np.lexsort((self.rank["id"][first], exact))], rest])

    def _ordered(self, sort: str, found: np.ndarray) -> np.ndarray:
        if len(found) * 8 < len(self.ids):
            return found[np.argsort(self.rank[sort][found], kind="stable")]
        chosen = np.zeros(len(self.ids), dtype=bool)
        chosen[found] = True
        order = self.order[sort]
        return order[chosen[order]]

    def distances(self, near: Near, positions: np.ndarray) -> np.ndarray:
        return distances_km(near.lat, near.lon, self.lat[positions], self.lon[positions])


class SqliteBackend:
    """Searches on SQLite (and any database without PostGIS)."""

    def __init__(self):
        self._indexes = VersionedCache(2)

    def run(self, store: Store, query: Query) -> Result:
        if query.q or query.precision or query.updated:
            # Filters the point index does not hold: in SQL.
            return listing(store, query) if query.near is None else _near_in_sql(store, query)
        index = self._indexes.get(store, ("points",), lambda: PointIndex.build(store))
        found = index.select(query)
        page = found[query.offset : query.offset + query.limit]
        ids = list(index.ids[page])
        with store.session() as s:
            loaded = {
                p.id: p
                for p in s.scalars(
                    select(Project).where(Project.id.in_(ids), Project.status == "published")
                )
            }
        distances = index.distances(query.near, page).tolist() if query.near else [None] * len(ids)
        # A project unpublished since the index was built is left out of the page.
        return Result(len(found), [(loaded[i], d) for i, d in zip(ids, distances) if i in loaded])

    def markers(self, store: Store, query: Query) -> list[list]:
        with store.session() as s:
            rows = s.execute(select(*MARKER_COLUMNS).where(and_(*conditions(query)))).all()
        if query.near:
            dist = distances_km(
                query.near.lat, query.near.lon, [r[1] for r in rows], [r[2] for r in rows]
            )
            rows = [r for r, d in zip(rows, dist) if d <= query.near.radius_km]
        return [marker_row(r) for r in rows]


def _near_in_sql(store: Store, query: Query) -> Result:
    """A text search around a place: the rows of the text and the circle's box from SQL,
    distances measured on their plain columns; only the page shown is loaded as records."""
    with store.session() as s:
        rows = s.execute(
            select(Project.id, Project.lat, Project.lon, Project.name, Project.created_at).where(
                and_(*conditions(query))
            )
        ).all()
        n = query.near
        dist = distances_km(n.lat, n.lon, [r[1] for r in rows], [r[2] for r in rows])
        inside = np.flatnonzero(dist <= n.radius_km)
        if query.sort == "distance":
            order = inside[np.lexsort(([rows[i][0] for i in inside], dist[inside]))]
        elif query.sort == "name":
            order = sorted(inside, key=lambda i: (rows[i][3].encode().lower(), rows[i][0]))
        else:
            order = sorted(inside, key=lambda i: (-rows[i][4].timestamp(), rows[i][0]))
        page = list(order[query.offset : query.offset + query.limit])
        ids = [rows[i][0] for i in page]
        loaded = {p.id: p for p in s.scalars(select(Project).where(Project.id.in_(ids)))}
    return Result(len(inside), [(loaded[rows[i][0]], float(dist[i])) for i in page])
