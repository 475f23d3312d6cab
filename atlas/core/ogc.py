"""The atlas as OGC API – Features (Part 1 Core, GeoJSON, HTML, OpenAPI 3.0; Part 2 CRS): its
collections, their features and queryables, the items parameters, and coordinate reference
systems. No Flask here: `atlas.web.ogc` serves it under /ogc/.

The projects collection runs the same search as /api/projects (atlas.search: one parser, one
back end per database); regions and districts carry the coverage figures of atlas.core.coverage,
municipalities the distance to the nearest project per field (the white spots).

What a project feature carries is written once, in PROJECT_PROPERTIES: its JSON schema is the
queryable, its value comes from atlas.core.projects.public_properties (or the record's own
attribute of that name), and the downloads write the same columns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from sqlalchemy import and_, select

from atlas import search
from atlas.core import coverage as figures
from atlas.core.fields import FIELDS
from atlas.core.projects import public_properties
from atlas.geo import regions
from atlas.geo.geocoding import Precision
from atlas.store import Project, Store, VersionedCache

# --- standards ----------------------------------------------------------------------------------

_CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    _CONF + "core",
    _CONF + "oas30",
    _CONF + "html",
    _CONF + "geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: The CRSs the atlas answers in (Part 2): URI → pyproj's name. EPSG:4326 has latitude first,
#: as EPSG defines it; CRS84 longitude first, as GeoJSON does. EPSG:25832 (ETRS89 / UTM 32N) is
#: the CRS of Lower Saxony's offices.
CRS_URIS = {
    CRS84: "OGC:CRS84",
    "http://www.opengis.net/def/crs/EPSG/0/4326": "EPSG:4326",
    "http://www.opengis.net/def/crs/EPSG/0/25832": "EPSG:25832",
    "http://www.opengis.net/def/crs/EPSG/0/3857": "EPSG:3857",
}
_SHORT = {name: uri for uri, name in CRS_URIS.items()}

#: Items per page: the standard's default, and the most one page gives (a larger limit is
#: clamped to it, never refused).
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def N_(text: str) -> str:
    """Marks a German text for the translation catalogue (pybabel's default keyword); the web
    layer translates it where it words an answer (no Flask here)."""
    return text


class OgcError(Exception):
    """An answer other than the features: 400 for a bad parameter, 404 for an unknown
    collection or feature; `code` and `description` as the standard's exception schema."""

    def __init__(self, description: str, status: int = 400, code: str = "InvalidParameterValue"):
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


def crs_uri(text: str | None) -> str:
    """A CRS as asked for (URI, `EPSG:25832`, `[EPSG:25832]`, `OGC:CRS84`) → its URI; None or
    "" → CRS84. OgcError for any other."""
    if not text:
        return CRS84
    raw = text.strip().strip("[]")
    if raw in CRS_URIS:
        return raw
    if raw.upper() in _SHORT:
        return _SHORT[raw.upper()]
    raise OgcError(f"unsupported crs '{text}'; supported: {', '.join(CRS_URIS)}")


@cache
def _transformer(source: str, target: str) -> Transformer:
    """Authority axis order on both sides (EPSG:4326 is lat, lon)."""
    return Transformer.from_crs(CRS(CRS_URIS[source]), CRS(CRS_URIS[target]))


@cache
def _digits(uri: str) -> int:
    """Decimals kept: 7 for degrees (about a centimetre), 2 for metres."""
    return 7 if CRS(CRS_URIS[uri]).is_geographic else 2


def transform_coords(xs, ys, target: str) -> tuple[np.ndarray, np.ndarray]:
    """CRS84 coordinates (lon, lat) in the target CRS's own axis order, rounded."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if target != CRS84:
        xs, ys = _transformer(CRS84, target).transform(xs, ys)
    digits = _digits(target)
    return np.round(xs, digits), np.round(ys, digits)


def transform_geometry(geometry, target: str) -> dict:
    """A shapely geometry in CRS84 as a GeoJSON geometry in `target` (its axis order)."""
    moved = shapely.transform(
        geometry, lambda xy: np.column_stack(transform_coords(xy[:, 0], xy[:, 1], target))
    )
    return shapely.geometry.mapping(moved)


def bbox_crs84(raw: str, bbox_crs: str | None) -> tuple[float, float, float, float]:
    """`bbox` as asked (four numbers in the axis order of `bbox-crs`, CRS84 by default) → the
    enclosing CRS84 box (minlon, minlat, maxlon, maxlat)."""
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 6:  # a 3D box: minx, miny, minz, maxx, maxy, maxz
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise OgcError(f"bbox '{raw}' must be four numbers")
    source = crs_uri(bbox_crs)
    a0, b0, a1, b1 = values
    if a0 > a1 or b0 > b1:
        raise OgcError(f"bbox '{raw}' is not a box: the lower corner comes first")
    if source == CRS84:
        box = (a0, b0, a1, b1)
    else:
        box = _transformer(source, CRS84).transform_bounds(a0, b0, a1, b1, densify_pts=21)
    minlon, minlat, maxlon, maxlat = (float(v) for v in box)
    # A box beyond the world's edges selects what it covers of the world.
    minlon, maxlon = max(minlon, -180.0), min(maxlon, 180.0)
    minlat, maxlat = max(minlat, -90.0), min(maxlat, 90.0)
    return minlon, minlat, maxlon, maxlat


# --- project properties -------------------------------------------------------------------------

STRING = {"type": "string"}
STRINGS = {"type": "array", "items": {"type": "string"}}
DATE_TIME = {"type": "string", "format": "date-time"}
FIELD_ENUM = {"type": "string", "enum": list(FIELDS)}
LANGUAGE = {"type": "string", "pattern": "^[a-z]{2}$"}  # ISO 639-1
LANGUAGES = {"type": "array", "items": LANGUAGE}
REGION_ENUM = {"type": "string", "enum": list(regions.REGIONS)}
DISTRICT_CODE = {"type": "string", "pattern": "^03[1-4][0-9]{2}$"}


def field_column(slug: str) -> str:
    """The yes/no column of a field: `field_arbeit_ausbildung` (GIS-friendly names)."""
    return "field_" + slug.replace("-", "_")


#: Every property of a project feature, in order, with its JSON schema: the one place to add
#: one. A value comes from `public_properties` (atlas.core.projects) when it has the key, else
#: from VALUES, else from the record's attribute of the same name.
PROJECT_PROPERTIES: dict[str, dict] = {
    "name": {**STRING, "title": N_("Name")},
    "organisation": {**STRING, "title": N_("Träger")},
    "description": {**STRING, "title": N_("Beschreibung")},
    "fields": {"type": "array", "items": FIELD_ENUM, "title": N_("Handlungsfelder")},
    "tags": {**STRINGS, "title": N_("Schlagworte")},
    "city": {**STRING, "title": N_("Ort")},
    "postcode": {"type": "string", "pattern": "^[0-9]{5}$", "title": N_("PLZ")},
    "street": {**STRING, "title": N_("Straße")},
    "website": {"type": "string", "format": "uri", "title": N_("Website")},
    "source": {**STRINGS, "title": N_("Quelle")},
    "precision": {"type": "string", "enum": list(Precision), "title": N_("Genauigkeit")},
    "location_note": {**STRING, "title": N_("Hinweis zum Ort")},
    "district_code": {**DISTRICT_CODE, "title": N_("Kreisschlüssel")},
    "district": {**STRING, "title": N_("Landkreis")},
    "region": {**REGION_ENUM, "title": N_("Region")},
    "contact_email": {"type": "string", "format": "email", "title": N_("E-Mail")},
    "synthetic": {"type": "boolean", "title": N_("Testdaten")},
    "languages": {**LANGUAGES, "title": N_("Sprachen, in denen das Projekt mit Menschen arbeitet")},
    # Issue 21's dates (titles not in the catalogue yet: German in every language).
    "confirmed_at": {**DATE_TIME, "title": "Zuletzt bestätigt"},
    "source_date": {
        "type": "string",
        "pattern": "^[0-9]{4}(-[0-9]{2}){0,2}$",
        "title": "Stand laut Quelle",
    },
    "created": {**DATE_TIME, "title": N_("Aufgenommen")},
    "updated": {**DATE_TIME, "title": N_("Geändert")},
    **{
        field_column(slug): {"type": "boolean", "title": f"Handlungsfeld {label}"}
        for slug, label in FIELDS.items()
    },
}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S") + "Z"


#: Properties that are not a public property nor a record attribute of the same name.
VALUES: dict[str, Callable] = {
    "created": lambda p: _iso(p.created_at),
    "updated": lambda p: _iso(p.updated_at),
    **{field_column(slug): (lambda p, s=slug: s in (p.fields or [])) for slug in FIELDS},
}


def project_properties(project) -> dict:
    public = public_properties(project)
    props = {}
    for name in PROJECT_PROPERTIES:
        if name in public:
            props[name] = public[name]
        elif name in VALUES:
            props[name] = VALUES[name](project)
        else:
            props[name] = getattr(project, name, None)
    return props


def project_features(found, target: str = CRS84) -> list[dict]:
    """Features of (project, distance in km or None) pairs, the coordinates transformed at
    once."""
    found = list(found)
    xs, ys = transform_coords([p.lon for p, _ in found], [p.lat for p, _ in found], target)
    features = []
    for (project, distance_km), x, y in zip(found, xs.tolist(), ys.tolist()):
        props = project_properties(project)
        if distance_km is not None:
            props["distance_km"] = round(distance_km, 2)
        features.append(
            {
                "type": "Feature",
                "id": project.id,
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": props,
            }
        )
    return features


def project_feature(project, target: str = CRS84) -> dict:
    return project_features([(project, None)], target)[0]


# --- collections --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    geometry: str
    #: Item parameters besides the common ones (limit, offset, bbox, bbox-crs, crs, datetime, f).
    filters: dict[str, dict]
    #: JSON schemas of the feature properties (the queryables are the filterable ones).
    properties: dict[str, dict] = field(default_factory=dict)


def _per_field_columns(kind: str) -> dict[str, dict]:
    columns = {}
    for slug, label in FIELDS.items():
        key = slug.replace("-", "_")
        if kind == "counts":
            columns[f"{key}_projects"] = {"type": "integer", "title": f"Projekte {label}"}
            columns[f"{key}_per_100k"] = {
                "type": "number",
                "title": f"Projekte {label} je 100.000 Einwohner",
            }
        else:
            columns[f"{key}_nearest_km"] = {
                "type": "number",
                "title": f"Nächstes Projekt {label} (km)",
            }
    return columns


_FIGURES = {
    "population": {"type": "integer", "title": N_("Einwohner")},
    "area_km2": {"type": "number", "title": N_("Fläche (km²)")},
    "projects": {"type": "integer", "title": N_("Projekte")},
    "projects_per_100k": {"type": "number", "title": N_("Projekte je 100.000 Einwohner")},
    **_per_field_columns("counts"),
}

#: The atlas's own search parameters of the projects (declared in the OpenAPI document).
PROJECT_SEARCH = {
    "q": {
        "schema": STRING,
        "description": "Words that name, organisation, description, place or tags all contain.",
    },
    "near": {
        "schema": STRING,
        "description": "A place, postcode or address in Lower Saxony, or 'lat,lon': only "
        "projects within radius_km of it (each with distance_km).",
    },
    "radius_km": {
        "schema": {
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,  # OpenAPI 3.0's spelling
            "maximum": search.MAX_RADIUS_KM,
        },
        "description": "The radius around `near` in km (default 25).",
    },
    "sortby": {
        "schema": {"type": "string", "enum": ["name", "+name", "-created", "distance"]},
        "description": "The order: by name (default; then id), newest first (-created), or "
        "nearest first (distance, with `near`).",
    },
}

COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in [
        Collection(
            "projects",
            N_("Projekte"),
            N_("Die veröffentlichten Projekte und Initiativen des Projektatlas als Punkte."),
            "Point",
            {
                "region": REGION_ENUM,
                "district_code": DISTRICT_CODE,
                "field": FIELD_ENUM,
                "language": LANGUAGE,
                "precision": PROJECT_PROPERTIES["precision"],
            },
            PROJECT_PROPERTIES,
        ),
        Collection(
            "regions",
            N_("Regionen (ÄrL)"),
            N_(
                "Die vier Regionen der Ämter für regionale Landesentwicklung mit Projekten je "
                "Handlungsfeld und je 100.000 Einwohner."
            ),
            "MultiPolygon",
            {"region": REGION_ENUM},
            {
                "region": REGION_ENUM,
                "name": STRING,
                "office": STRING,
                "districts": {"type": "integer"},
                **_FIGURES,
            },
        ),
        Collection(
            "districts",
            N_("Landkreise und kreisfreie Städte"),
            N_(
                "Die 45 Landkreise und kreisfreien Städte mit Einwohnern, Projekten und "
                "Projekten je 100.000 Einwohner, auch je Handlungsfeld (die Abdeckungstabelle "
                "als Layer)."
            ),
            "MultiPolygon",
            {"region": REGION_ENUM, "district_code": DISTRICT_CODE},
            {
                "district_code": DISTRICT_CODE,
                "name": STRING,
                "kind": STRING,
                "nuts3": STRING,
                "region": REGION_ENUM,
                **_FIGURES,
            },
        ),
        Collection(
            "municipalities",
            N_("Gemeinden"),
            N_(
                "Die Gemeindemittelpunkte mit der Entfernung zum nächsten Projekt je "
                "Handlungsfeld (die weißen Flecken)."
            ),
            "Point",
            {"region": REGION_ENUM, "district_code": DISTRICT_CODE},
            {
                "ags": STRING,
                "name": STRING,
                "district_code": DISTRICT_CODE,
                "district": STRING,
                "region": REGION_ENUM,
                "population": {"type": "integer", "title": N_("Einwohner (GeoNames, Näherung)")},
                "nearest_km": {"type": "number", "title": N_("Nächstes Projekt (km)")},
                **_per_field_columns("nearest"),
            },
        ),
    ]
}

#: Parameters every items request may carry.
COMMON_ITEMS_PARAMS = ("f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime")


def collection_or_404(collection_id: str) -> Collection:
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise OgcError(
            f"no collection '{collection_id}'; collections: {', '.join(COLLECTIONS)}",
            404,
            "NotFound",
        )
    return found


@cache
def state_bounds() -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = regions.districts().total_bounds
    return (round(minx, 4), round(miny, 4), round(maxx, 4), round(maxy, 4))


def queryables(collection: Collection, url: str) -> dict:
    """The collection's filterable properties as JSON Schema (Part 3)."""
    props = {
        name: dict(collection.properties.get(name, schema))
        for name, schema in collection.filters.items()
    }
    if collection.id == "projects":
        props["field"] = {**FIELD_ENUM, "title": N_("Handlungsfeld (eines der Handlungsfelder)")}
        props["updated"] = {**DATE_TIME, "title": N_("Geändert (Parameter datetime)")}
    props["geometry"] = {"$ref": f"https://geojson.org/schema/{collection.geometry}.json"}
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": url,
        "type": "object",
        "title": collection.title,
        "properties": props,
        "additionalProperties": False,
    }


# --- items --------------------------------------------------------------------------------------


@dataclass
class Page:
    """What an items request found: the features of the page and the number of all matches."""

    features: list[dict]
    matched: int
    limit: int
    offset: int


def _int(args: Mapping, name: str, default: int) -> int:
    raw = str(args.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise OgcError(f"{name} '{raw}' is not a whole number") from None
    return value


def paging(args: Mapping) -> tuple[int, int]:
    """limit (1…MAX_LIMIT, larger ones clamped) and offset (≥ 0)."""
    limit = _int(args, "limit", DEFAULT_LIMIT)
    if limit < 1:
        raise OgcError(f"limit must be at least 1, not {limit}")
    offset = _int(args, "offset", 0)
    if offset < 0:
        raise OgcError(f"offset must not be negative, not {offset}")
    return min(limit, MAX_LIMIT), offset


def check_params(args: Mapping, collection: Collection) -> None:
    """400 for a parameter the collection's items do not know (a misspelt filter would else
    be ignored and give every feature)."""
    known = set(COMMON_ITEMS_PARAMS) | set(collection.filters)
    if collection.id == "projects":
        known |= set(PROJECT_SEARCH)
    unknown = sorted(set(args) - known)
    if unknown:
        raise OgcError(
            f"unknown parameter(s) {', '.join(unknown)}; the items of '{collection.id}' take "
            f"{', '.join(sorted(known))}"
        )


def _datetime_bounds(raw: str) -> tuple[datetime | None, datetime | None]:
    """`datetime` as an instant or an interval ("a/b", open ends ".." or empty) → (start, end)."""

    def one(text: str) -> datetime | None:
        text = text.strip()
        if text in ("", ".."):
            return None
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise OgcError(f"datetime '{raw}' is not an RFC 3339 date-time or interval") from None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    if "/" in raw:
        start, end = raw.split("/", 1)
        return one(start), one(end)
    instant = one(raw)
    return instant, instant


_SORTBY = {"name": "name", "+name": "name", "-created": "newest", "distance": "distance"}


def project_query(args: Mapping, geocode) -> tuple[search.Query, tuple]:
    """The items parameters of `projects` as the atlas's search Query (atlas.search.parse, the
    parser of /api/projects), and the `datetime` bounds on `updated`."""
    limit, offset = paging(args)
    translated = {
        "region": args.get("region"),
        "district": args.get("district_code"),
        "field": args.get("field"),
        "language": args.get("language"),
        "q": args.get("q"),
        "near": args.get("near"),
        "radius_km": args.get("radius_km"),
    }
    if raw := (args.get("sortby") or "").strip():
        if raw not in _SORTBY:
            raise OgcError(f"unknown sortby '{raw}'; valid: {', '.join(_SORTBY)}")
        translated["sort"] = _SORTBY[raw]
    if raw := (args.get("bbox") or "").strip():
        translated["bbox"] = ",".join(repr(v) for v in bbox_crs84(raw, args.get("bbox-crs")))
    elif args.get("bbox-crs"):
        crs_uri(args.get("bbox-crs"))
    try:
        query = search.parse(translated, geocode=geocode)
    except search.BadQuery as exc:
        raise OgcError(str(exc)) from None
    query.limit, query.offset = limit, offset
    if raw := (args.get("precision") or "").strip():
        if raw not in set(Precision):
            raise OgcError(f"unknown precision '{raw}'; valid: {', '.join(Precision)}")
        query.precision = raw
    bounds = _datetime_bounds(args["datetime"]) if args.get("datetime") else (None, None)
    query.updated = bounds if any(bounds) else None
    return query, bounds


def project_items(store: Store, args: Mapping, geocode, target: str) -> Page:
    query, _ = project_query(args, geocode)
    result = search.run(store, query)
    features = project_features(result.items, target)
    return Page(features, result.total, query.limit, query.offset)


def project_item(store: Store, feature_id: str, target: str) -> dict:
    found = store.get(feature_id)
    if found is None or found.status != "published":
        raise OgcError(f"no published project with id '{feature_id}'", 404, "NotFound")
    return project_feature(found, target)


def published_projects(store: Store) -> list[Project]:
    """Every published project in id order (the downloads)."""
    with store.session() as s:
        return list(
            s.scalars(
                select(Project).where(and_(Project.status == "published")).order_by(Project.id)
            )
        )


# --- regions, districts, municipalities ----------------------------------------------------------

_AREAS = VersionedCache(8)


def _multi(geometry):
    return shapely.MultiPolygon([geometry]) if geometry.geom_type == "Polygon" else geometry


def _flat_figures(row: dict) -> dict:
    out = {k: row[k] for k in ("population", "area_km2", "projects", "projects_per_100k")}
    for slug in FIELDS:
        key = slug.replace("-", "_")
        out[f"{key}_projects"] = row["by_field"][slug]
        out[f"{key}_per_100k"] = row["by_field_per_100k"][slug]
    return out


def _region_features(store: Store) -> list[tuple[str, object, dict]]:
    shapes = {r["region"]: _multi(r["geometry"]) for r in regions.regions().to_dict("records")}
    return [
        (
            row["region"],
            shapes[row["region"]],
            {
                "region": row["region"],
                "name": row["region_name"],
                "office": row["office"],
                "districts": row["districts"],
                **_flat_figures(row),
            },
        )
        for row in figures.region_rows(store)
    ]


def _district_features(store: Store) -> list[tuple[str, object, dict]]:
    frame = regions.districts()
    shapes = dict(zip(frame["district_code"], frame.geometry))
    out = []
    for region in regions.REGIONS:
        for row in figures.district_rows(store, region):
            info = regions.district(row["district_code"])
            out.append(
                (
                    row["district_code"],
                    _multi(shapes[row["district_code"]]),
                    {
                        "district_code": row["district_code"],
                        "name": row["district"],
                        "kind": row["kind"],
                        "nuts3": info["nuts3"],
                        "region": info["region"],
                        **_flat_figures(row),
                    },
                )
            )
    return sorted(out, key=lambda f: f[0])


def _municipality_features(store: Store) -> list[tuple[str, object, dict]]:
    out = []
    for region in regions.REGIONS:
        munis = figures.municipalities(region)
        nearest = {
            slug: figures.nearest_targets(
                munis.lat, munis.lon, figures.project_targets(store, slug)
            )[0]
            for slug in [None, *FIELDS]
        }

        def km(value: float) -> float | None:
            return round(float(value), 2) if math.isfinite(value) else None

        for i, ags in enumerate(munis.ags):
            props = {
                "ags": ags,
                "name": munis.name[i],
                "district_code": munis.district_code[i],
                "district": regions.district(munis.district_code[i])["name"],
                "region": region,
                "population": int(munis.population[i]),
                "nearest_km": km(nearest[None][i]),
            }
            for slug in FIELDS:
                props[f"{slug.replace('-', '_')}_nearest_km"] = km(nearest[slug][i])
            out.append((ags, shapely.Point(munis.lon[i], munis.lat[i]), props))
    return sorted(out, key=lambda f: f[0])


_BUILDERS = {
    "regions": _region_features,
    "districts": _district_features,
    "municipalities": _municipality_features,
}


def area_features(store: Store, collection_id: str) -> list[tuple[str, object, dict]]:
    """(id, CRS84 shapely geometry, properties) of every feature, in id order; cached per data
    version."""
    return _AREAS.get(store, (collection_id,), lambda: _BUILDERS[collection_id](store))


def _feature(fid: str, geometry, props: dict, target: str) -> dict:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": transform_geometry(geometry, target),
        "properties": props,
    }


def area_items(store: Store, collection: Collection, args: Mapping, target: str) -> Page:
    limit, offset = paging(args)
    features = area_features(store, collection.id)
    for name, schema in collection.filters.items():
        if raw := (args.get(name) or "").strip():
            allowed = schema.get("enum")
            if allowed and raw not in allowed:
                raise OgcError(f"unknown {name} '{raw}'; valid: {', '.join(allowed)}")
            if "pattern" in schema and not re.match(schema["pattern"], raw):
                raise OgcError(f"{name} '{raw}' is not a district key such as 03241")
            features = [f for f in features if f[2].get(name) == raw]
    if raw := (args.get("bbox") or "").strip():
        box = shapely.box(*bbox_crs84(raw, args.get("bbox-crs")))
        features = [f for f in features if f[1].intersects(box)]
    elif args.get("bbox-crs"):
        crs_uri(args.get("bbox-crs"))
    if args.get("datetime"):
        _datetime_bounds(args["datetime"])  # checked; these features have no time
    page = [_feature(*f, target) for f in features[offset : offset + limit]]
    return Page(page, len(features), limit, offset)


def area_item(store: Store, collection: Collection, feature_id: str, target: str) -> dict:
    for fid, geometry, props in area_features(store, collection.id):
        if fid == feature_id:
            return _feature(fid, geometry, props, target)
    raise OgcError(f"no feature '{feature_id}' in '{collection.id}'", 404, "NotFound")


def items(store: Store, collection: Collection, args: Mapping, geocode, target: str) -> Page:
    check_params(args, collection)
    if collection.id == "projects":
        return project_items(store, args, geocode, target)
    return area_items(store, collection, args, target)


def item(store: Store, collection: Collection, feature_id: str, target: str) -> dict:
    if collection.id == "projects":
        return project_item(store, feature_id, target)
    return area_item(store, collection, feature_id, target)


def now_stamp() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
