"""What describes the OGC API of the atlas (atlas.core.ogc) and the data behind it: the
OpenAPI 3.0 document, the DCAT-AP.de description of the dataset, and the statewide downloads of
the published projects (GeoJSON, GeoPackage, CSV) with the same columns as the features."""

from __future__ import annotations

import io
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import shapely
from sqlalchemy import func, select

from atlas.core import coverage as figures
from atlas.core import ogc, tables
from atlas.core.ogc import N_
from atlas.geo import regions
from atlas.store import Project, Store

#: Download format → (media type, title).
DOWNLOADS = {
    "geojson": ("application/geo+json", N_("Alle veröffentlichten Projekte als GeoJSON")),
    "gpkg": ("application/geopackage+sqlite3", N_("Alle veröffentlichten Projekte als GeoPackage")),
    "csv": ("text/csv", N_("Alle veröffentlichten Projekte als CSV")),
}
PUBLISHER = "Bündnis „Niedersachsen packt an“"
#: Licence names → their URIs in DCAT-AP.de's licence vocabulary; ATLAS_DATA_LICENSE may also be
#: such a URI itself.
LICENSES = {
    "Datenlizenz Deutschland – Namensnennung – Version 2.0": (
        "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
    ),
    "Datenlizenz Deutschland – Zero – Version 2.0": "http://dcat-ap.de/def/licenses/dl-zero-de/2.0",
    "CC BY 4.0": "http://dcat-ap.de/def/licenses/cc-by/4.0",
    "CC0 1.0": "http://dcat-ap.de/def/licenses/cc-zero",
}


def license_node(name: str) -> dict:
    """The licence as DCAT-AP.de names it: its URI where the vocabulary has one, and its name."""
    uri = LICENSES.get(name.strip()) or (name.strip() if name.startswith("http") else None)
    return {"@id": uri, "dct:title": name} if uri else {"dct:title": name}


def download_url(base: str, fmt: str) -> str:
    return f"{base}/downloads/projekte.{fmt}"


def attribution() -> str:
    return figures.ATTRIBUTION


# --- downloads ----------------------------------------------------------------------------------

#: Columns of the CSV and GeoPackage: the id, every feature property, the coordinates.
COLUMNS = ["id", *ogc.PROJECT_PROPERTIES, "lat", "lon"]


def _rows(features: list[dict]) -> list[dict]:
    rows = []
    for f in features:
        lon, lat = f["geometry"]["coordinates"]
        rows.append({"id": f["id"], **f["properties"], "lat": lat, "lon": lon})
    return rows


def _flat(row: dict) -> dict:
    """Lists as `a;b` (what `atlas import` reads back)."""
    return {k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()}


def downloads(store: Store) -> dict[str, bytes]:
    """Every published project, in id order, as GeoJSON, GeoPackage and CSV bytes: built
    together from one read of the store (the caller keeps them per data version)."""
    features = ogc.project_features((p, None) for p in ogc.published_projects(store))
    geojson = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    rows = [_flat(r) for r in _rows(features)]
    del features
    out = io.StringIO()
    tables.Table(out, COLUMNS, tables.CSV).records(rows)
    return {"geojson": geojson.encode(), "gpkg": _geopackage(rows), "csv": out.getvalue().encode()}


def _geopackage(rows: list[dict]) -> bytes:
    frame = gpd.GeoDataFrame(
        rows or None,
        columns=COLUMNS,
        geometry=shapely.points([[r["lon"], r["lat"]] for r in rows]) if rows else [],
        crs="EPSG:4326",
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "projekte.gpkg"
        frame.to_file(path, layer="projekte", driver="GPKG", engine="pyogrio")
        return path.read_bytes()


# --- metadata -----------------------------------------------------------------------------------


def last_change(store: Store) -> datetime | None:
    with store.session() as s:
        return s.scalar(select(func.max(Project.updated_at)).where(Project.status == "published"))


def dcat(base: str, public_url: str, license_name: str, modified: datetime | None) -> dict:
    """The dataset in DCAT-AP.de (JSON-LD): title, description, publisher, licence, spatial
    extent, update date, the sources' attribution, one distribution per download and the API."""
    west, south, east, north = ogc.state_bounds()
    polygon = shapely.box(west, south, east, north).wkt
    when = (modified or datetime.now(UTC)).astimezone(UTC).date().isoformat()
    distributions = [
        {
            "@type": "dcat:Distribution",
            "dct:title": title,
            "dcat:downloadURL": {"@id": download_url(base, fmt)},
            "dcat:accessURL": {"@id": download_url(base, fmt)},
            "dcat:mediaType": mimetype,
            "dct:license": license_node(license_name),
            "dcatde:licenseAttributionByText": PUBLISHER,
        }
        for fmt, (mimetype, title) in DOWNLOADS.items()
    ]
    distributions.append(
        {
            "@type": "dcat:Distribution",
            "dct:title": "OGC API – Features",
            "dcat:accessURL": {"@id": base + "/"},
            "dct:conformsTo": {"@id": "http://www.opengis.net/spec/ogcapi-features-1/1.0"},
            "dcat:mediaType": "application/geo+json",
            "dct:license": license_node(license_name),
        }
    )
    return {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "dcatde": "http://dcat-ap.de/def/dcatde/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "locn": "http://www.w3.org/ns/locn#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": base + "/dataset.jsonld",
        "@type": "dcat:Dataset",
        "dct:title": "Gemeinsame Sache – Projektatlas „Niedersachsen packt an“",
        "dct:description": (
            "Projekte und Initiativen für die Integration Geflüchteter in Niedersachsen, "
            "mit Handlungsfeldern, Ort, Landkreis und Region (Amt für regionale "
            "Landesentwicklung), dazu die Abdeckung je Landkreis und Region."
        ),
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": PUBLISHER},
        "dcatde:maintainer": {"@type": "foaf:Organization", "foaf:name": PUBLISHER},
        "dct:license": license_node(license_name),
        "dcatde:licenseAttributionByText": PUBLISHER,
        "dcat:landingPage": {"@id": public_url + "/"},
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/DEU"},
        "dcat:theme": {"@id": "http://publications.europa.eu/resource/authority/data-theme/SOCI"},
        "dcat:keyword": ["Integration", "Geflüchtete", "Ehrenamt", "Niedersachsen"],
        "dct:spatial": {
            "@type": "dct:Location",
            "dcat:bbox": {"@type": "gsp:wktLiteral", "@value": polygon},
            "locn:geometry": polygon,
            "dct:title": "Niedersachsen",
        },
        "dcatde:politicalGeocodingURI": {
            "@id": "http://dcat-ap.de/def/politicalGeocoding/stateKey/03"
        },
        "dcatde:politicalGeocodingLevelURI": {
            "@id": "http://dcat-ap.de/def/politicalGeocoding/Level/state"
        },
        "dct:modified": {"@type": "xsd:date", "@value": when},
        "dct:source": regions.ATTRIBUTION,
        "dct:rights": attribution(),
        "dcat:distribution": distributions,
    }


# --- OpenAPI ------------------------------------------------------------------------------------


def _param(name: str, schema: dict, description: str, where: str = "query") -> dict:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema,
        "description": description,
        "style": "form" if where == "query" else "simple",
        "explode": False,
    }


_COMMON = {
    "f": _param("f", {"type": "string", "enum": ["json", "html"]}, "The format of the answer."),
    "limit": _param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": ogc.MAX_LIMIT, "default": ogc.DEFAULT_LIMIT},
        f"Features per page; a larger value is clamped to {ogc.MAX_LIMIT}.",
    ),
    "offset": _param(
        "offset", {"type": "integer", "minimum": 0, "default": 0}, "Features to skip (paging)."
    ),
    "bbox": _param(
        "bbox",
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        "Only features in this box: lower corner, upper corner in the axis order of bbox-crs "
        "(CRS84 by default: minlon,minlat,maxlon,maxlat).",
    ),
    "bbox-crs": _param(
        "bbox-crs",
        {"type": "string", "format": "uri", "enum": list(ogc.CRS_URIS)},
        "The CRS of bbox (default CRS84).",
    ),
    "crs": _param(
        "crs",
        {"type": "string", "format": "uri", "enum": list(ogc.CRS_URIS)},
        "The CRS of the geometries in the answer (default CRS84); EPSG:4326 is lat,lon.",
    ),
    "datetime": _param(
        "datetime",
        {"type": "string"},
        "An RFC 3339 instant or interval (a/b, '..' for an open end) of `updated`; the areas "
        "have no time and are not filtered by it.",
    ),
}


_FILTER_TEXT = {"field": "Only projects that work in this field (any of their fields)."}


def _items_params(collection: ogc.Collection) -> list[dict]:
    params = [_COMMON[name] for name in ogc.COMMON_ITEMS_PARAMS]
    for name, schema in collection.filters.items():
        text = _FILTER_TEXT.get(name, f"Only features whose {name} is this value.")
        params.append(_param(name, schema, text))
    if collection.id == "projects":
        for name, spec in ogc.PROJECT_SEARCH.items():
            params.append(_param(name, spec["schema"], spec["description"]))
    return params


def _json(ref: str) -> dict:
    return {"application/json": {"schema": {"$ref": ref}}}


_RESPONSES = {
    "400": {"description": "A bad parameter", "content": _json("#/components/schemas/exception")},
    "404": {"description": "Not found", "content": _json("#/components/schemas/exception")},
}


def openapi(base: str) -> dict:
    """The OpenAPI 3.0 document of /ogc/, with every parameter of every path."""
    ok = {"200": {"description": "OK"}, **_RESPONSES}
    html_f = [_COMMON["f"]]
    paths = {
        "/": {"get": {"summary": "Landing page", "parameters": html_f, "responses": ok}},
        "/conformance": {
            "get": {"summary": "Conformance classes", "parameters": html_f, "responses": ok}
        },
        "/api": {"get": {"summary": "This document", "parameters": html_f, "responses": ok}},
        "/collections": {"get": {"summary": "Collections", "parameters": html_f, "responses": ok}},
        "/dataset.jsonld": {"get": {"summary": "DCAT-AP.de metadata", "responses": ok}},
        "/downloads/projekte.{format}": {
            "get": {
                "summary": "All published projects as one file",
                "parameters": [
                    _param("format", {"type": "string", "enum": list(DOWNLOADS)}, "", "path")
                ],
                "responses": ok,
            }
        },
    }
    feature_id = _param("featureId", {"type": "string"}, "The feature's id.", "path")
    for c in ogc.COLLECTIONS.values():
        prefix = f"/collections/{c.id}"
        paths[prefix] = {"get": {"summary": c.title, "parameters": html_f, "responses": ok}}
        paths[prefix + "/items"] = {
            "get": {
                "summary": f"{c.title}: features",
                "operationId": f"get{c.id.title()}Features",
                "parameters": _items_params(c),
                "responses": {
                    "200": {
                        "description": "A page of features (GeoJSON FeatureCollection)",
                        "content": {"application/geo+json": {"schema": {"type": "object"}}},
                    },
                    **_RESPONSES,
                },
            }
        }
        paths[prefix + "/items/{featureId}"] = {
            "get": {
                "summary": f"{c.title}: one feature",
                "operationId": f"get{c.id.title()}Feature",
                "parameters": [feature_id, _COMMON["f"], _COMMON["crs"]],
                "responses": ok,
            }
        }
        paths[prefix + "/queryables"] = {
            "get": {"summary": f"{c.title}: queryables", "parameters": html_f, "responses": ok}
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Gemeinsame Sache – OGC API – Features",
            "version": "1.0.0",
            "description": "The project atlas of the alliance 'Niedersachsen packt an' as OGC "
            "API – Features (Part 1 Core, Part 2 CRS), with the atlas's own filters.",
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "schemas": {
                "exception": {
                    "type": "object",
                    "required": ["code"],
                    "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
                }
            }
        },
    }
