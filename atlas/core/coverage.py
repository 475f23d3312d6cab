"""Coverage for the regional offices (ArL): where the atlas is dense and where the white spots are.

Counts come from the store in one grouped query per view; population and area of the districts
from atlas.geo.regions (Destatis); municipality centres and their population from the gazetteer
(GeoNames). White spots are municipalities whose centre is farther than a chosen distance from
the nearest published project of a field, by geodesic distance on the WGS84 ellipsoid.

The figures only: the pages, maps and charts that show them live in atlas.web.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import shapely
from pyproj import Transformer
from sqlalchemy import and_, case, func, select

from atlas.core import tables
from atlas.core.fields import FIELDS
from atlas.core.reminders import unanswered_ids
from atlas.core.text import normalize
from atlas.geo import regions
from atlas.geo.geocoding import gazetteer
from atlas.search import BadQuery, distances_km, has_field
from atlas.store import Project, Store, VersionedCache, utcnow

DEFAULT_DISTANCE_KM = 15.0
MAX_DISTANCE_KM = 100.0
PER = 100_000
#: Grid distance in UTM 32N over geodesic distance stays within 0.9996…1.0002 across Lower Saxony
#: and within 1 % up to about 900 km east or west of 9° E; so a 1 % margin on the grid nearest
#: keeps every target that could be the geodesic nearest among the exact candidates.
PLANAR_MARGIN = 1.01
_TO_PLANE = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)

MUNICIPALITY_SOURCE = (
    "Gemeindemittelpunkte: Hauptort nach GeoNames oder Mittelpunkt der "
    "Gemeindefläche (© GeoBasis-DE / BKG 2016); Einwohner der Gemeinden: "
    "GeoNames (CC BY 4.0), eine Näherung – Gemeinden ohne Angabe zählen mit 0 "
    "Einwohnern"
)
ATTRIBUTION = regions.ATTRIBUTION + "; Gemeinden: GeoNames (CC BY 4.0)"

SORT_KEYS = ("code", "name", "population", "projects", "per_100k", *FIELDS)


# --- parameters ---------------------------------------------------------------------------------


@dataclass
class Params:
    region: str
    field: str | None
    distance_km: float


def parse(args: Mapping, region: str | None = None) -> Params:
    """Check region, field and distance; BadQuery says in English what is wrong (German in
    .extra)."""
    slug = (region if region is not None else args.get("region") or "").strip()
    if not slug:
        raise BadQuery(
            f"parameter region is missing; valid regions: {', '.join(regions.REGIONS)}",
            code="no_region",
            de="Bitte wählen Sie eine Region.",
        )
    if slug not in regions.REGIONS:
        raise BadQuery(
            f"unknown region '{slug}'; valid regions: {', '.join(regions.REGIONS)}",
            code="unknown_region",
            de=f"Die Region „{slug}“ gibt es nicht.",
        )
    field = parse_field(args)
    raw = str(args.get("distance_km") or "").strip()
    distance = DEFAULT_DISTANCE_KM
    if raw:
        try:
            distance = float(raw.replace(",", "."))
        except ValueError:
            raise BadQuery(
                f"distance_km '{raw}' is not a number",
                code="not_a_distance",
                params={"raw": raw},
                de=f"Die Entfernung „{raw}“ ist keine Zahl.",
            ) from None
        if not (math.isfinite(distance) and 0 < distance <= MAX_DISTANCE_KM):
            raise BadQuery(
                f"distance_km must be more than 0 and at most {MAX_DISTANCE_KM:g}, not {raw}",
                code="bad_distance",
                params={"max": MAX_DISTANCE_KM},
                de=f"Die Entfernung muss größer als 0 und höchstens {MAX_DISTANCE_KM:g} km sein.",
            )
    return Params(slug, field, distance)


def parse_field(args: Mapping) -> str | None:
    field = str(args.get("field") or "").strip() or None
    if field is not None and field not in FIELDS:
        raise BadQuery(
            f"unknown field '{field}'; valid fields: {', '.join(FIELDS)}",
            code="unknown_field",
            de=f"Das Handlungsfeld „{field}“ gibt es nicht.",
        )
    return field


def parse_sort(args: Mapping) -> tuple[str, str]:
    """The district table's column and direction ("asc" or "desc"); names ascend, counts descend
    unless the order says otherwise."""
    sort = (args.get("sort") or "code").strip()
    if sort not in SORT_KEYS:
        raise BadQuery(
            f"unknown sort '{sort}'; valid: {', '.join(SORT_KEYS)}",
            code="unknown_sort",
            de=f"Nach „{sort}“ kann die Tabelle nicht sortiert werden.",
        )
    order = (args.get("order") or ("asc" if sort in ("code", "name") else "desc")).strip()
    if order not in ("asc", "desc"):
        raise BadQuery(
            f"order must be asc or desc, not '{order}'",
            code="unknown_order",
            de="Die Sortierrichtung muss „asc“ oder „desc“ sein.",
        )
    return sort, order


# --- counting -----------------------------------------------------------------------------------

# Results that only change with the data: keyed by (database, what, data version), so a new,
# changed or deleted project is seen by the next request.
_CACHE = VersionedCache(16)


def _cached(store: Store, what: tuple, compute):
    return _CACHE.get(store, (*what, counting()), compute)


# Issue 21: the figures count confirmed projects; entries whose reminder went unanswered only
# when asked to (`include_unconfirmed`). The web layer sets it per request.


@dataclass(frozen=True)
class Counting:
    include_unconfirmed: bool = False
    unanswered_days: int = 60
    #: Today: an entry turns unconfirmed by time passing alone, so cached figures last a day.
    day: date | None = None

    @property
    def counted(self) -> str:
        return "all" if self.include_unconfirmed else "confirmed"


COUNTING: ContextVar[Counting | None] = ContextVar("atlas_coverage_counting", default=None)


def counting() -> Counting:
    """What this request's figures count (confirmed only unless the web layer said otherwise)."""
    return COUNTING.get() or Counting()


def _counted(store: Store) -> list:
    """The conditions of a project that the figures count. Unconfirmed entries are few and found
    by an index (reminded_at): left out by id, the counts keep their index-only plans."""
    wanted = counting()
    if wanted.include_unconfirmed:
        return [Project.status == "published"]
    left_out = unanswered_ids(store, utcnow(), wanted.unanswered_days)
    return [Project.status == "published", *([Project.id.not_in(left_out)] if left_out else [])]


def _grouped_counts(store: Store, column, region: str | None = None) -> dict[str, dict]:
    """{group: {"projects": n, "by_field": {slug: n}}} in one scan of the published projects."""
    return _cached(
        store,
        ("counts", column.key, region),
        lambda: _count(store, column, *([Project.region == region] if region else [])),
    )


def _count(store: Store, column, *conditions) -> dict[str, dict]:
    columns = [column, func.count()] + [func.sum(case((has_field(s), 1), else_=0)) for s in FIELDS]
    with store.session() as s:
        rows = s.execute(
            select(*columns).where(*_counted(store), *conditions).group_by(column)
        ).all()
    return {
        row[0]: {
            "projects": int(row[1]),
            "by_field": {slug: int(n or 0) for slug, n in zip(FIELDS, row[2:])},
        }
        for row in rows
    }


def per_100k(count: int, population: int) -> float:
    return round(count * PER / population, 2) if population else 0.0


def _figures(count: dict, population: int) -> dict:
    by_field = count["by_field"] if count else {slug: 0 for slug in FIELDS}
    projects = count["projects"] if count else 0
    return {
        "population": population,
        "projects": projects,
        "projects_per_100k": per_100k(projects, population),
        "by_field": dict(by_field),
        "by_field_per_100k": {slug: per_100k(n, population) for slug, n in by_field.items()},
    }


def count_and_rate(row: dict, field: str | None) -> tuple[int, float]:
    """A row's projects and projects per 100,000 inhabitants: of one field, or of all."""
    if field:
        return row["by_field"][field], row["by_field_per_100k"][field]
    return row["projects"], row["projects_per_100k"]


def district_rows(store: Store, region: str) -> list[dict]:
    """One row per district of the region, in key order: population, area and project counts."""
    counts = _grouped_counts(store, Project.district_code, region)
    rows = []
    for code in regions.district_codes():
        info = regions.district(code)
        if info["region"] != region:
            continue
        rows.append(
            {
                "district_code": code,
                "district": info["name"],
                "kind": info["kind"],
                "area_km2": info["area_km2"],
                **_figures(counts.get(code), info["population"]),
            }
        )
    return rows


def total_row(rows: list[dict]) -> dict:
    """The sum over districts (each project lies in exactly one, so totals add up)."""
    population = sum(r["population"] for r in rows)
    by_field = {slug: sum(r["by_field"][slug] for r in rows) for slug in FIELDS}
    projects = sum(r["projects"] for r in rows)
    return {
        "area_km2": round(sum(r["area_km2"] for r in rows), 2),
        **_figures({"projects": projects, "by_field": by_field}, population),
    }


def region_rows(store: Store) -> list[dict]:
    """One row per ArL region: population, districts and project counts."""
    counts = _grouped_counts(store, Project.region)
    frame = regions.districts()
    rows = []
    for slug, info in regions.REGIONS.items():
        part = frame[frame["region"] == slug]
        rows.append(
            {
                "region": slug,
                "region_name": info["name"],
                "office": info["office"],
                "districts": len(part),
                "area_km2": round(float(part["area_km2"].sum()), 2),
                **_figures(counts.get(slug), int(part["population"].sum())),
            }
        )
    return rows


def gaps(rows: list[dict]) -> list[dict]:
    """Districts without any project in a field, field by field."""
    return [
        {
            "field": slug,
            "field_label": label,
            "district_code": r["district_code"],
            "district": r["district"],
        }
        for slug, label in FIELDS.items()
        for r in rows
        if r["by_field"][slug] == 0
    ]


def sort_rows(rows: list[dict], key: str, descending: bool) -> list[dict]:
    def value(r):
        if key == "name":
            return normalize(r["district"])
        if key == "code":
            return r["district_code"]
        if key == "per_100k":
            return r["projects_per_100k"]
        if key in FIELDS:
            return r["by_field"][key]
        return r[key]

    # Ties keep key order whichever way the column runs.
    ordered = sorted(rows, key=lambda r: r["district_code"])
    return sorted(ordered, key=value, reverse=descending)


# --- white spots --------------------------------------------------------------------------------


@dataclass
class Targets:
    """Points to measure to, with their R-tree in the plane (built once per data version)."""

    ids: list[str]
    lats: np.ndarray
    lons: np.ndarray
    tree: shapely.STRtree | None

    @classmethod
    def build(cls, ids, lats, lons) -> Targets:
        lats, lons = np.asarray(lats, dtype=float), np.asarray(lons, dtype=float)
        tree = (
            shapely.STRtree(shapely.points(*_TO_PLANE.transform(lons, lats))) if lats.size else None
        )
        return cls(list(ids), lats, lons, tree)


def nearest(lats, lons, target_lats, target_lons) -> tuple[np.ndarray, np.ndarray]:
    """Geodesic distance (km, WGS84) from each point to its nearest target, and that target's index.

    Without targets: inf and -1.
    """
    tl = np.asarray(target_lats, dtype=float)
    return nearest_targets(lats, lons, Targets.build(range(tl.size), tl, target_lons))


def nearest_targets(lats, lons, targets: Targets) -> tuple[np.ndarray, np.ndarray]:
    """`nearest` against prepared targets.

    The R-tree in ETRS89 / UTM 32N finds the nearest target by grid distance; every target within
    PLANAR_MARGIN of that is then measured exactly with pyproj, so the answer is the true geodesic
    nearest.
    """
    lats, lons = np.asarray(lats, dtype=float), np.asarray(lons, dtype=float)
    n = lats.size
    if n == 0 or targets.tree is None:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    points = shapely.points(*_TO_PLANE.transform(lons, lats))
    _, planar = targets.tree.query_nearest(points, return_distance=True, all_matches=False)
    # + 1 m absorbs rounding where a target sits on the point itself.
    rows, cols = targets.tree.query(
        points, predicate="dwithin", distance=planar * PLANAR_MARGIN + 1.0
    )
    km = distances_km(lats[rows], lons[rows], targets.lats[cols], targets.lons[cols])
    order = np.lexsort((cols, km, rows))  # by point, nearest first, ties by index
    first = order[np.r_[0, np.flatnonzero(np.diff(rows[order])) + 1]]
    distance = np.full(n, np.inf)
    index = np.full(n, -1, dtype=np.int64)
    distance[rows[first]] = km[first]
    index[rows[first]] = cols[first]
    return distance, index


@dataclass(frozen=True)
class Municipalities:
    ags: tuple[str, ...]
    name: tuple[str, ...]
    district_code: tuple[str, ...]
    lat: np.ndarray
    lon: np.ndarray
    population: np.ndarray


@cache
def municipalities(region: str) -> Municipalities:
    """The region's municipalities from the gazetteer, with their centres and population."""
    rows = sorted(
        (
            e
            for e in gazetteer().entities
            if e.kind == "municipality"
            and (regions.district(e.district_code) or {}).get("region") == region
        ),
        key=lambda e: e.ags,
    )
    return Municipalities(
        tuple(e.ags for e in rows),
        tuple(e.name for e in rows),
        tuple(e.district_code for e in rows),
        np.array([e.lat for e in rows]),
        np.array([e.lon for e in rows]),
        np.array([e.population for e in rows], dtype=np.int64),
    )


def _project_points(store: Store, field: str | None) -> Targets:
    """Published projects of the field anywhere in the atlas: a project across a region's border
    serves the municipalities near it too."""
    cond = _counted(store) + ([has_field(field)] if field else [])
    rows = store.fetch(select(Project.id, Project.lat, Project.lon).where(and_(*cond)))
    return Targets.build([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def project_targets(store: Store, field: str | None) -> Targets:
    return _cached(store, ("targets", field), lambda: _project_points(store, field))


def _nearest_in_region(store: Store, region: str, field: str | None):
    """Each municipality of the region: distance (km) to the nearest project of the field, and
    that project's id."""
    munis = municipalities(region)
    targets = project_targets(store, field)
    distance, index = nearest_targets(munis.lat, munis.lon, targets)
    ids = [targets.ids[i] if i >= 0 else None for i in index]
    return munis, distance, ids


#: White spots by (region, field, distance) and data version; apart from _CACHE so that many
#: distances asked for do not push out the project points and counts.
_WHITE_SPOTS = VersionedCache(32)


def white_spots(store: Store, region: str, field: str | None, distance_km: float) -> dict:
    """Municipalities of the region farther than distance_km from the nearest project of the field,
    farthest first, with the shares of municipalities and inhabitants they make up (cached per
    data version; callers get their own copy of the outer dict and must not change the items)."""
    found = _WHITE_SPOTS.get(
        store,
        ("white_spots", region, field, float(distance_km), counting()),
        lambda: _white_spots(store, region, field, distance_km),
    )
    return dict(found)


def _white_spots(store: Store, region: str, field: str | None, distance_km: float) -> dict:
    munis, distance, ids = _nearest_in_region(store, region, field)
    uncovered = distance > distance_km
    population = int(munis.population.sum())
    uncovered_population = int(munis.population[uncovered].sum())
    items = []
    for i in np.flatnonzero(uncovered):
        items.append(
            {
                "ags": munis.ags[i],
                "name": munis.name[i],
                "district_code": munis.district_code[i],
                "district": regions.district(munis.district_code[i])["name"],
                "lat": float(munis.lat[i]),
                "lon": float(munis.lon[i]),
                "population": int(munis.population[i]),
                "nearest_km": round(float(distance[i]), 2) if ids[i] else None,
                "nearest_project": ids[i],
            }
        )
    items.sort(
        key=lambda s: (-(s["nearest_km"] if s["nearest_km"] is not None else math.inf), s["ags"])
    )
    return {
        "field": field,
        "distance_km": distance_km,
        "municipalities": len(munis.ags),
        "uncovered": len(items),
        "share_municipalities": round(len(items) / len(munis.ags), 4) if munis.ags else 0.0,
        "population": population,
        "uncovered_population": uncovered_population,
        "share_population": round(uncovered_population / population, 4) if population else 0.0,
        "projects_considered": len(project_targets(store, field).ids),
        "population_source": MUNICIPALITY_SOURCE,
        "items": items,
    }


def coverage(store: Store, params: Params) -> dict:
    """Every figure of a region's coverage, in the shape of GET /api/coverage."""
    rows = district_rows(store, params.region)
    info = regions.REGIONS[params.region]
    return {
        "region": params.region,
        "region_name": info["name"],
        "office": info["office"],
        "field": params.field,
        "distance_km": params.distance_km,
        "total": total_row(rows),
        "districts": rows,
        "gaps": gaps(rows),
        "white_spots": white_spots(store, params.region, params.field, params.distance_km),
        "attribution": ATTRIBUTION,
        "counted": counting().counted,
    }


# --- CSV ----------------------------------------------------------------------------------------

#: Column headers of the Excel flavour (German spreadsheets); see atlas.core.tables.
GERMAN_HEADERS = {
    "district_code": "Kreisschlüssel",
    "district": "Landkreis",
    "population": "Einwohner",
    "area_km2": "Fläche (km²)",
    "projects": "Projekte",
    "projects_per_100k": "Projekte je 100.000 Einw.",
    "field": "Handlungsfeld",
    "field_label": "Handlungsfeld (Name)",
    "ags": "Gemeindeschlüssel",
    "municipality": "Gemeinde",
    "lat": "Breite",
    "lon": "Länge",
    "distance_km": "Entfernung (km)",
    "nearest_km": "Nächstes Projekt (km)",
    "nearest_project": "Nächstes Projekt",
    "white_spot": "Weißer Fleck",
}
for _slug, _label in FIELDS.items():
    GERMAN_HEADERS[_slug] = _label
    GERMAN_HEADERS[f"{_slug}_per_100k"] = f"{_label} je 100.000 Einw."


def _table(columns: list[str], flavour: tables.Flavour) -> tuple[io.StringIO, tables.Table]:
    out = io.StringIO()
    return out, tables.Table(out, columns, flavour, GERMAN_HEADERS)


def district_csv(rows: list[dict], flavour: tables.Flavour = tables.CSV) -> str:
    header = [
        "district_code",
        "district",
        "population",
        "area_km2",
        "projects",
        "projects_per_100k",
    ]
    for slug in FIELDS:
        header += [slug, f"{slug}_per_100k"]
    out, table = _table(header, flavour)
    for r in rows:
        line = [
            r["district_code"],
            r["district"],
            r["population"],
            r["area_km2"],
            r["projects"],
            r["projects_per_100k"],
        ]
        for slug in FIELDS:
            line += [r["by_field"][slug], r["by_field_per_100k"][slug]]
        table.row(line)
    return out.getvalue()


def gaps_csv(rows: list[dict], flavour: tables.Flavour = tables.CSV) -> str:
    out, table = _table(["field", "field_label", "district_code", "district"], flavour)
    table.records(gaps(rows))
    return out.getvalue()


def white_spots_csv(
    store: Store,
    region: str,
    field: str | None,
    distance_km: float,
    flavour: tables.Flavour = tables.CSV,
) -> str:
    """Every municipality of the region with its nearest project; white_spot says which are."""
    munis, distance, ids = _nearest_in_region(store, region, field)
    out, table = _table(
        [
            "ags",
            "municipality",
            "district_code",
            "district",
            "lat",
            "lon",
            "population",
            "field",
            "distance_km",
            "nearest_km",
            "nearest_project",
            "white_spot",
        ],
        flavour,
    )
    for i in range(len(munis.ags)):
        table.row(
            [
                munis.ags[i],
                munis.name[i],
                munis.district_code[i],
                regions.district(munis.district_code[i])["name"],
                munis.lat[i],
                munis.lon[i],
                int(munis.population[i]),
                field or "",
                distance_km,
                round(float(distance[i]), 3) if ids[i] else "",
                ids[i] or "",
                bool(distance[i] > distance_km),
            ]
        )
    return out.getvalue()
