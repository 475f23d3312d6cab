"""The public pages: the map, the listing and the page of one project (German interface)."""

from __future__ import annotations

import math
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, current_app, g, render_template, request
from markupsafe import Markup

from atlas import search
from atlas.core.fields import FIELD_COLOURS, FIELDS
from atlas.geo import geocoding, regions
from atlas.store import Status
from atlas.web import maps
from atlas.web.extensions import get_geocode, get_store, get_tiles

bp = Blueprint("pages", __name__)

PER_PAGE = 20
MAP_LIST_LENGTH = 20
FILTER_KEYS = ("field", "region", "district", "q", "near", "radius_km", "sort")
SORT_LABELS = {"name": "Name", "distance": "Entfernung", "newest": "Neueste zuerst"}


def _filters() -> dict:
    """The filter state from the URL, so a filtered view can be shared as a link."""
    return {k: request.args.get(k, "").strip() for k in FILTER_KEYS}


def _query(limit: int, offset: int = 0):
    """Run the visitor's filters; a bad or unclear one becomes a message, never an error page."""
    args = {k: v for k, v in _filters().items() if v}
    args.update(limit=limit, offset=offset)
    try:
        query = search.parse(args, geocode=get_geocode(), max_limit=limit)
    except search.BadQuery as exc:
        return None, None, exc
    return query, search.run(get_store(), query), None


def _link(endpoint_args: dict) -> str:
    query = urlencode({k: v for k, v in endpoint_args.items() if v})
    return "?" + query if query else ""


def district_phrase(d: dict) -> Markup:
    """ "im Landkreis Harburg", "in der Region Hannover", "in der kreisfreien Stadt Emden"."""
    name = Markup("<strong>%s</strong>") % d["name"]
    if d["kind"] == "Region":
        return Markup("in der ") + name
    if d["kind"] == "Kreisfreie Stadt":
        return Markup("in der kreisfreien Stadt ") + name
    return (
        Markup("im ") + name
        if d["name"].startswith("Landkreis")
        else Markup("im Landkreis ") + name
    )


def _districts_of(region: str) -> list[dict]:
    found = [regions.district(c) for c in regions.district_codes()]
    return sorted((d for d in found if d["region"] == region), key=lambda d: d["name"])


@bp.app_context_processor
def _common():
    return {
        "FIELDS": FIELDS,
        "FIELD_COLOURS": FIELD_COLOURS,
        "REGIONS": regions.REGIONS,
        "RADII": search.RADII_KM,
        "SORT_LABELS": SORT_LABELS,
        "district": regions.district,
        "boundary_attribution": regions.ATTRIBUTION,
        "geocoder_attribution": geocoding.ATTRIBUTION,
        "map_attribution": regions.MAP_ATTRIBUTION,
        "districts_of": _districts_of,
        "district_phrase": district_phrase,
        "tiles_attribution": get_tiles().attribution,
        "csp_nonce": g.get("csp_nonce", ""),
    }


@bp.get("/")
def index():
    filters = _filters()
    query, result, problem = _query(MAP_LIST_LENGTH)
    near = query.near if query else None
    rendered = maps.render(maps.overview(get_tiles(), near=near), g.csp_nonce)
    api_args = {k: v for k, v in filters.items() if v and k != "sort"}
    return render_template(
        "map.html",
        filters=filters,
        query=query,
        result=result,
        problem=problem,
        map=rendered,
        markers_url="/api/markers" + _link(api_args),
        list_url="/projekte" + _link(filters),
    )


@bp.get("/projekte")
def listing():
    filters = _filters()
    try:
        page = max(1, int(request.args.get("seite", "1")))
    except ValueError:
        page = 1
    query, result, problem = _query(PER_PAGE, (page - 1) * PER_PAGE)
    pages = max(1, math.ceil(result.total / PER_PAGE)) if result else 1
    if result and page > pages:
        page = pages
        query, result, problem = _query(PER_PAGE, (page - 1) * PER_PAGE)

    def page_url(number: int) -> str:
        return "/projekte" + _link({**filters, "seite": number if number > 1 else ""})

    return render_template(
        "list.html",
        filters=filters,
        query=query,
        result=result,
        problem=problem,
        page=page,
        pages=pages,
        page_url=page_url,
        map_url="/" + _link(filters),
    )


@bp.get("/projekte/<project_id>")
def detail(project_id: str):
    project = get_store().get(project_id)
    if project is None or project.status != Status.PUBLISHED:
        abort(404)
    rendered = maps.render(maps.project_map(get_tiles(), project), g.csp_nonce)
    return render_template(
        "detail.html",
        project=project,
        map=rendered,
        district_info=regions.district(project.district_code),
        office=regions.REGIONS.get(project.region),
    )


@bp.get("/datenschutz")
def privacy():
    """What the atlas stores, why, how long, and how to have it deleted (German)."""
    config = current_app.config
    nominatim = config["NOMINATIM_URL"] if config["GEOCODER"] == "nominatim" else None
    return render_template(
        "privacy.html",
        retention_days=config["RETENTION_DAYS"],
        tiles_origin=get_tiles().origin,
        nominatim=urlsplit(nominatim).netloc if nominatim else None,
    )
