"""The coverage pages for the regional offices (ArL): /regionen and /regionen/<slug>, and the
region's tables as CSV and GeoJSON downloads.

The figures come from atlas.core.coverage, the maps from coverage_maps, the bar chart and the
German numbers from charts; GET /api/coverage is in api.
"""

from __future__ import annotations

import io
from functools import partial

from flask import Blueprint, Response, abort, g, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wsgi import wrap_file

from atlas.core import coverage as figures
from atlas.core.fields import FIELDS
from atlas.core.projects import write_csv, write_geojson
from atlas.core.tables import FLAVOURS
from atlas.geo import regions
from atlas.search import BadQuery
from atlas.store import Project, VersionedCache
from atlas.web import maps
from atlas.web.api import first_views
from atlas.web.charts import chart, de_number, de_percent, de_rate
from atlas.web.coverage_maps import MAP_ATTRIBUTION, Classes, region_map, state_map
from atlas.web.extensions import get_store, get_tiles, heavy
from atlas.web.problems import problem_text

bp = Blueprint("coverage", __name__)

DISTANCE_CHOICES_KM = (5, 10, 15, 20, 25, 30)
#: Where a sorted table is shown: its heading.
TABLE_ANCHOR = "#table-heading"


@bp.errorhandler(BadQuery)
def _bad_query(exc: BadQuery):
    title = _("Ungültige Angabe")
    return render_template("error.html", title=title, message=problem_text(exc)), 400


def _distance_text(distance_km: float) -> str:
    """12.5 → "12,5", 15.0 → "15": as typed, in German."""
    return f"{distance_km:g}".replace(".", ",")


def _link(endpoint: str, region: str | None = None, **params) -> str:
    """A URL with only the parameters that differ from the defaults, so links stay short; it
    counts what this page counts (issue 21: confirmed projects, or all with the switch)."""
    clean = {**_counting_args(), **{k: v for k, v in params.items() if v not in (None, "")}}
    if "distance_km" in clean:
        if float(clean["distance_km"]) == figures.DEFAULT_DISTANCE_KM:
            clean.pop("distance_km")
        else:
            clean["distance_km"] = f"{float(clean['distance_km']):g}"
    if clean.get("sort") == "code" and clean.get("order", "asc") == "asc":
        clean.pop("sort"), clean.pop("order", None)
    if region:
        clean["slug"] = region
    return url_for(endpoint, **clean)


def _region_or_404(slug: str) -> str:
    if slug not in regions.REGIONS:
        abort(404)
    return slug


def _field_args(field: str | None) -> dict:
    return {"field": field} if field else {}


def _counting_args() -> dict:
    return {"include_unconfirmed": "1"} if figures.counting().include_unconfirmed else {}


@bp.get("/regionen")
@heavy
def overview():
    field = figures.parse_field(request.args)
    rows = figures.region_rows(get_store())
    classes = Classes.for_rows(rows, field)
    links = {r["region"]: _link("coverage.region_page", r["region"], field=field) for r in rows}
    rendered = maps.render(state_map(get_tiles(), rows, field, classes, links), g.csp_nonce)
    total = figures.total_row(rows)
    return render_template(
        "coverage_overview.html",
        rows=rows,
        total=total,
        field=field,
        map=rendered,
        legend=classes.legend(),
        region_links=links,
        chart=chart(rows, "region_name"),
        field_links={slug: _link("coverage.overview", field=slug) for slug in [None, *FIELDS]},
        de_number=de_number,
        de_rate=de_rate,
        attribution=figures.ATTRIBUTION,
        map_attribution=MAP_ATTRIBUTION,
    )


@bp.get("/regionen/<slug>")
@heavy
def region_page(slug: str):
    params = figures.parse(request.args, region=_region_or_404(slug))
    sort, order = figures.parse_sort(request.args)
    store = get_store()
    rows = figures.district_rows(store, slug)
    total = figures.total_row(rows)
    spots = figures.white_spots(store, slug, params.field, params.distance_km)
    classes = Classes.for_rows(rows, params.field)
    rendered = maps.render(
        region_map(get_tiles(), slug, rows, params.field, spots, classes), g.csp_nonce
    )
    state = {"field": params.field, "distance_km": params.distance_km, "sort": sort, "order": order}

    def link(**change) -> str:
        return _link("coverage.region_page", slug, **{**state, **change})

    def sort_link(key: str) -> str:
        """Sorting reloads the page at the table (its anchor), not at the top."""
        if key == sort:
            return link(sort=key, order="desc" if order == "asc" else "asc") + TABLE_ANCHOR
        return link(sort=key, order="asc" if key in ("code", "name") else "desc") + TABLE_ANCHOR

    cluster_filters = {"region": slug, **_field_args(params.field)}
    clusters = url_for("api.clusters", **cluster_filters)
    downloads_args = {"field": params.field, "distance_km": params.distance_km}
    return render_template(
        "coverage_region.html",
        region=slug,
        info=regions.REGIONS[slug],
        params=params,
        rows=figures.sort_rows(rows, sort, order == "desc"),
        total=total,
        gaps=figures.gaps(rows),
        spots=spots,
        map=rendered,
        legend=classes.legend(),
        chart=chart(rows),
        sort=sort,
        order=order,
        sort_link=sort_link,
        field_links={s: link(field=s) for s in [None, *FIELDS]},
        distance_choices=DISTANCE_CHOICES_KM,
        clusters_url=clusters,
        first_views=first_views(cluster_filters, maps.area_bounds(slug)),
        distance_text=_distance_text(params.distance_km),
        de_number=de_number,
        de_rate=de_rate,
        de_percent=de_percent,
        attribution=figures.ATTRIBUTION,
        map_attribution=MAP_ATTRIBUTION,
        municipality_source=figures.MUNICIPALITY_SOURCE,
        downloads={
            "districts": _link("coverage.download_districts", slug),
            "gaps": _link("coverage.download_gaps", slug),
            "white_spots": _link("coverage.download_white_spots", slug, **downloads_args),
            "geojson": url_for("coverage.download_projects", slug=slug, fmt="geojson"),
            "csv": url_for("coverage.download_projects", slug=slug, fmt="csv"),
            "excel": {
                "districts": _link("coverage.download_districts", slug, flavour="excel"),
                "gaps": _link("coverage.download_gaps", slug, flavour="excel"),
                "white_spots": _link(
                    "coverage.download_white_spots", slug, flavour="excel", **downloads_args
                ),
                "projects": url_for("coverage.download_projects", slug=slug, fmt="excel"),
            },
            "api": url_for(
                "api.coverage",
                region=slug,
                distance_km=f"{params.distance_km:g}",
                **_field_args(params.field),
                **_counting_args(),
            ),
        },
        listing_link=lambda code: url_for(
            "pages.listing", district=code, **_field_args(params.field)
        ),
    )


# --- downloads ----------------------------------------------------------------------------------


#: Size of the pieces a download is sent in.
CHUNK = 256 * 1024


def _download(body: str | bytes, filename: str, mimetype: str) -> Response:
    """A download streamed from the (often cached) bytes without a copy per request: through the
    server's `wsgi.file_wrapper` (waitress then sends it from its I/O loop and the request's
    thread is free at once for the next request), else in CHUNK pieces."""
    if isinstance(body, str):
        body = body.encode()
    return Response(
        wrap_file(request.environ, io.BytesIO(body), CHUNK),
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Length": str(len(body)),
        },
        direct_passthrough=True,
    )


def _csv_routes(rule: str):
    """A CSV download at `rule` (".csv") and its Excel flavour at "-excel.csv" (`;`, German
    column names and decimal commas; see atlas.core.tables)."""

    def register(view):
        view = heavy(view)
        bp.get(rule, defaults={"flavour": "csv"})(view)
        return bp.get(rule.replace(".csv", "-excel.csv"), defaults={"flavour": "excel"})(view)

    return register


def _filename(stem: str, flavour: str) -> str:
    return f"{stem}{'-excel' if flavour == 'excel' else ''}.csv"


@_csv_routes("/regionen/<slug>/kreise.csv")
def download_districts(slug: str, flavour: str):
    rows = figures.district_rows(get_store(), _region_or_404(slug))
    text = figures.district_csv(rows, FLAVOURS[flavour])
    return _download(text, _filename(f"abdeckung-{slug}-kreise", flavour), "text/csv")


@_csv_routes("/regionen/<slug>/luecken.csv")
def download_gaps(slug: str, flavour: str):
    rows = figures.district_rows(get_store(), _region_or_404(slug))
    text = figures.gaps_csv(rows, FLAVOURS[flavour])
    return _download(text, _filename(f"abdeckung-{slug}-luecken", flavour), "text/csv")


@_csv_routes("/regionen/<slug>/weisse-flecken.csv")
def download_white_spots(slug: str, flavour: str):
    params = figures.parse(request.args, region=_region_or_404(slug))
    distance = _distance_text(params.distance_km).replace(",", "_")
    stem = f"abdeckung-{slug}-weisse-flecken-{params.field or 'alle'}-{distance}km"
    text = figures.white_spots_csv(
        get_store(), slug, params.field, params.distance_km, FLAVOURS[flavour]
    )
    return _download(text, _filename(stem, flavour), "text/csv")


@bp.get("/regionen/<slug>/projekte.<any(geojson, csv):fmt>")
@bp.get("/regionen/<slug>/projekte-excel.csv", defaults={"fmt": "excel"})
@heavy
def download_projects(slug: str, fmt: str):
    _region_or_404(slug)
    kinds = {
        "geojson": (write_geojson, "application/geo+json", "projekte-{}.geojson"),
        "csv": (write_csv, "text/csv", "projekte-{}.csv"),
        "excel": (
            partial(write_csv, flavour=FLAVOURS["excel"]),
            "text/csv",
            "projekte-{}-excel.csv",
        ),
    }
    write, mimetype, filename = kinds[fmt]
    store = get_store()

    def build() -> bytes:
        with store.session() as s:
            projects = list(
                s.scalars(
                    select(Project)
                    .where(Project.status == "published", Project.region == slug)
                    .order_by(Project.id)
                )
            )
        out = io.StringIO()
        write(projects, out)
        return out.getvalue().encode()

    # Built once per data version (concurrent requests wait for the one build) and sent as
    # bytes: parallel downloads share one copy instead of each building its own.
    body = _DOWNLOADS.get(store, ("projects", slug, fmt), build)
    return _download(body, filename.format(slug), mimetype)


#: The region's project downloads per data version: 4 regions × 3 formats at most.
_DOWNLOADS = VersionedCache(12)
