"""The public pages: the map, the listing and the page of one project (German interface)."""

from __future__ import annotations

import math
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, current_app, g, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup

from atlas import search
from atlas.core import demand
from atlas.core.fields import FIELD_COLOURS, FIELDS
from atlas.geo import geocoding, regions
from atlas.geo.geocoding import PRECISION_LABELS
from atlas.store import Status
from atlas.web import maps
from atlas.web.api import first_views
from atlas.web.extensions import builds_clusters, get_geocode, get_store, get_tiles
from atlas.web.terms import office_name, translated

bp = Blueprint("pages", __name__)

PER_PAGE = 20
MAP_LIST_LENGTH = 20
FILTER_KEYS = (
    "field",
    "language",
    "region",
    "district",
    "q",
    "near",
    "near_source",
    "radius_km",
    "sort",
)
SORT_LABELS = {"name": "Name", "distance": "Entfernung", "newest": "Neueste zuerst"}


def _filters() -> dict:
    """The filter state from the URL, so a filtered view can be shared as a link."""
    return {k: request.args.get(k, "").strip() for k in FILTER_KEYS}


def _query(limit: int, offset: int = 0, sort: str | None = None, count_unmet: bool = True):
    """Run the visitor's filters; a bad or unclear one becomes a message, never an error page.
    `sort` overrides the visitor's order (the feed: newest); a nearby search that finds
    nothing is counted for the offices (atlas.core.demand) unless `count_unmet` is false."""
    args = {k: v for k, v in _filters().items() if v}
    if sort:
        args["sort"] = sort
    args.update(limit=limit, offset=offset)
    try:
        query = search.parse(args, geocode=get_geocode(), max_limit=limit)
    except search.BadQuery as exc:
        return None, None, exc
    result = search.run(get_store(), query)
    if count_unmet:
        demand.record(get_store(), query, result)
    return query, result, None


def _link(endpoint_args: dict) -> str:
    query = urlencode({k: v for k, v in endpoint_args.items() if v})
    return "?" + query if query else ""


def district_phrase(d: dict) -> Markup:
    """ "im Landkreis Harburg", "in der Region Hannover", "in der kreisfreien Stadt Emden"."""
    name = Markup("<strong>%s</strong>") % d["name"]
    if d["kind"] == "Region":
        return Markup(_("in der %(name)s", name=name))
    if d["kind"] == "Kreisfreie Stadt":
        return Markup(_("in der kreisfreien Stadt %(name)s", name=name))
    if d["name"].startswith("Landkreis"):
        return Markup(_("im %(name)s", name=name))
    return Markup(_("im Landkreis %(name)s", name=name))


#: What a point stands for, said after the place in a heading ("um 30175 Hannover (Ortsmitte)").
def _centre(precision) -> str:
    if precision in ("municipality", "place"):
        return " " + _("(Ortsmitte)")
    return " " + _("(Kreismitte)") if precision == "district" else ""


def near_phrase(near: search.Near) -> str:
    """What the distances are measured from, after "im Umkreis von 25 km": "um 30451 Hannover",
    "um Winsen (Luhe) (Ortsmitte)", "um Ihren Standort"; never coordinates."""
    if near.source == "device":
        return _("um Ihren Standort")
    if near.source == "point":
        if near.label:
            return _("um einen Punkt bei %(place)s", place=near.label)
        return _("um den gewählten Punkt")
    return _("um %(place)s", place=f"{near.label}{_centre(near.precision)}")


def near_note(near: search.Near) -> str:
    """One sentence on the point the distances are measured from, as exact as it really is."""
    street = " " + _("Straßen kennt die Ortssuche nicht.") if near.street_ignored else ""
    if near.source == "device":
        return _("Gemessen ab dem Standort, den Ihr Browser ermittelt hat.")
    if near.source == "point":
        return _("Gemessen ab dem Punkt mit den angegebenen Koordinaten.")
    if near.precision == geocoding.Precision.ADDRESS:
        return _("Gemessen ab der gefundenen Adresse.")
    if near.precision == geocoding.Precision.POSTCODE:
        return (
            _(
                "Gemessen ab der ungefähren Mitte des Postleitzahlgebiets %(code)s.",
                code=near.postcode,
            )
            + street
        )
    if near.precision == geocoding.Precision.DISTRICT:
        return _(
            "Gemessen ab der Mitte des Landkreises. Für genauere Entfernungen geben Sie einen "
            "Ort oder eine Postleitzahl ein."
        )
    if near.postcode:
        return (
            _(
                "Für die Postleitzahl %(code)s kennt der Atlas nur den Ort: gemessen wird "
                "ab der Ortsmitte.",
                code=near.postcode,
            )
            + street
        )
    return _("Gemessen ab der Ortsmitte.") + street


def area_phrase(query: search.Query) -> Markup:
    """The district or region a search keeps to, for a heading: "in der Region Hannover",
    "in der Region Weser-Ems"; empty for all of Lower Saxony."""
    if query.district:
        return Markup(" ") + district_phrase(regions.district(query.district))
    if query.region:
        name = Markup("<strong>%s</strong>") % regions.REGIONS[query.region]["name"]
        return Markup(" ") + Markup(_("in der Region %(name)s", name=name))
    return Markup("")


def _districts_of(region: str) -> list[dict]:
    found = [regions.district(c) for c in regions.district_codes()]
    return sorted((d for d in found if d["region"] == region), key=lambda d: d["name"])


@bp.app_context_processor
def _common():
    return {
        "FIELDS": translated(FIELDS),
        "FIELD_COLOURS": FIELD_COLOURS,
        "REGIONS": regions.REGIONS,
        "RADII": search.RADII_KM,
        "SORT_LABELS": translated(SORT_LABELS),
        "PRECISION_LABELS": translated(PRECISION_LABELS),
        "office_name": office_name,
        "district": regions.district,
        "boundary_attribution": regions.ATTRIBUTION,
        "geocoder_attribution": geocoding.ATTRIBUTION,
        "map_attribution": regions.MAP_ATTRIBUTION,
        "districts_of": _districts_of,
        "district_phrase": district_phrase,
        "district_label": regions.district_label,
        "area_phrase": area_phrase,
        "near_phrase": near_phrase,
        "near_note": near_note,
        "tiles_attribution": get_tiles().attribution,
        "csp_nonce": g.get("csp_nonce", ""),
    }


def _map_filters() -> dict:
    """The map's filters as /api/clusters takes them (the list's order is not one)."""
    return {k: v for k, v in _filters().items() if v and k != "sort"}


@bp.get("/")
@builds_clusters(_map_filters)
def index():
    filters = _filters()
    query, result, problem = _query(MAP_LIST_LENGTH)
    near, bounds = _view_of(query)
    view = maps.overview(get_tiles(), near=near, bounds=bounds)
    api_args = _map_filters()
    return render_template(
        "map.html",
        filters=filters,
        query=query,
        result=result,
        problem=problem,
        map=maps.render(view, g.csp_nonce),
        # With a filter that cannot be used, the status line says why instead of loading markers.
        clusters_url="" if problem else "/api/clusters" + _link(api_args),
        first_views=[] if problem else first_views(api_args, maps.first_bounds(near, bounds)),
        list_url="/projekte" + _link(filters),
    )


def _view_of(query) -> tuple:
    """The overview's radius (`near`) and area bounds for a search (None, None: the state)."""
    if not query:
        return None, None
    return query.near, maps.area_bounds(query.region, query.district)


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
    if project is not None and project.status == Status.ENDED:
        abort(410, _("Dieses Projekt gibt es nicht mehr; es ist nicht mehr im Atlas."))
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


@bp.get("/leichte-sprache")
def easy_language():
    """What the atlas is, how to find an initiative and how to submit one, in Leichte Sprache."""
    return render_template("easy_language.html")
