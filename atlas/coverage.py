"""Coverage for the regional offices (ArL): where the atlas is dense and where the white spots are.

Counts come from the store in one grouped query per view; population and area of the districts
from atlas.regions (Destatis); municipality centres and their population from the gazetteer
(GeoNames). White spots are municipalities whose centre is farther than a chosen distance from
the nearest published project of a field, by geodesic distance on the WGS84 ellipsoid.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import folium
import numpy as np
import shapely
from flask import Blueprint, Response, abort, current_app, g, render_template, request, url_for
from pyproj import Geod
from sqlalchemy import String, and_, case, cast, func, select

from . import maps, regions
from .fields import FIELD_COLOURS, FIELDS
from .projects import write_csv, write_geojson
from .search import BadQuery
from .store import Project, Store
from .text import normalize

bp = Blueprint("coverage", __name__)

DEFAULT_DISTANCE_KM = 15.0
MAX_DISTANCE_KM = 100.0
DISTANCE_CHOICES_KM = (5, 10, 15, 20, 25, 30)
PER = 100_000
#: Display-only simplification of district outlines on a region map (about 100 m): shared borders
#: stay shared (coverage simplification), and the page stays small.
REGION_DISPLAY_TOLERANCE_DEG = 0.001
STATE_DISPLAY_TOLERANCE_DEG = 0.003
#: ColorBrewer YlGnBu, five classes; districts without any project get their own grey.
CLASS_COLOURS = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
ZERO_COLOUR = "#d4d4d4"
WHITE_SPOT_COLOUR = "#c0392b"
#: Geodesic over spherical distance lies within [M/R, N/R] of the WGS84 radii of curvature
#: (0.9967…1.0067 anywhere, 1.0005…1.0033 in Lower Saxony); a 1 % margin on the spherical nearest
#: keeps every project that could be the geodesic nearest among the exact candidates.
SPHERE_MARGIN = 1.01
_EARTH_RADIUS_KM = 6371.0088
_GEOD = Geod(ellps="WGS84")
_CHUNK = 8192

MUNICIPALITY_SOURCE = ("Gemeindemittelpunkte: Hauptort nach GeoNames oder Mittelpunkt der Gemeindefläche "
                       "(© GeoBasis-DE / BKG 2016); Einwohner der Gemeinden: GeoNames (CC BY 4.0), "
                       "eine Näherung – Gemeinden ohne Angabe zählen mit 0 Einwohnern")
ATTRIBUTION = regions.ATTRIBUTION + "; Gemeinden: GeoNames (CC BY 4.0)"
#: The short credit on the coverage maps (the full one stands on the page).
MAP_ATTRIBUTION = (regions.MAP_ATTRIBUTION + "; Einwohner: © Destatis 2019 (CC BY 4.0); "
                   "Gemeinden: GeoNames (CC BY 4.0)")

SORT_KEYS = ("code", "name", "population", "projects", "per_100k", *FIELDS)
SORT_LABELS = {"code": "Kreisschlüssel", "name": "Landkreis / Stadt", "population": "Einwohner",
               "projects": "Projekte", "per_100k": "je 100.000 Einw."}


# --- parameters ---------------------------------------------------------------------------------

@dataclass
class Params:
    region: str
    field: str | None
    distance_km: float


def parse(args: Mapping, region: str | None = None) -> Params:
    """Check region, field and distance; BadQuery says in English what is wrong (German in .extra)."""
    slug = (region if region is not None else args.get("region") or "").strip()
    if not slug:
        raise BadQuery(f"parameter region is missing; valid regions: {', '.join(regions.REGIONS)}",
                       de="Bitte wählen Sie eine Region.")
    if slug not in regions.REGIONS:
        raise BadQuery(f"unknown region '{slug}'; valid regions: {', '.join(regions.REGIONS)}",
                       de=f"Die Region „{slug}“ gibt es nicht.")
    field = parse_field(args)
    raw = str(args.get("distance_km") or "").strip()
    distance = DEFAULT_DISTANCE_KM
    if raw:
        try:
            distance = float(raw.replace(",", "."))
        except ValueError:
            raise BadQuery(f"distance_km '{raw}' is not a number",
                           de=f"Die Entfernung „{raw}“ ist keine Zahl.") from None
        if not (math.isfinite(distance) and 0 < distance <= MAX_DISTANCE_KM):
            raise BadQuery(f"distance_km must be more than 0 and at most {MAX_DISTANCE_KM:g}, not {raw}",
                           de=f"Die Entfernung muss größer als 0 und höchstens {MAX_DISTANCE_KM:g} km sein.")
    return Params(slug, field, distance)


def parse_field(args: Mapping) -> str | None:
    field = str(args.get("field") or "").strip() or None
    if field is not None and field not in FIELDS:
        raise BadQuery(f"unknown field '{field}'; valid fields: {', '.join(FIELDS)}",
                       de=f"Das Handlungsfeld „{field}“ gibt es nicht.")
    return field


# --- counting -----------------------------------------------------------------------------------

def _has_field(slug: str):
    """The same JSON-text match as the public search, so both count a project alike."""
    return cast(Project.fields, String).like(f'%"{slug}"%')


def _grouped_counts(store: Store, column, *conditions) -> dict[str, dict]:
    """{group: {"projects": n, "by_field": {slug: n}}} in one scan of the published projects."""
    columns = [column, func.count()] + [func.sum(case((_has_field(s), 1), else_=0)) for s in FIELDS]
    with store.session() as s:
        rows = s.execute(select(*columns).where(Project.status == "published", *conditions)
                         .group_by(column)).all()
    return {row[0]: {"projects": int(row[1]),
                     "by_field": {slug: int(n or 0) for slug, n in zip(FIELDS, row[2:])}}
            for row in rows}


def per_100k(count: int, population: int) -> float:
    return round(count * PER / population, 2) if population else 0.0


def _figures(count: dict, population: int) -> dict:
    by_field = count["by_field"] if count else {slug: 0 for slug in FIELDS}
    projects = count["projects"] if count else 0
    return {"population": population, "projects": projects,
            "projects_per_100k": per_100k(projects, population), "by_field": dict(by_field),
            "by_field_per_100k": {slug: per_100k(n, population) for slug, n in by_field.items()}}


def district_rows(store: Store, region: str) -> list[dict]:
    """One row per district of the region, in key order: population, area and project counts."""
    counts = _grouped_counts(store, Project.district_code, Project.region == region)
    rows = []
    for code in regions.district_codes():
        info = regions.district(code)
        if info["region"] != region:
            continue
        rows.append({"district_code": code, "district": info["name"], "kind": info["kind"],
                     "area_km2": info["area_km2"], **_figures(counts.get(code), info["population"])})
    return rows


def total_row(rows: list[dict]) -> dict:
    """The sum over districts (each project lies in exactly one, so totals add up)."""
    population = sum(r["population"] for r in rows)
    by_field = {slug: sum(r["by_field"][slug] for r in rows) for slug in FIELDS}
    return {"area_km2": round(sum(r["area_km2"] for r in rows), 2),
            **_figures({"projects": sum(r["projects"] for r in rows), "by_field": by_field}, population)}


def region_rows(store: Store) -> list[dict]:
    """One row per ArL region: population, districts and project counts."""
    counts = _grouped_counts(store, Project.region)
    frame = regions.districts()
    rows = []
    for slug, info in regions.REGIONS.items():
        part = frame[frame["region"] == slug]
        rows.append({"region": slug, "region_name": info["name"], "office": info["office"],
                     "districts": len(part), "area_km2": round(float(part["area_km2"].sum()), 2),
                     **_figures(counts.get(slug), int(part["population"].sum()))})
    return rows


def gaps(rows: list[dict]) -> list[dict]:
    """Districts without any project in a field, field by field."""
    return [{"field": slug, "field_label": label, "district_code": r["district_code"],
             "district": r["district"]}
            for slug, label in FIELDS.items() for r in rows if r["by_field"][slug] == 0]


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

def _unit_vectors(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lats), np.radians(lons)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def nearest(lats, lons, target_lats, target_lons) -> tuple[np.ndarray, np.ndarray]:
    """Geodesic distance (km, WGS84) from each point to its nearest target, and that target's index.

    A spherical search (dot products of unit vectors, in chunks) finds the nearest target on the
    sphere; every target within SPHERE_MARGIN of that is measured exactly with pyproj, so the
    answer is the true geodesic nearest. Without targets: inf and -1.
    """
    lats, lons = np.asarray(lats, dtype=float), np.asarray(lons, dtype=float)
    tl, tn = np.asarray(target_lats, dtype=float), np.asarray(target_lons, dtype=float)
    n = lats.size
    if n == 0 or tl.size == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    points, targets = _unit_vectors(lats, lons), _unit_vectors(tl, tn)
    best = np.full(n, -2.0)
    for start in range(0, len(targets), _CHUNK):
        dots = points @ targets[start:start + _CHUNK].T
        np.maximum(best, dots.max(axis=1), out=best)
    angle = np.arccos(np.clip(best, -1.0, 1.0))
    limit = np.cos(np.minimum(angle * SPHERE_MARGIN + 1e-7, np.pi))  # 1e-7 rad ≈ 0.6 m of rounding
    rows, cols = [], []
    for start in range(0, len(targets), _CHUNK):
        dots = points @ targets[start:start + _CHUNK].T
        r, c = np.nonzero(dots >= limit[:, None])
        rows.append(r)
        cols.append(c + start)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    _, _, metres = _GEOD.inv(lons[rows], lats[rows], tn[cols], tl[cols])
    metres = np.asarray(metres)
    order = np.lexsort((metres, rows))  # by point, nearest first
    first = order[np.r_[0, np.flatnonzero(np.diff(rows[order])) + 1]]
    distance = np.full(n, np.inf)
    index = np.full(n, -1, dtype=np.int64)
    distance[rows[first]] = metres[first] / 1000.0
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


@lru_cache(maxsize=len(regions.REGIONS))
def municipalities(region: str) -> Municipalities:
    """The region's municipalities from the gazetteer, with their centres and population."""
    from .geocoding import gazetteer

    rows = sorted((e for e in gazetteer().entities if e.kind == "municipality"
                   and (regions.district(e.district_code) or {}).get("region") == region),
                  key=lambda e: e.ags)
    return Municipalities(tuple(e.ags for e in rows), tuple(e.name for e in rows),
                          tuple(e.district_code for e in rows),
                          np.array([e.lat for e in rows]), np.array([e.lon for e in rows]),
                          np.array([e.population for e in rows], dtype=np.int64))


def _project_points(store: Store, field: str | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Published projects of the field anywhere in the atlas: a project across a region's border
    serves the municipalities near it too.

    Read through the driver's own cursor: SQLAlchemy's row objects cost three times the query
    itself at 100,000 projects. The statement is compiled for the store's dialect with literal
    values, all of which come from the code (status, field slugs checked against FIELDS).
    """
    cond = [Project.status == "published"] + ([_has_field(field)] if field else [])
    stmt = select(Project.id, Project.lat, Project.lon).where(and_(*cond))
    with store.engine.connect() as conn:
        sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
        finally:
            cursor.close()
    if not rows:
        return [], np.empty(0), np.empty(0)
    ids = [r[0] for r in rows]
    return ids, np.array([r[1] for r in rows], dtype=float), np.array([r[2] for r in rows], dtype=float)


def white_spots(store: Store, region: str, field: str | None, distance_km: float) -> dict:
    """Municipalities of the region farther than distance_km from the nearest project of the field."""
    munis = municipalities(region)
    ids, lats, lons = _project_points(store, field)
    distance, index = nearest(munis.lat, munis.lon, lats, lons)
    uncovered = distance > distance_km
    population = int(munis.population.sum())
    uncovered_population = int(munis.population[uncovered].sum())
    items = []
    for i in np.flatnonzero(uncovered):
        info = regions.district(munis.district_code[i])
        items.append({"ags": munis.ags[i], "name": munis.name[i],
                      "district_code": munis.district_code[i], "district": info["name"],
                      "lat": float(munis.lat[i]), "lon": float(munis.lon[i]),
                      "population": int(munis.population[i]),
                      "nearest_km": round(float(distance[i]), 2) if index[i] >= 0 else None,
                      "nearest_project": ids[index[i]] if index[i] >= 0 else None})
    items.sort(key=lambda s: (-(s["nearest_km"] if s["nearest_km"] is not None else math.inf),
                              s["ags"]))
    return {"field": field, "distance_km": distance_km, "municipalities": len(munis.ags),
            "uncovered": len(items),
            "share_municipalities": round(len(items) / len(munis.ags), 4) if munis.ags else 0.0,
            "population": population, "uncovered_population": uncovered_population,
            "share_population": round(uncovered_population / population, 4) if population else 0.0,
            "projects_considered": len(ids), "population_source": MUNICIPALITY_SOURCE,
            "items": items,
            "_all": {"distance": distance, "index": index, "ids": ids}}


def coverage(store: Store, params: Params) -> dict:
    """Every figure of a region's coverage, in the shape of GET /api/coverage."""
    rows = district_rows(store, params.region)
    spots = white_spots(store, params.region, params.field, params.distance_km)
    spots.pop("_all")
    info = regions.REGIONS[params.region]
    return {"region": params.region, "region_name": info["name"], "office": info["office"],
            "field": params.field, "distance_km": params.distance_km,
            "total": total_row(rows), "districts": rows, "gaps": gaps(rows),
            "white_spots": spots, "attribution": ATTRIBUTION}


# --- maps, legend and chart ---------------------------------------------------------------------

def _nice_step(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at least `value`, so class limits read easily."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10 ** exponent >= value - 1e-12:
            return m * 10 ** exponent
    return 10 ** (exponent + 1)


@dataclass
class Classes:
    """Equal classes from 0 to a round maximum; 0 itself is its own class (a gap)."""
    step: float

    @classmethod
    def for_values(cls, values) -> "Classes":
        top = max([v for v in values if v > 0], default=0.0)
        return cls(_nice_step(top / len(CLASS_COLOURS)))

    def index(self, value: float) -> int:
        """-1 for 0, else 0…4."""
        if value <= 0:
            return -1
        return min(len(CLASS_COLOURS) - 1, max(0, math.ceil(value / self.step - 1e-9) - 1))

    def colour(self, value: float) -> str:
        i = self.index(value)
        return ZERO_COLOUR if i < 0 else CLASS_COLOURS[i]

    def legend(self) -> list[dict]:
        digits = 0 if self.step >= 1 and float(self.step).is_integer() else (1 if self.step * 10 >= 1 else 2)
        items = [{"colour": ZERO_COLOUR, "label": "keine Projekte (Lücke)"}]
        for i, colour in enumerate(CLASS_COLOURS):
            low, high = i * self.step, (i + 1) * self.step
            label = (f"über {de_number(low, digits)} bis {de_number(high, digits)}"
                     if i < len(CLASS_COLOURS) - 1 else f"über {de_number(low, digits)}")
            items.append({"colour": colour, "label": label})
        return items


def _rounded(geometry):
    """Five decimals (about 1 m) are plenty on screen and halve the page's size."""
    return shapely.transform(geometry, lambda xy: np.round(xy, 5))


@lru_cache(maxsize=len(regions.REGIONS))
def _district_shapes(region: str) -> tuple[tuple[str, dict], ...]:
    frame = regions.districts()
    part = frame[frame["region"] == region]
    simple = part.geometry.simplify_coverage(REGION_DISPLAY_TOLERANCE_DEG)
    return tuple((code, _rounded(geom).__geo_interface__)
                 for code, geom in zip(part["district_code"], simple))


@lru_cache(maxsize=1)
def _region_shapes() -> tuple[tuple[str, dict], ...]:
    frame = regions.regions()
    simple = frame.geometry.simplify_coverage(STATE_DISPLAY_TOLERANCE_DEG)
    return tuple((slug, _rounded(geom).__geo_interface__) for slug, geom in zip(frame["region"], simple))


def _value(row: dict, field: str | None) -> tuple[int, float]:
    if field:
        return row["by_field"][field], row["by_field_per_100k"][field]
    return row["projects"], row["projects_per_100k"]


def _project_words(n: int) -> str:
    return f"{de_number(n)} {'Projekt' if n == 1 else 'Projekte'}"


def _choropleth(m: folium.Map, shapes, rows: list[dict], key: str, name_key: str,
                field: str | None, classes: Classes, layer_name: str) -> None:
    by_key = {r[key]: r for r in rows}
    features = []
    for code, geometry in shapes:
        row = by_key[code]
        count, value = _value(row, field)
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            "name": row[name_key], "fill": classes.colour(value),
            "label": f"{_project_words(count)} · {de_number(value, 1)} je 100.000 Einw."}})
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features}, name=layer_name,
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": 0.72,
                                  "color": "#24507a", "weight": 1.2},
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.85},
        tooltip=folium.GeoJsonTooltip(fields=["name", "label"], labels=False),
    ).add_to(m)


def region_map(tiles: maps.Tiles, region: str, rows: list[dict], field: str | None,
               spots: dict, classes: Classes) -> folium.Map:
    """The region's districts coloured by projects per 100,000 inhabitants, white spots on top."""
    m = maps._base_map(tiles, location=[52.75, 9.2], zoom_start=8)
    _choropleth(m, _district_shapes(region), rows, "district_code", "district", field, classes,
                "Projekte je 100.000 Einwohner")
    if spots["items"]:
        features = [{"type": "Feature",
                     "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                     "properties": {"name": s["name"], "label": _spot_label(s)}}
                    for s in spots["items"]]
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features}, name="Weiße Flecken",
            marker=folium.CircleMarker(radius=6, fill=True),
            style_function=lambda f: {"color": "#ffffff", "weight": 1.5, "fillColor": WHITE_SPOT_COLOUR,
                                      "fillOpacity": 0.95, "className": "white-spot"},
            tooltip=folium.GeoJsonTooltip(fields=["name", "label"], labels=False),
        ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    minx, miny, maxx, maxy = regions.regions().set_index("region").loc[region, "geometry"].bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _spot_label(spot: dict) -> str:
    if spot["nearest_km"] is None:
        return "kein Projekt in diesem Handlungsfeld"
    return f"nächstes Projekt {de_number(spot['nearest_km'], 1)} km entfernt"


def state_map(tiles: maps.Tiles, rows: list[dict], field: str | None,
              classes: Classes) -> folium.Map:
    m = maps._base_map(tiles, location=[52.75, 9.2], zoom_start=7)
    _choropleth(m, _region_shapes(), rows, "region", "region_name", field, classes,
                "Projekte je 100.000 Einwohner")
    m.fit_bounds(maps.BOUNDS)
    return m


CHART_WIDTH = 640
CHART_LABEL = 190
CHART_BAR = 18
CHART_GAP = 8
CHART_TOP = 8
CHART_AXIS = 34


def chart(rows: list[dict], name_key: str = "district") -> dict:
    """Stacked bars: projects per 100,000 inhabitants per field, one bar per district (SVG data)."""
    ordered = sorted(rows, key=lambda r: (-sum(r["by_field_per_100k"].values()), r[name_key]))
    top = max((sum(r["by_field_per_100k"].values()) for r in ordered), default=0.0)
    step = _nice_step(top / 4) if top > 0 else 1.0
    ticks = [i * step for i in range(int(math.ceil(top / step - 1e-9)) + 1)] or [0.0]
    scale_max = max(ticks[-1], step)
    plot = CHART_WIDTH - CHART_LABEL - 16
    bars = []
    for i, r in enumerate(ordered):
        y = CHART_TOP + i * (CHART_BAR + CHART_GAP)
        x = float(CHART_LABEL)
        segments = []
        for slug, label in FIELDS.items():
            value = r["by_field_per_100k"][slug]
            width = plot * value / scale_max
            if r["by_field"][slug]:
                segments.append({"x": round(x, 2), "width": round(width, 2), "colour": FIELD_COLOURS[slug],
                                 "title": f"{r[name_key]} – {label}: {_project_words(r['by_field'][slug])}, "
                                          f"{de_number(value, 1)} je 100.000 Einw."})
            x += width
        bars.append({"label": r[name_key], "y": y, "segments": segments,
                     "total": de_number(sum(r["by_field_per_100k"].values()), 1), "end": round(x, 2)})
    height = CHART_TOP + len(ordered) * (CHART_BAR + CHART_GAP) + CHART_AXIS
    digits = 0 if float(step).is_integer() else 1
    axis = [{"x": round(CHART_LABEL + plot * t / scale_max, 2), "label": de_number(t, digits)}
            for t in ticks]
    return {"width": CHART_WIDTH, "height": height, "bars": bars, "axis": axis,
            "axis_y": height - CHART_AXIS + 4, "bar": CHART_BAR, "label_x": CHART_LABEL - 8}


# --- formatting and CSV -------------------------------------------------------------------------

def de_number(value, digits: int = 0) -> str:
    """German number format: 1.234.567 and 12,5."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


def de_percent(share: float) -> str:
    return f"{de_number(share * 100, 1)} %"


def district_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    header = ["district_code", "district", "population", "area_km2", "projects", "projects_per_100k"]
    for slug in FIELDS:
        header += [slug, f"{slug}_per_100k"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        line = [r["district_code"], r["district"], r["population"], r["area_km2"], r["projects"],
                r["projects_per_100k"]]
        for slug in FIELDS:
            line += [r["by_field"][slug], r["by_field_per_100k"][slug]]
        writer.writerow(line)
    return out.getvalue()


def gaps_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["field", "field_label", "district_code", "district"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(gaps(rows))
    return out.getvalue()


def white_spots_csv(region: str, spots: dict) -> str:
    """Every municipality of the region with its nearest project; white_spot says which are."""
    munis = municipalities(region)
    distance, index, ids = spots["_all"]["distance"], spots["_all"]["index"], spots["_all"]["ids"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["ags", "municipality", "district_code", "district", "lat", "lon", "population",
                     "field", "distance_km", "nearest_km", "nearest_project", "white_spot"])
    for i in range(len(munis.ags)):
        found = index[i] >= 0
        writer.writerow([munis.ags[i], munis.name[i], munis.district_code[i],
                         regions.district(munis.district_code[i])["name"], munis.lat[i], munis.lon[i],
                         int(munis.population[i]), spots["field"] or "", spots["distance_km"],
                         round(float(distance[i]), 3) if found else "",
                         ids[index[i]] if found else "",
                         "true" if distance[i] > spots["distance_km"] else "false"])
    return out.getvalue()


def _download(text: str, filename: str, mimetype: str) -> Response:
    return Response(text, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- routes -------------------------------------------------------------------------------------

def _store() -> Store:
    from .app import get_store
    return get_store()


def _tiles() -> maps.Tiles:
    return maps.Tiles.from_config(current_app.config.get("TILES"))


@bp.errorhandler(BadQuery)
def _bad_query(exc: BadQuery):
    if request.path.startswith("/api/"):
        from .api import error
        return error(str(exc))
    message = exc.extra.get("de") or str(exc)
    return render_template("error.html", title="Ungültige Angabe", message=message), 400


def _distance_text(distance_km: float) -> str:
    return de_number(distance_km, 0 if float(distance_km).is_integer() else 1)


def _link(endpoint: str, region: str | None = None, **params) -> str:
    """A URL with only the parameters that differ from the defaults, so links stay short."""
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    if "distance_km" in clean:
        if float(clean["distance_km"]) == DEFAULT_DISTANCE_KM:
            clean.pop("distance_km")
        else:
            clean["distance_km"] = f"{float(clean['distance_km']):g}"
    if clean.get("sort") == "code" and clean.get("order", "asc") == "asc":
        clean.pop("sort"), clean.pop("order", None)
    if region:
        clean["slug"] = region
    return url_for(endpoint, **clean)


@bp.get("/regionen")
def overview():
    field = parse_field(request.args)
    rows = region_rows(_store())
    classes = Classes.for_values([_value(r, field)[1] for r in rows])
    rendered = maps.render(state_map(_tiles(), rows, field, classes), g.csp_nonce)
    total = total_row(rows)
    return render_template("coverage_overview.html", rows=rows, total=total, field=field,
                           map=rendered, legend=classes.legend(), chart=chart(rows, "region_name"),
                           field_links={slug: _link("coverage.overview", field=slug)
                                        for slug in [None, *FIELDS]},
                           de_number=de_number, attribution=ATTRIBUTION,
                           map_attribution=MAP_ATTRIBUTION)


@bp.get("/regionen/<slug>")
def region_page(slug: str):
    if slug not in regions.REGIONS:
        abort(404)
    params = parse(request.args, region=slug)
    sort = (request.args.get("sort") or "code").strip()
    if sort not in SORT_KEYS:
        raise BadQuery(f"unknown sort '{sort}'", de=f"Nach „{sort}“ kann die Tabelle nicht sortiert werden.")
    order = (request.args.get("order") or ("asc" if sort in ("code", "name") else "desc")).strip()
    if order not in ("asc", "desc"):
        raise BadQuery(f"order must be asc or desc, not '{order}'",
                       de="Die Sortierrichtung muss „asc“ oder „desc“ sein.")
    store = _store()
    rows = district_rows(store, slug)
    total = total_row(rows)
    spots = white_spots(store, slug, params.field, params.distance_km)
    classes = Classes.for_values([_value(r, params.field)[1] for r in rows])
    rendered = maps.render(region_map(_tiles(), slug, rows, params.field, spots, classes), g.csp_nonce)
    state = {"field": params.field, "distance_km": params.distance_km, "sort": sort, "order": order}

    def link(**change) -> str:
        return _link("coverage.region_page", slug, **{**state, **change})

    def sort_link(key: str) -> str:
        if key == sort:
            return link(sort=key, order="desc" if order == "asc" else "asc")
        return link(sort=key, order="asc" if key in ("code", "name") else "desc")

    markers = url_for("api.markers", region=slug, **({"field": params.field} if params.field else {}))
    downloads_args = {"field": params.field, "distance_km": params.distance_km}
    return render_template(
        "coverage_region.html", region=slug, info=regions.REGIONS[slug], params=params,
        rows=sort_rows(rows, sort, order == "desc"), total=total, gaps=gaps(rows), spots=spots,
        map=rendered, legend=classes.legend(), chart=chart(rows), sort=sort, order=order,
        sort_link=sort_link, field_links={s: link(field=s) for s in [None, *FIELDS]},
        sort_labels=SORT_LABELS, distance_choices=DISTANCE_CHOICES_KM, markers_url=markers,
        distance_text=_distance_text(params.distance_km), de_number=de_number, de_percent=de_percent,
        attribution=ATTRIBUTION, map_attribution=MAP_ATTRIBUTION,
        municipality_source=MUNICIPALITY_SOURCE,
        downloads={
            "districts": url_for("coverage.download_districts", slug=slug),
            "gaps": url_for("coverage.download_gaps", slug=slug),
            "white_spots": _link("coverage.download_white_spots", slug, **downloads_args),
            "geojson": url_for("coverage.download_projects", slug=slug, fmt="geojson"),
            "csv": url_for("coverage.download_projects", slug=slug, fmt="csv"),
            "api": url_for("coverage.api_coverage", region=slug, distance_km=f"{params.distance_km:g}",
                           **({"field": params.field} if params.field else {}))},
        listing_link=lambda code: url_for("pages.listing", district=code,
                                          **({"field": params.field} if params.field else {})))


def _region_or_404(slug: str) -> str:
    if slug not in regions.REGIONS:
        abort(404)
    return slug


@bp.get("/regionen/<slug>/kreise.csv")
def download_districts(slug: str):
    rows = district_rows(_store(), _region_or_404(slug))
    return _download(district_csv(rows), f"abdeckung-{slug}-kreise.csv", "text/csv")


@bp.get("/regionen/<slug>/luecken.csv")
def download_gaps(slug: str):
    rows = district_rows(_store(), _region_or_404(slug))
    return _download(gaps_csv(rows), f"abdeckung-{slug}-luecken.csv", "text/csv")


@bp.get("/regionen/<slug>/weisse-flecken.csv")
def download_white_spots(slug: str):
    params = parse(request.args, region=_region_or_404(slug))
    spots = white_spots(_store(), slug, params.field, params.distance_km)
    name = f"abdeckung-{slug}-weisse-flecken-{params.field or 'alle'}-{_distance_text(params.distance_km)}km.csv"
    return _download(white_spots_csv(slug, spots), name.replace(",", "_"), "text/csv")


@bp.get("/regionen/<slug>/projekte.<fmt>")
def download_projects(slug: str, fmt: str):
    _region_or_404(slug)
    if fmt not in ("geojson", "csv"):
        abort(404)
    with _store().session() as s:
        projects = list(s.scalars(select(Project).where(Project.status == "published",
                                                        Project.region == slug)
                                  .order_by(Project.id)))
    out = io.StringIO()
    (write_geojson if fmt == "geojson" else write_csv)(projects, out)
    mimetype = "application/geo+json" if fmt == "geojson" else "text/csv"
    return _download(out.getvalue(), f"projekte-{slug}.{fmt}", mimetype)


@bp.get("/api/coverage")
def api_coverage():
    from flask import jsonify
    return jsonify(coverage(_store(), parse(request.args)))
