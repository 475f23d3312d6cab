"""Finding projects: the filters of the map, the listing and the API, checked and run in one place.

Every parameter is validated here and a bad one raises BadQuery with a message that says what is
wrong, so the API answers 400 and the pages show the message, never a 500.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field as dataclass_field
from typing import Mapping

import numpy as np
from pyproj import Geod
from geoalchemy2 import Geography
from sqlalchemy import String, and_, cast, func, literal_column, select

from .fields import FIELDS
from .text import normalize
from .regions import REGIONS, district
from .store import Project, Store

RADII_KM = (5, 10, 25, 50)
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
    if query.near and postgres:
        cond.append(func.ST_DWithin(_GEOG, _pg_point(query.near), query.near.radius_km * 1000))
    elif query.near:
        n = query.near
        dlat = n.radius_km / 110.0
        dlon = n.radius_km / (110.0 * max(math.cos(math.radians(n.lat)), 0.01))
        cond += [Project.lat.between(n.lat - dlat, n.lat + dlat),
                 Project.lon.between(n.lon - dlon, n.lon + dlon)]
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
    cond = and_(*_conditions(query))
    with store.session() as s:
        if query.near is None:
            order = {"name": [func.lower(Project.name), Project.id],
                     "newest": [Project.created_at.desc(), Project.id]}[query.sort]
            total = s.scalar(select(func.count()).select_from(Project).where(cond))
            rows = s.scalars(select(Project).where(cond).order_by(*order)
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
            order = sorted(inside, key=lambda i: (rows[i][3].lower(), rows[i][0]))
        else:
            order = sorted(inside, key=lambda i: (-rows[i][4].timestamp(), rows[i][0]))
        page = list(order[query.offset:query.offset + query.limit])
        ids = [rows[i][0] for i in page]
        loaded = {p.id: p for p in s.scalars(select(Project).where(Project.id.in_(ids)))}
    return Result(len(inside), [(loaded[rows[i][0]], float(dist[i])) for i in page])


def _run_near_postgis(store: Store, query: Query) -> Result:
    """Radius by ST_DWithin and nearest-first by the KNN operator, both on the GiST index."""
    point = _pg_point(query.near)
    cond = and_(*_conditions(query, postgres=True))
    distance = func.ST_Distance(_GEOG, point)
    order = {"distance": [_GEOG.op("<->")(point), Project.id],
             "name": [func.lower(Project.name), Project.id],
             "newest": [Project.created_at.desc(), Project.id]}[query.sort]
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(Project).where(cond))
        rows = s.execute(select(Project, distance).where(cond).order_by(*order)
                         .limit(query.limit).offset(query.offset)).all()
    items = [(p, d / 1000.0) for p, d in rows]
    if query.sort == "distance":
        # <-> orders on the sphere; ST_Distance is on the spheroid. Keep the page consistent.
        items.sort(key=lambda pd: (pd[1], pd[0].id))
    return Result(total, items)


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
