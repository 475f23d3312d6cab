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
from pyproj import Transformer
from sqlalchemy import and_, case, func, select

from atlas.web import maps
from atlas.geo import regions
from atlas.core.fields import FIELD_COLOURS, FIELDS
from atlas.core.projects import write_csv, write_geojson
from atlas.search import BadQuery, distances_km, has_field
from atlas.store import Project, Store, VersionedCache
from atlas.core.text import normalize
from atlas.web.errors import error
from atlas.web.extensions import get_store, get_tiles

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
WHITE_SPOT_COLOUR = "#8e2a1f"
#: Grid distance in UTM 32N over geodesic distance stays within 0.9996…1.0002 across Lower Saxony
#: and within 1 % up to about 900 km east or west of 9° E; so a 1 % margin on the grid nearest
#: keeps every target that could be the geodesic nearest among the exact candidates.
PLANAR_MARGIN = 1.01
_TO_PLANE = Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)

MUNICIPALITY_SOURCE = ("Gemeindemittelpunkte: Hauptort nach GeoNames oder Mittelpunkt der Gemeindefläche "
                       "(© GeoBasis-DE / BKG 2016); Einwohner der Gemeinden: GeoNames (CC BY 4.0), "
                       "eine Näherung – Gemeinden ohne Angabe zählen mit 0 Einwohnern")
ATTRIBUTION = regions.ATTRIBUTION + "; Gemeinden: GeoNames (CC BY 4.0)"
#: The short credit on the coverage maps (the full one stands on the page).
MAP_ATTRIBUTION = (regions.MAP_ATTRIBUTION + "; Einwohner: © Destatis 2019 (CC BY 4.0); "
                   "Gemeinden: GeoNames (CC BY 4.0)")

SORT_KEYS = ("code", "name", "population", "projects", "per_100k", *FIELDS)


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
            raise BadQuery(
                f"distance_km must be more than 0 and at most {MAX_DISTANCE_KM:g}, not {raw}",
                de=f"Die Entfernung muss größer als 0 und höchstens {MAX_DISTANCE_KM:g} km sein.")
    return Params(slug, field, distance)


def parse_field(args: Mapping) -> str | None:
    field = str(args.get("field") or "").strip() or None
    if field is not None and field not in FIELDS:
        raise BadQuery(f"unknown field '{field}'; valid fields: {', '.join(FIELDS)}",
                       de=f"Das Handlungsfeld „{field}“ gibt es nicht.")
    return field


# --- counting -----------------------------------------------------------------------------------

def _grouped_counts(store: Store, column, region: str | None = None) -> dict[str, dict]:
    """{group: {"projects": n, "by_field": {slug: n}}} in one scan of the published projects."""
    return _cached(store, ("counts", column.key, region),
                   lambda: _count(store, column, *([Project.region == region] if region else [])))


def _count(store: Store, column, *conditions) -> dict[str, dict]:
    columns = [column, func.count()] + [func.sum(case((has_field(s), 1), else_=0)) for s in FIELDS]
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
    counts = _grouped_counts(store, Project.district_code, region)
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

@dataclass
class Targets:
    """Points to measure to, with their R-tree in the plane (built once per data version)."""
    ids: list[str]
    lats: np.ndarray
    lons: np.ndarray
    tree: shapely.STRtree | None

    @classmethod
    def build(cls, ids, lats, lons) -> "Targets":
        lats, lons = np.asarray(lats, dtype=float), np.asarray(lons, dtype=float)
        tree = shapely.STRtree(shapely.points(*_TO_PLANE.transform(lons, lats))) if lats.size else None
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
    rows, cols = targets.tree.query(points, predicate="dwithin", distance=planar * PLANAR_MARGIN + 1.0)
    km = distances_km(lats[rows], lons[rows], targets.lats[cols], targets.lons[cols])
    order = np.lexsort((cols, km, rows))  # by point, nearest first, ties by index
    first = order[np.r_[0, np.flatnonzero(np.diff(rows[order])) + 1]]
    distance = np.full(n, np.inf)
    index = np.full(n, -1, dtype=np.int64)
    distance[rows[first]] = km[first]
    index[rows[first]] = cols[first]
    return distance, index


# Results that only change with the data: keyed by (database, what, data version), so a new,
# changed or deleted project is seen by the next request.
_CACHE = VersionedCache(16)


def _cached(store: Store, what: tuple, compute):
    return _CACHE.get(store, what, compute)


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
    from atlas.geo.geocoding import gazetteer

    rows = sorted((e for e in gazetteer().entities if e.kind == "municipality"
                   and (regions.district(e.district_code) or {}).get("region") == region),
                  key=lambda e: e.ags)
    return Municipalities(tuple(e.ags for e in rows), tuple(e.name for e in rows),
                          tuple(e.district_code for e in rows),
                          np.array([e.lat for e in rows]), np.array([e.lon for e in rows]),
                          np.array([e.population for e in rows], dtype=np.int64))


def _project_points(store: Store, field: str | None) -> Targets:
    """Published projects of the field anywhere in the atlas: a project across a region's border
    serves the municipalities near it too."""
    cond = [Project.status == "published"] + ([has_field(field)] if field else [])
    rows = store.fetch(select(Project.id, Project.lat, Project.lon).where(and_(*cond)))
    return Targets.build([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def project_targets(store: Store, field: str | None) -> Targets:
    return _cached(store, ("targets", field), lambda: _project_points(store, field))


def _nearest_in_region(store: Store, region: str, field: str | None):
    """Each municipality of the region: distance (km) to the nearest project of the field, its id."""
    munis = municipalities(region)
    targets = project_targets(store, field)
    distance, index = nearest_targets(munis.lat, munis.lon, targets)
    ids = [targets.ids[i] if i >= 0 else None for i in index]
    return munis, distance, ids


def white_spots(store: Store, region: str, field: str | None, distance_km: float) -> dict:
    """Municipalities of the region farther than distance_km from the nearest project of the field,
    farthest first, with the shares of municipalities and inhabitants they make up."""
    munis, distance, ids = _nearest_in_region(store, region, field)
    uncovered = distance > distance_km
    population = int(munis.population.sum())
    uncovered_population = int(munis.population[uncovered].sum())
    items = []
    for i in np.flatnonzero(uncovered):
        items.append({"ags": munis.ags[i], "name": munis.name[i],
                      "district_code": munis.district_code[i],
                      "district": regions.district(munis.district_code[i])["name"],
                      "lat": float(munis.lat[i]), "lon": float(munis.lon[i]),
                      "population": int(munis.population[i]),
                      "nearest_km": round(float(distance[i]), 2) if ids[i] else None,
                      "nearest_project": ids[i]})
    items.sort(key=lambda s: (-(s["nearest_km"] if s["nearest_km"] is not None else math.inf),
                              s["ags"]))
    return {"field": field, "distance_km": distance_km, "municipalities": len(munis.ags),
            "uncovered": len(items),
            "share_municipalities": round(len(items) / len(munis.ags), 4) if munis.ags else 0.0,
            "population": population, "uncovered_population": uncovered_population,
            "share_population": round(uncovered_population / population, 4) if population else 0.0,
            "projects_considered": len(project_targets(store, field).ids),
            "population_source": MUNICIPALITY_SOURCE, "items": items}


def coverage(store: Store, params: Params) -> dict:
    """Every figure of a region's coverage, in the shape of GET /api/coverage."""
    rows = district_rows(store, params.region)
    info = regions.REGIONS[params.region]
    return {"region": params.region, "region_name": info["name"], "office": info["office"],
            "field": params.field, "distance_km": params.distance_km,
            "total": total_row(rows), "districts": rows, "gaps": gaps(rows),
            "white_spots": white_spots(store, params.region, params.field, params.distance_km),
            "attribution": ATTRIBUTION}


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


def _digits(step: float) -> int:
    """Decimals that show every multiple of a step exactly (2.5 → 1, 0.05 → 2)."""
    for digits in range(4):
        if abs(step * 10 ** digits - round(step * 10 ** digits)) < 1e-9:
            return digits
    return 4


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
        digits = _digits(self.step)
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
            "label": f"{_project_words(count)} · {de_rate(value)} je 100.000 Einw."}})
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
            marker=folium.CircleMarker(radius=5, fill=True),
            # Literally white, ringed dark red: unlike the projects' filled dots with white rims.
            style_function=lambda f: {"color": WHITE_SPOT_COLOUR, "weight": 2.5, "fillColor": "#ffffff",
                                      "fillOpacity": 1, "className": "white-spot"},
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
                title = (f"{r[name_key]} – {label}: {_project_words(r['by_field'][slug])}, "
                         f"{de_rate(value)} je 100.000 Einw.")
                segments.append({"x": round(x, 2), "width": round(width, 2),
                                 "colour": FIELD_COLOURS[slug], "title": title})
            x += width
        bars.append({"label": r[name_key], "y": y, "segments": segments,
                     "total": de_rate(sum(r["by_field_per_100k"].values())), "end": round(x, 2)})
    height = CHART_TOP + len(ordered) * (CHART_BAR + CHART_GAP) + CHART_AXIS
    digits = _digits(step)
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


def de_rate(value: float) -> str:
    """Projects per 100,000 inhabitants: one decimal, two below 1 so a single project never reads 0."""
    return de_number(value, 2 if 0 < value < 1 else 1)


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


def white_spots_csv(store: Store, region: str, field: str | None, distance_km: float) -> str:
    """Every municipality of the region with its nearest project; white_spot says which are."""
    munis, distance, ids = _nearest_in_region(store, region, field)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["ags", "municipality", "district_code", "district", "lat", "lon", "population",
                     "field", "distance_km", "nearest_km", "nearest_project", "white_spot"])
    for i in range(len(munis.ags)):
        writer.writerow([munis.ags[i], munis.name[i], munis.district_code[i],
                         regions.district(munis.district_code[i])["name"], munis.lat[i], munis.lon[i],
                         int(munis.population[i]), field or "", distance_km,
                         round(float(distance[i]), 3) if ids[i] else "", ids[i] or "",
                         "true" if distance[i] > distance_km else "false"])
    return out.getvalue()


def _download(text: str, filename: str, mimetype: str) -> Response:
    return Response(text, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- routes -------------------------------------------------------------------------------------

def _store() -> Store:
    return get_store()



@bp.errorhandler(BadQuery)
def _bad_query(exc: BadQuery):
    if request.path.startswith("/api/"):
        return error(str(exc))
    message = exc.extra.get("de") or str(exc)
    return render_template("error.html", title="Ungültige Angabe", message=message), 400


def _distance_text(distance_km: float) -> str:
    """12.5 → "12,5", 15.0 → "15": as typed, in German."""
    return f"{distance_km:g}".replace(".", ",")


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
    rendered = maps.render(state_map(get_tiles(), rows, field, classes), g.csp_nonce)
    total = total_row(rows)
    return render_template("coverage_overview.html", rows=rows, total=total, field=field,
                           map=rendered, legend=classes.legend(), chart=chart(rows, "region_name"),
                           field_links={slug: _link("coverage.overview", field=slug)
                                        for slug in [None, *FIELDS]},
                           de_number=de_number, de_rate=de_rate, attribution=ATTRIBUTION,
                           map_attribution=MAP_ATTRIBUTION)


@bp.get("/regionen/<slug>")
def region_page(slug: str):
    if slug not in regions.REGIONS:
        abort(404)
    params = parse(request.args, region=slug)
    sort = (request.args.get("sort") or "code").strip()
    if sort not in SORT_KEYS:
        raise BadQuery(f"unknown sort '{sort}'; valid: {', '.join(SORT_KEYS)}",
                       de=f"Nach „{sort}“ kann die Tabelle nicht sortiert werden.")
    order = (request.args.get("order") or ("asc" if sort in ("code", "name") else "desc")).strip()
    if order not in ("asc", "desc"):
        raise BadQuery(f"order must be asc or desc, not '{order}'",
                       de="Die Sortierrichtung muss „asc“ oder „desc“ sein.")
    store = _store()
    rows = district_rows(store, slug)
    total = total_row(rows)
    spots = white_spots(store, slug, params.field, params.distance_km)
    classes = Classes.for_values([_value(r, params.field)[1] for r in rows])
    rendered = maps.render(region_map(get_tiles(), slug, rows, params.field, spots, classes), g.csp_nonce)
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
        distance_choices=DISTANCE_CHOICES_KM, markers_url=markers,
        distance_text=_distance_text(params.distance_km), de_number=de_number, de_rate=de_rate,
        de_percent=de_percent,
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
    distance = _distance_text(params.distance_km).replace(",", "_")
    name = f"abdeckung-{slug}-weisse-flecken-{params.field or 'alle'}-{distance}km.csv"
    return _download(white_spots_csv(_store(), slug, params.field, params.distance_km),
                     name, "text/csv")


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
