"""Finding projects: the filters of the map, the listing and the API, checked and run in one place.

Every parameter is validated here and a bad one raises BadQuery with a message that says what is
wrong, so the API answers 400 and the pages show the message, never a 500.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field as dataclass_field, replace
from typing import Mapping

import numpy as np
from pyproj import Geod
from geoalchemy2 import Geography
from sqlalchemy import (ARRAY, Integer, String, and_, any_, bindparam, case, cast, func,
                        literal_column, or_, select, text)

from atlas.core.fields import FIELDS
from atlas.core.text import normalize
from atlas.geo.regions import REGIONS, district
from atlas.store import Project, Store, VersionedCache

RADII_KM = (5, 10, 25, 50)
REGION_KEYS = list(REGIONS)
FIELD_KEYS = list(FIELDS)
MAX_RADIUS_KM = 200
MAX_LIMIT = 1000
SORTS = ("name", "distance", "newest")
_GEOD = Geod(ellps="WGS84")
_LATLON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


class BadQuery(ValueError):
    """A parameter that cannot be used; `extra` carries candidates or suggestions for a place."""

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.extra = extra


@dataclass
class Near:
    lat: float
    lon: float
    label: str
    radius_km: float


@dataclass
class Query:
    region: str | None = None
    district: str | None = None
    field: str | None = None
    q: str | None = None
    near: Near | None = None
    bbox: tuple[float, float, float, float] | None = None
    sort: str = "name"
    limit: int = 100
    offset: int = 0
    args: dict = dataclass_field(default_factory=dict)


def _int(args: Mapping, name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise BadQuery(f"{name} '{raw}' is not a whole number") from None
    if not low <= value <= high:
        raise BadQuery(f"{name} must be between {low} and {high}, not {value}")
    return value


def parse(args: Mapping, *, geocode, default_limit: int = 100,
          max_limit: int = MAX_LIMIT) -> Query:
    """Check request parameters and turn them into a Query, resolving `near` with `geocode`."""
    query = Query(args={k: v for k, v in args.items() if v not in (None, "")})
    if region := (args.get("region") or "").strip():
        if region not in REGIONS:
            raise BadQuery(f"unknown region '{region}'; valid regions: {', '.join(REGIONS)}")
        query.region = region
    if code := (args.get("district") or "").strip():
        if district(code) is None:
            raise BadQuery(f"unknown district key '{code}'; use a 5-digit key such as 03241 "
                           f"(see /api/districts)")
        query.district = code
    if slug := (args.get("field") or "").strip():
        if slug not in FIELDS:
            raise BadQuery(f"unknown field '{slug}'; valid fields: {', '.join(FIELDS)}")
        query.field = slug
    query.q = " ".join((args.get("q") or "").split())[:200] or None
    if raw := (args.get("bbox") or "").strip():
        query.bbox = _bbox(raw)
    if near := (args.get("near") or "").strip():
        query.near = _near(near[:200], args.get("radius_km"), geocode)
    elif args.get("radius_km") not in (None, ""):
        _radius(args.get("radius_km"))
    sort = (args.get("sort") or "").strip() or ("distance" if query.near else "name")
    if sort not in SORTS:
        raise BadQuery(f"unknown sort '{sort}'; valid: {', '.join(SORTS)}")
    if sort == "distance" and not query.near:
        raise BadQuery("sort=distance needs a place in 'near'")
    query.sort = sort
    query.limit = _int(args, "limit", default_limit, 1, max_limit)
    query.offset = _int(args, "offset", 0, 0, 10_000_000)
    return query


def _bbox(raw: str) -> tuple[float, float, float, float]:
    parts = raw.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadQuery(f"bbox '{raw}' must be four numbers: minlon,minlat,maxlon,maxlat")
    minlon, minlat, maxlon, maxlat = values
    if not (-180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90):
        raise BadQuery(f"bbox '{raw}' is not a box: minlon < maxlon and minlat < maxlat, "
                       f"within -180..180 and -90..90")
    return values


def _radius(raw) -> float:
    try:
        radius = float(raw)
    except (TypeError, ValueError):
        raise BadQuery(f"radius_km '{raw}' is not a number") from None
    if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS_KM):
        raise BadQuery(f"radius_km must be more than 0 and at most {MAX_RADIUS_KM}, not {raw}")
    return radius


def _near(text: str, radius_raw, geocode) -> Near:
    radius = _radius(radius_raw) if radius_raw not in (None, "") else 25.0
    if m := _LATLON.match(text):
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise BadQuery(f"near '{text}' is not a valid 'lat,lon'")
        return Near(lat, lon, f"{lat:.5f}, {lon:.5f}", radius)
    answer = geocode(text)
    if answer["status"] == "ambiguous":
        raise BadQuery(f"place '{text}' is ambiguous; choose one of the candidates",
                       candidates=answer["candidates"])
    if answer["status"] != "ok":
        raise BadQuery(f"place '{text}' not found in Lower Saxony",
                       suggestions=answer.get("suggestions") or [])
    return Near(answer["lat"], answer["lon"], answer["label"], radius)


@dataclass
class Result:
    total: int
    items: list[tuple[Project, float | None]]


#: PostgreSQL only: the generated PostGIS columns of migration 0002 (not mapped on the model,
#: so SQLite never sees them).
_GEOM = literal_column("projects.geom")
_GEOG = literal_column("projects.geog")


def _pg_point(near: Near):
    return cast(func.ST_SetSRID(func.ST_MakePoint(near.lon, near.lat), 4326), Geography)


def has_field(slug: str):
    """Projects working in a field: a match on the JSON text, the same on SQLite and PostgreSQL."""
    return cast(Project.fields, String).like(f'%"{slug}"%')


def _conditions(query: Query, postgres: bool = False) -> list:
    cond = [Project.status == "published"]
    if query.region:
        cond.append(Project.region == query.region)
    if query.district:
        cond.append(Project.district_code == query.district)
    if query.field:
        cond.append(has_field(query.field))
    if query.q:
        for word in normalize(query.q).split():
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            cond.append(Project.search_text.like(f"%{escaped}%", escape="\\"))
    if query.bbox:
        minlon, minlat, maxlon, maxlat = query.bbox
        if postgres:
            cond.append(_GEOM.op("&&")(func.ST_MakeEnvelope(minlon, minlat, maxlon, maxlat, 4326)))
        cond += [Project.lon.between(minlon, maxlon), Project.lat.between(minlat, maxlat)]
    if query.near:
        minlon, minlat, maxlon, maxlat = _circle_box(query.near)
        cond += [Project.lat.between(minlat, maxlat), Project.lon.between(minlon, maxlon)]
    if query.near and postgres:
        # The box and the geography come from an index without reading rows (0005, and 0006 for
        # the count); ST_DWithin (spheroid) decides only in the thin ring between two ellipses,
        # where plain arithmetic on lat/lon cannot.
        inner, outer = _ellipses(query.near)
        cond.append(or_(_ellipse_sql(query.near, inner),
                        and_(_ellipse_sql(query.near, outer),
                             func.ST_DWithin(_GEOG, _pg_point(query.near),
                                             query.near.radius_km * 1000))))
    return cond


def distances_km(lat, lon, lats, lons) -> np.ndarray:
    """Geodesic distances (WGS84 ellipsoid) in km, vectorised: one point to many, or pairwise."""
    lat, lon, lats, lons = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                                 for v in (lat, lon, lats, lons)))
    _, _, metres = _GEOD.inv(np.ravel(lon), np.ravel(lat), np.ravel(lons), np.ravel(lats))
    return (np.asarray(metres) / 1000.0).reshape(lat.shape)


def run(store: Store, query: Query) -> Result:
    if query.near and store.is_postgres:
        return _run_near_postgis(store, query)
    if not store.is_postgres and not query.q:
        return _run_in_memory(store, query)
    cond = and_(*_conditions(query))
    with store.session() as s:
        if query.near is None:
            total = s.scalar(select(func.count()).select_from(Project).where(cond))
            rows = s.scalars(select(Project).where(cond).order_by(*_ORDER[query.sort])
                             .limit(query.limit).offset(query.offset)).all()
            return Result(total, [(p, None) for p in rows])
        # Distances on plain columns; only the page shown is loaded as whole records.
        rows = s.execute(select(Project.id, Project.lat, Project.lon, Project.name,
                                Project.created_at).where(cond)).all()
        n = query.near
        dist = distances_km(n.lat, n.lon, [r[1] for r in rows], [r[2] for r in rows])
        inside = np.flatnonzero(dist <= n.radius_km)
        if query.sort == "distance":
            order = inside[np.lexsort(([rows[i][0] for i in inside], dist[inside]))]
        elif query.sort == "name":
            order = sorted(inside, key=lambda i: (rows[i][3].encode().lower(), rows[i][0]))
        else:
            order = sorted(inside, key=lambda i: (-rows[i][4].timestamp(), rows[i][0]))
        page = list(order[query.offset:query.offset + query.limit])
        ids = [rows[i][0] for i in page]
        loaded = {p.id: p for p in s.scalars(select(Project).where(Project.id.in_(ids)))}
    return Result(len(inside), [(loaded[rows[i][0]], float(dist[i])) for i in page])


_ORDER = {"name": [func.lower(Project.name), Project.id],
          "newest": [Project.created_at.desc(), Project.id]}


@dataclass(frozen=True)
class PointIndex:
    """Every published project's point and filter keys as arrays, sorted by latitude.

    SQLite has no spatial index: a radius search read every row of the circle's box and made a
    Python object of each (89 ms at 25 km, 11,500 matches, 100,000 projects). Built once per
    data version, the index answers box, radius, region, district and field filters, the count
    and the order with numpy; only the page shown is read from the store.
    """
    ids: np.ndarray             # str, in latitude order
    lat: np.ndarray
    lon: np.ndarray
    region: np.ndarray          # index into REGION_KEYS, -1 for none
    district: np.ndarray        # district key as int, -1 for none
    fields: np.ndarray          # bit i set: the project works in FIELD_KEYS[i]
    order: dict                 # sort → positions in that order
    rank: dict                  # sort → place of each position in that order

    @classmethod
    def build(cls, store: Store) -> "PointIndex":
        """Read in the name order of the SQL path (SQLite's lower() folds ASCII only), then
        sorted by latitude; ranks for the other orders come from numpy sorts."""
        flags = [case((has_field(slug), 1), else_=0) for slug in FIELD_KEYS]
        rows = store.fetch(select(Project.id, Project.lat, Project.lon, Project.created_at,
                                  Project.region, Project.district_code, *flags)
                           .where(Project.status == "published").order_by(*_ORDER["name"]))
        n = len(rows)
        cols = list(zip(*rows)) if rows else [()] * (6 + len(flags))
        lat = np.array(cols[1], dtype=float)
        by_lat = np.argsort(lat, kind="stable")        # index position → row (= name order)

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
        for bit, values in enumerate(cols[6:]):
            fields |= column(values, np.int32) << bit
        name_rank = by_lat.astype(np.int64)
        return cls(ids=ids, lat=lat[by_lat], lon=column(cols[2], float),
                   region=column([region_of.get(r, -1) for r in cols[4]], np.int8),
                   district=column([int(c) if c else -1 for c in cols[5]], np.int32),
                   fields=fields,
                   order={"id": id_order, "name": order_of(name_rank), "newest": newest_order},
                   rank={"id": id_rank, "name": name_rank, "newest": order_of(newest_order)})

    def _band(self, south: float, north: float) -> slice:
        return slice(int(np.searchsorted(self.lat, south, "left")),
                     int(np.searchsorted(self.lat, north, "right")))

    def select(self, query: Query) -> np.ndarray:
        """Positions of all matches, in the query's order as far as the page needs it: after
        offset + limit, a nearest-first answer is in no particular order."""
        band = slice(0, len(self.ids))
        boxes = [query.bbox] if query.bbox else []
        if query.near:
            boxes.append(_circle_box(query.near))
        for minlon, minlat, maxlon, maxlat in boxes:
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
        maybe = approx <= r * (1 + _SPHERE_ERROR)
        found, approx = found[maybe], approx[maybe]
        edge = np.flatnonzero(approx > r * (1 - _SPHERE_ERROR))
        outside = edge[self.distances(near, found[edge]) > r]
        return np.delete(found, outside), np.delete(approx, outside)

    def _nearest_first(self, query: Query, found: np.ndarray, approx: np.ndarray) -> np.ndarray:
        """The first offset + limit matches by geodesic distance (then id), the rest after them.

        Only candidates that the sphere cannot rule out are measured exactly: a match beyond
        (1 + e) / (1 - e) times the k-th sphere distance cannot be among the first k."""
        k = query.offset + query.limit
        if len(found) > k:
            cutoff = np.partition(approx, k - 1)[k - 1]
            head = approx <= cutoff * (1 + _SPHERE_ERROR) / (1 - _SPHERE_ERROR) + 1e-9
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


#: Largest relative difference between sphere_km and the WGS84 geodesic that the index allows
#: for (the true one is about 0.5 %).
_SPHERE_ERROR = 0.01
_EARTH_KM = 6371.0088


def sphere_km(lat, lon, lats, lons) -> np.ndarray:
    """Great-circle distances on the mean sphere (haversine): a cheap bound, never an answer;
    distances shown or compared with a radius at the edge come from `distances_km`."""
    p1, p2 = np.radians(lat), np.radians(lats)
    h = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lons - lon) / 2) ** 2)
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def _circle_box(near: Near) -> tuple[float, float, float, float]:
    """A box around the geodesic circle, a little larger than it: a degree of latitude is at
    least 110.5 km, and the circle is widest in longitude at its side nearest the pole."""
    dlat = near.radius_km / 110.0
    pole_side = min(abs(near.lat) + dlat, 89.0)
    dlon = min(near.radius_km / (110.0 * math.cos(math.radians(pole_side))), 180.0)
    return near.lon - dlon, near.lat - dlat, near.lon + dlon, near.lat + dlat


#: WGS84: semi-major axis (km) and first eccentricity squared.
_WGS84_A = 6378.137
_WGS84_E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)


def _degree_km(lat: float) -> tuple[float, float]:
    """Kilometres per degree of latitude (meridian) and of longitude (parallel) at `lat`."""
    s2 = math.sin(math.radians(lat)) ** 2
    meridian = _WGS84_A * (1 - _WGS84_E2) / (1 - _WGS84_E2 * s2) ** 1.5
    parallel = _WGS84_A / math.sqrt(1 - _WGS84_E2 * s2) * math.cos(math.radians(lat))
    return math.radians(meridian), math.radians(max(parallel, 0.0))


def _ellipses(near: Near) -> tuple[tuple[float, float], tuple[float, float]]:
    """Squared km per degree (latitude, longitude) of two ellipses around the centre: a point
    with (Δlat·a)² + (Δlon·b)² ≤ r² is inside the geodesic circle with the inner (a, b), and
    outside it when that sum exceeds r² with the outer (a, b).

    Within the circle's latitude band a degree is at most / at least as long as at the band's
    edges. The straight line in lat/lon to a point is a path no longer than the inner sum, so
    the inner ellipse lies inside the circle; a geodesic of length ≤ r stays in the band (a
    degree of latitude is at least 110.57 km), where it is no shorter than the outer sum.
    """
    dlat = near.radius_km / 110.0
    far = min(abs(near.lat) + dlat, 90.0)
    close = max(abs(near.lat) - dlat, 0.0)
    (lat_far, lon_far), (lat_close, lon_close) = _degree_km(far), _degree_km(close)
    inner = (lat_far ** 2 * (1 + 1e-9), lon_close ** 2 * (1 + 1e-9))
    outer = (lat_close ** 2 * (1 - 1e-9), lon_far ** 2 * (1 - 1e-9))
    return inner, outer


def _ellipse_sql(near: Near, scale: tuple[float, float]):
    dlat, dlon = Project.lat - near.lat, Project.lon - near.lon
    return dlat * dlat * scale[0] + dlon * dlon * scale[1] <= near.radius_km ** 2


_INDEX = VersionedCache(2)


def _run_in_memory(store: Store, query: Query) -> Result:
    index = _INDEX.get(store, ("points",), lambda: PointIndex.build(store))
    found = index.select(query)
    page = found[query.offset:query.offset + query.limit]
    ids = list(index.ids[page])
    with store.session() as s:
        loaded = {p.id: p for p in s.scalars(select(Project).where(Project.id.in_(ids),
                                                                    Project.status == "published"))}
    distances = (index.distances(query.near, page).tolist() if query.near
                 else [None] * len(ids))
    # A project unpublished since the index was built is left out of the page.
    return Result(len(found), [(loaded[i], d) for i, d in zip(ids, distances) if i in loaded])


def _run_near_postgis(store: Store, query: Query) -> Result:
    """Radius by ST_DWithin, nearest first by the KNN operator on the GiST index.

    Without filters besides the place, the count rides along with the walk (one statement,
    no transaction: two round trips in all); a filter makes the walk's length unknown, so
    the count comes first and decides.
    """
    point = _pg_point(query.near)
    count = select(func.count()).select_from(Project).where(
        _lat_cells(query.near), *_conditions(query, postgres=True))
    k = query.offset + query.limit
    plain = query.sort == "distance" and k <= _WALK_UP_TO and not (
        query.region or query.district or query.field or query.q or query.bbox)
    if plain:
        with store.reader() as s:
            total, nearest = _nearest_postgis(s, query, point, count.scalar_subquery())
            if nearest is not None:
                return Result(total, _load_page(s, nearest[query.offset:min(k, total)]))
    with store.session() as s:
        total = s.scalar(count)
        # A plain search whose walk did not settle the page goes straight to the sort.
        if not plain and query.sort == "distance" and _WALK_FROM <= total and \
                k <= min(total, _WALK_UP_TO):
            # The planner cannot estimate the filters (a field, a text) and would sort every
            # match of the whole state instead (SET LOCAL: until this transaction ends).
            s.execute(text("SET LOCAL enable_sort = off"))
            _, nearest = _nearest_postgis(s, query, point)
            if nearest is not None:
                return Result(total, _load_page(s, nearest[query.offset:k]))
            s.execute(text("SET LOCAL enable_sort = on"))
        distance = func.ST_Distance(_GEOG, point)
        order = _ORDER.get(query.sort, [distance, Project.id])
        rows = s.execute(select(Project, distance)
                         .where(and_(*_conditions(query, postgres=True))).order_by(*order)
                         .limit(query.limit).offset(query.offset)).all()
    return Result(total, [(p, d / 1000.0) for p, d in rows])


#: The expression that leads the index of migration 0006: bands of 1/20 degree of latitude
#: (written as there, so the planner matches it).
_LAT_CELLS_PER_DEGREE = 20
_LAT_CELL = literal_column(f"CAST(floor(projects.lat * {_LAT_CELLS_PER_DEGREE}) AS INTEGER)")


def _lat_cells(near: Near):
    """The latitude bands of the circle's box, so the count reads that index band by band."""
    _, minlat, _, maxlat = _circle_box(near)
    cells = list(range(math.floor(minlat * _LAT_CELLS_PER_DEGREE),
                       math.floor(maxlat * _LAT_CELLS_PER_DEGREE) + 1))
    return _LAT_CELL == any_(bindparam("lat_cells", cells, type_=ARRAY(Integer)))


#: Below this many matches, sorting all of them is cheaper than walking the index with a
#: filter; a page deep down a long list is left to the sort as well.
_WALK_FROM, _WALK_UP_TO = 1000, 5000


def _load_page(session, page: list[tuple[str, float]]) -> list[tuple[Project, float]]:
    """The records of a page of (id, distance), in its order. One array parameter instead of
    an IN list: the same statement every time, so psycopg prepares it once. A project
    unpublished since its id was found is left out."""
    ids = bindparam("ids", [i for i, _ in page], type_=ARRAY(String))
    loaded = {p.id: p for p in session.scalars(
        select(Project).where(Project.id == any_(ids), Project.status == "published"))}
    return [(loaded[i], d) for i, d in page if i in loaded]


def _nearest_postgis(session, query: Query, point, total=None
                     ) -> tuple[int | None, list[tuple[str, float]] | None]:
    """Ids and spheroid distances (km) of the first offset + limit matches, from a walk of the
    GiST index, and the value of `total` (a scalar subquery) read in the same statement.

    `<->` walks nearest first on the sphere and stops after the rows it needs (no radius: the
    matches are the nearest `total` points). The walk takes 10 % more rows than needed, sorts
    them by spheroid distance, and the answer stands if no row beyond them can be nearer than
    the last one kept; otherwise (None) the caller sorts all matches in the radius.
    """
    k = query.offset + query.limit
    conditions = _conditions(replace(query, near=None), postgres=True)
    sphere = _GEOG.op("<->")(point)
    columns = [Project.id, func.ST_Distance(_GEOG, point), sphere]
    if total is not None:
        columns.append(total)
    rows = session.execute(select(*columns).where(and_(*conditions)).order_by(sphere)
                           .limit(k + k // 10 + 20)).all()
    counted = None if total is None else (rows[0][3] if rows else 0)
    nearest = sorted(((r[0], r[1] / 1000.0) for r in rows), key=lambda pd: (pd[1], pd[0]))
    farthest_walked = rows[-1][2] / 1000.0 if rows else 0.0
    if len(nearest) < k or farthest_walked / (1 + _SPHERE_ERROR) <= nearest[k - 1][1]:
        return counted, None
    return counted, nearest[:k]


def markers(store: Store, query: Query) -> list[list]:
    """Every match as [id, lat, lon, first field]: the compact feed for the clustered map."""
    postgres = store.is_postgres
    cond = and_(*_conditions(query, postgres))
    with store.session() as s:
        rows = s.execute(select(Project.id, Project.lat, Project.lon,
                                Project.fields[0].as_string()).where(cond)).all()
    if query.near and not postgres:
        dist = distances_km(query.near.lat, query.near.lon, [r[1] for r in rows],
                            [r[2] for r in rows])
        rows = [r for r, d in zip(rows, dist) if d <= query.near.radius_km]
    return [[r[0], round(r[1], 5), round(r[2], 5), r[3]] for r in rows]
