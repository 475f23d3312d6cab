"""The PostgreSQL back end: searches around a place on PostGIS's indexes.

The radius count reads an index without reading rows: two ellipses bound the geodesic circle
from inside and outside, and only the thin ring between them is measured (`ST_DWithin`, on the
spheroid). The nearest-first page comes from a walk of the GiST index (`<->`, KNN); when the
walk cannot vouch for its page, all matches are sorted by distance. A search without a place is
the plain SQL listing.
"""

from __future__ import annotations

import math
from dataclasses import replace

from geoalchemy2 import Geography
from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
)

import atlas.search.filters as filters
from atlas.geo.geodesy import SPHERE_ERROR, degree_km, latitude_reach
from atlas.search.backend import Result
from atlas.search.query import Near, Query
from atlas.store import Project, Store

#: The generated PostGIS columns of migration 0002 (not mapped on the model, so SQLite never
#: sees them).
_GEOM = literal_column("projects.geom")
_GEOG = literal_column("projects.geog")

#: The expression that leads the index of migration 0006: bands of 1/20 degree of latitude
#: (written as there, so the planner matches it).
_LAT_CELLS_PER_DEGREE = 20
_LAT_CELL = literal_column(f"CAST(floor(projects.lat * {_LAT_CELLS_PER_DEGREE}) AS INTEGER)")

#: Below this many matches, sorting all of them is cheaper than walking the index with a
#: filter; a page deep down a long list is left to the sort as well.
_WALK_FROM, _WALK_UP_TO = 1000, 5000


class PostgisBackend:
    """Searches on PostgreSQL with PostGIS (migrations 0002, 0005 and 0006)."""

    def run(self, store: Store, query: Query) -> Result:
        """Radius by ST_DWithin, nearest first by the KNN operator on the GiST index.

        Without filters besides the place, the count rides along with the walk (one statement,
        no transaction: two round trips in all); a filter makes the walk's length unknown, so
        the count comes first and decides.
        """
        if query.near is None:
            return filters.listing(store, query)
        point = _point(query.near)
        count = (
            select(func.count())
            .select_from(Project)
            .where(_lat_cells(query.near), *_conditions(query))
        )
        k = query.offset + query.limit
        plain = (
            query.sort == "distance"
            and k <= _WALK_UP_TO
            and not (
                query.region
                or query.district
                or query.field
                or query.language
                or query.q
                or query.bbox
                or query.precision
                or query.updated
            )
        )
        if plain:
            with store.reader() as s:
                total, nearest = _nearest(s, query, point, count.scalar_subquery())
                if nearest is not None:
                    return Result(total, _load_page(s, nearest[query.offset : min(k, total)]))
        with store.session() as s:
            total = s.scalar(count)
            # A plain search whose walk did not settle the page goes straight to the sort.
            if (
                not plain
                and query.sort == "distance"
                and _WALK_FROM <= total
                and k <= min(total, _WALK_UP_TO)
            ):
                # The planner cannot estimate the filters (a field, a text) and would sort
                # every match of the whole state instead (SET LOCAL: until this transaction
                # ends).
                s.execute(text("SET LOCAL enable_sort = off"))
                _, nearest = _nearest(s, query, point)
                if nearest is not None:
                    return Result(total, _load_page(s, nearest[query.offset : k]))
                s.execute(text("SET LOCAL enable_sort = on"))
            distance = func.ST_Distance(_GEOG, point)
            order = filters.ORDER.get(query.sort, [distance, Project.id])
            rows = s.execute(
                select(Project, distance)
                .where(and_(*_conditions(query)))
                .order_by(*order)
                .limit(query.limit)
                .offset(query.offset)
            ).all()
        return Result(total, [(p, d / 1000.0) for p, d in rows])

    def markers(self, store: Store, query: Query) -> list[list]:
        with store.session() as s:
            rows = s.execute(select(*filters.MARKER_COLUMNS).where(and_(*_conditions(query)))).all()
        return [filters.marker_row(r) for r in rows]


def _point(near: Near):
    return cast(func.ST_SetSRID(func.ST_MakePoint(near.lon, near.lat), 4326), Geography)


def _conditions(query: Query) -> list:
    """The shared conditions, exact for PostGIS: a bbox also as a test of the geometry's
    envelope, written before the plain box comparisons (PostgreSQL keeps the written order
    among filters of equal cost), and a place as its geodesic circle."""
    envelope = [_GEOM.op("&&")(func.ST_MakeEnvelope(*query.bbox, 4326))] if query.bbox else []
    circle = []
    if query.near:
        # The box and the geography come from an index without reading rows (0005, and 0006
        # for the count); ST_DWithin (spheroid) decides only in the thin ring between two
        # ellipses, where plain arithmetic on lat/lon cannot.
        inner, outer = ellipses(query.near)
        circle.append(
            or_(
                _inside_ellipse(query.near, inner),
                and_(
                    _inside_ellipse(query.near, outer),
                    func.ST_DWithin(_GEOG, _point(query.near), query.near.radius_km * 1000),
                ),
            )
        )
    return filters.attributes(query) + envelope + filters.boxes(query) + circle


def ellipses(near: Near) -> tuple[tuple[float, float], tuple[float, float]]:
    """Squared km per degree (latitude, longitude) of two ellipses around the centre: a point
    with (Δlat·a)² + (Δlon·b)² ≤ r² is inside the geodesic circle with the inner (a, b), and
    outside it when that sum exceeds r² with the outer (a, b).

    Within the circle's latitude band a degree is at most / at least as long as at the band's
    edges. The straight line in lat/lon to a point is a path no longer than the inner sum, so
    the inner ellipse lies inside the circle; a geodesic of length ≤ r stays in the band (a
    degree of latitude is at least 110.57 km), where it is no shorter than the outer sum.
    """
    dlat = latitude_reach(near.radius_km)
    far = min(abs(near.lat) + dlat, 90.0)
    close = max(abs(near.lat) - dlat, 0.0)
    (lat_far, lon_far), (lat_close, lon_close) = degree_km(far), degree_km(close)
    inner = (lat_far**2 * (1 + 1e-9), lon_close**2 * (1 + 1e-9))
    outer = (lat_close**2 * (1 - 1e-9), lon_far**2 * (1 - 1e-9))
    return inner, outer


def _inside_ellipse(near: Near, scale: tuple[float, float]):
    dlat, dlon = Project.lat - near.lat, Project.lon - near.lon
    return dlat * dlat * scale[0] + dlon * dlon * scale[1] <= near.radius_km**2


def _lat_cells(near: Near):
    """The latitude bands of the circle's box, so the count reads that index band by band."""
    _, minlat, _, maxlat = near.box()
    cells = list(
        range(
            math.floor(minlat * _LAT_CELLS_PER_DEGREE),
            math.floor(maxlat * _LAT_CELLS_PER_DEGREE) + 1,
        )
    )
    return _LAT_CELL == any_(bindparam("lat_cells", cells, type_=ARRAY(Integer)))


def _load_page(session, page: list[tuple[str, float]]) -> list[tuple[Project, float]]:
    """The records of a page of (id, distance), in its order. One array parameter instead of
    an IN list: the same statement every time, so psycopg prepares it once. A project
    unpublished since its id was found is left out."""
    ids = bindparam("ids", [i for i, _ in page], type_=ARRAY(String))
    loaded = {
        p.id: p
        for p in session.scalars(
            select(Project).where(Project.id == any_(ids), Project.status == "published")
        )
    }
    return [(loaded[i], d) for i, d in page if i in loaded]


def _nearest(
    session, query: Query, point, total=None
) -> tuple[int | None, list[tuple[str, float]] | None]:
    """Ids and spheroid distances (km) of the first offset + limit matches, from a walk of the
    GiST index, and the value of `total` (a scalar subquery) read in the same statement.

    `<->` walks nearest first on the sphere and stops after the rows it needs (no radius: the
    matches are the nearest `total` points). The walk takes 10 % more rows than needed, sorts
    them by spheroid distance, and the answer stands if no row beyond them can be nearer than
    the last one kept; otherwise (None) the caller sorts all matches in the radius.
    """
    k = query.offset + query.limit
    conditions = _conditions(replace(query, near=None))
    sphere = _GEOG.op("<->")(point)
    columns = [Project.id, func.ST_Distance(_GEOG, point), sphere]
    if total is not None:
        columns.append(total)
    rows = session.execute(
        select(*columns).where(and_(*conditions)).order_by(sphere).limit(k + k // 10 + 20)
    ).all()
    counted = None if total is None else (rows[0][3] if rows else 0)
    nearest = sorted(((r[0], r[1] / 1000.0) for r in rows), key=lambda pd: (pd[1], pd[0]))
    farthest_walked = rows[-1][2] / 1000.0 if rows else 0.0
    if len(nearest) < k or farthest_walked / (1 + SPHERE_ERROR) <= nearest[k - 1][1]:
        return counted, None
    return counted, nearest[:k]
