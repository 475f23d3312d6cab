"""The JSON API: projects as GeoJSON, regions, districts with counts, a region's coverage,
geocoding.

A bad parameter answers 400 with {"error": "..."} that says what is wrong.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from atlas import search
from atlas.core import coverage as figures
from atlas.core import demand
from atlas.core.fields import FIELDS
from atlas.core.projects import to_feature
from atlas.geo import regions
from atlas.store import Project, Status, VersionedCache, utcnow
from atlas.web import freshness, maps
from atlas.web.caching import data_versioned
from atlas.web.errors import error
from atlas.web.extensions import builds_clusters, get_geocode, get_store, heavy

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.errorhandler(search.BadQuery)
def bad_query(exc: search.BadQuery):
    return error(str(exc), **exc.extra)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return error(exc.description or exc.name, exc.code or 500)


def _feature(project, distance_km=None) -> dict:
    feature = to_feature(project)
    if distance_km is not None:
        feature["properties"]["distance_km"] = round(distance_km, 2)
    return feature


@bp.get("/projects")
@data_versioned
def projects():
    query = search.parse(request.args, geocode=get_geocode())
    result = search.run(get_store(), query)
    demand.record(get_store(), query, result)
    body = {
        "type": "FeatureCollection",
        "features": [_feature(p, d) for p, d in result.items],
        "total": result.total,
        "limit": query.limit,
        "offset": query.offset,
    }
    if query.near:
        body["near"] = {
            "lat": query.near.lat,
            "lon": query.near.lon,
            "label": query.near.label,
            "radius_km": query.near.radius_km,
            "source": query.near.source,
            "precision": query.near.precision,
        }
    return jsonify(body)


#: Encoded marker feeds by filters: the whole state is 100k rows, and it only changes when a
#: project does.
_MARKERS = VersionedCache(32)


def _marker_key(query: search.Query) -> tuple:
    """What the marker feed depends on, as parsed: an unknown parameter (`?_=<random>`) or
    another spelling of the same filter finds the same cache entry instead of making a new one."""
    near = query.near
    return (
        query.region,
        query.district,
        query.field,
        query.language,
        query.q,
        query.bbox,
        (near.lat, near.lon, near.radius_km) if near else None,
    )


@bp.get("/markers")
@heavy
@data_versioned
def markers():
    """Compact rows for the map's client-side clusters; popups fetch details by id."""
    query = search.parse(request.args, geocode=get_geocode())
    store = get_store()
    # Issue 21: a last column, 1 for an entry whose reminder went unanswered (drawn muted); the
    # day is in the key, since an entry turns unconfirmed by time passing alone.
    today = utcnow().date()
    body = _MARKERS.get(
        store,
        (*_marker_key(query), today),
        lambda: json.dumps(
            {
                "columns": ["id", "lat", "lon", "field", "name", "unconfirmed"],
                "rows": freshness.mark_unconfirmed(store, search.markers(store, query)),
            },
            separators=(",", ":"),
        ),
    )
    return Response(body, mimetype="application/json")


#: Parameters of /api/clusters that say what the map shows, not which projects.
_VIEW_PARAMETERS = ("bbox", "zoom")


def _cluster_filters() -> dict:
    return {k: v for k, v in request.args.items() if k not in _VIEW_PARAMETERS}


@bp.get("/clusters")
@builds_clusters(_cluster_filters)
@data_versioned
def clusters():
    """The clusters and single projects of a map view: `bbox` (minlon,minlat,maxlon,maxlat)
    and `zoom`, with the listing's filters. Clusters are [id, lat, lon, count, zoom at which
    it splits, counts per field (in the order of `fields`)], projects [id, lat, lon, first
    field, name, 1 if unconfirmed]; `total` counts every match, `in_view` those in the box."""
    filters = _cluster_filters()
    bbox = search.parse({"bbox": request.args.get("bbox") or "-180,-85,180,85"}, geocode=None)
    body = cluster_answer(filters, bbox.bbox, _zoom(request.args.get("zoom")))
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")), mimetype="application/json"
    )


def cluster_answer(filters: dict, bbox: tuple, zoom: float) -> dict:
    """The body of /api/clusters for the listing's `filters`, a box and a zoom."""
    return cluster_answers(filters, [(bbox, zoom)])[0]


def cluster_answers(filters: dict, views: list[tuple[tuple, float]]) -> list[dict]:
    """`cluster_answer` for several (box, zoom) views of one filter set: the query parsed, its
    index looked up and the unconfirmed entries asked for once."""
    query = search.parse(filters, geocode=get_geocode())
    index = search.clusters(get_store(), query)
    found = [index.view(bbox, zoom) for bbox, zoom in views]
    # Unanswered reminders (issue 21) are drawn muted: a flag that turns by time alone.
    marked = iter(freshness.mark_unconfirmed(get_store(), [p for v in found for p in v.projects]))
    return [
        {
            "zoom": view.zoom,
            "total": index.total,
            "in_view": view.in_view,
            "fields": list(FIELDS),
            "clusters": view.clusters,
            "projects": [next(marked) for _ in view.projects],
        }
        for view in found
    ]


def first_views(filters: dict, bounds: list) -> list[dict]:
    """What /api/clusters answers for a map page's first view, sent with the page so the map
    draws without waiting for a request: one answer for each zoom that Leaflet's fitBounds can
    give `bounds` ([[south, west], [north, east]]) on the atlas's map panes, for the box its
    view covers there (`maps.first_view_boxes`). Empty when the filters are unusable (the page
    says why instead)."""
    boxes = {z: tuple(round(v, 5) for v in box) for z, box in maps.first_view_boxes(bounds).items()}
    try:
        answers = cluster_answers(filters, [(box, zoom) for zoom, box in boxes.items()])
    except search.BadQuery:
        return []
    return [{"bbox": list(box), "answer": a} for box, a in zip(boxes.values(), answers)]


def _zoom(raw) -> float:
    try:
        zoom = float(raw) if raw not in (None, "") else 7.0
    except ValueError:
        zoom = float("nan")
    if not 0 <= zoom <= 30:
        raise search.BadQuery(
            f"zoom '{raw}' must be a number from 0 to 30", de=gettext("Die Zoomstufe ist ungültig.")
        )
    return zoom


@bp.get("/projects/<project_id>")
@data_versioned
def project(project_id: str):
    found = get_store().get(project_id)
    if found is not None and found.status == Status.ENDED:
        ended = found.ended_at.isoformat() if found.ended_at else None
        return error(f"project '{project_id}' has ended", 410, ended_at=ended)
    if found is None or found.status != Status.PUBLISHED:
        return error(f"no published project with id '{project_id}'", 404)
    feature = _feature(found)
    feature["properties"]["freshness"] = freshness.text(found)
    info = regions.REGIONS.get(found.region)
    feature["properties"]["office"] = info["office"] if info else None
    return jsonify(feature)


def _counts(column) -> dict[str, int]:
    with get_store().session() as s:
        rows = s.execute(
            select(column, func.count()).where(Project.status == Status.PUBLISHED).group_by(column)
        ).all()
    return dict(rows)


@bp.get("/regions")
@data_versioned
def regions_():
    counts = _counts(Project.region)
    frame = regions.regions()
    features = []
    for row in frame.to_dict("records"):
        geometry = row.pop("geometry")
        row["project_count"] = counts.get(row["region"], 0)
        features.append(
            {"type": "Feature", "geometry": geometry.__geo_interface__, "properties": row}
        )
    return jsonify(
        {"type": "FeatureCollection", "features": features, "attribution": regions.ATTRIBUTION}
    )


@bp.get("/districts")
@data_versioned
def districts():
    counts = _counts(Project.district_code)
    rows = [
        dict(regions.district(code), project_count=counts.get(code, 0))
        for code in regions.district_codes()
    ]
    return jsonify({"districts": rows, "attribution": regions.ATTRIBUTION})


@bp.get("/geocode")
def geocode():
    q = request.args.get("q", "")
    if not q.strip():
        return error("parameter q is missing: a place, postcode or address")
    return jsonify(get_geocode()(q[:200]))


#: Encoded coverage answers by parsed parameters (region, field, distance): a junk parameter
#: finds the same entry.
_COVERAGE = VersionedCache(16)


@bp.get("/coverage")
@heavy
@data_versioned
def coverage():
    """A region's districts with counts per field and per 100,000 inhabitants, its gaps and
    white spots (atlas.core.coverage)."""
    try:
        params = figures.parse(request.args)
    except search.BadQuery as exc:
        # The message alone: the German wording in exc.extra is for the coverage pages.
        return error(str(exc))
    store = get_store()
    body = _COVERAGE.get(
        store,
        ("coverage", params.region, params.field, params.distance_km, figures.counting()),
        lambda: json.dumps(figures.coverage(store, params), ensure_ascii=False),
    )
    return Response(body, mimetype="application/json")
