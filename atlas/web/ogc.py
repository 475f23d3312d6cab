"""OGC API – Features under /ogc/: the atlas as a standard geodata service for QGIS, ArcGIS,
GDAL and the offices' GIS (collections, features and queryables in atlas.core.ogc; the OpenAPI
document, DCAT-AP.de metadata and downloads in atlas.core.ogc_docs).

JSON by default (also for `Accept: */*`), HTML for browsers and `f=html`. Links are absolute,
built on ATLAS_PUBLIC_URL. Every GET answer carries `Access-Control-Allow-Origin: *` and an
ETag from the store's data version (a matching If-None-Match answers 304). Errors answer
{"code", "description"}.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from atlas.core import ogc, ogc_docs
from atlas.core.fields import FIELDS
from atlas.store import VersionedCache
from atlas.web import caching
from atlas.web.errors import ERROR_TEXTS
from atlas.web.extensions import get_geocode, get_store, heavy

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
FORMATS = {"json": JSON, "html": HTML}


def base_url() -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + "/ogc"


def _format() -> str:
    """ "json" or "html": `f` if given, else what the Accept header prefers (JSON for */*)."""
    f = request.args.get("f")
    if f is not None:
        if f not in FORMATS:
            raise ogc.OgcError(f"unknown f '{f}'; valid: {', '.join(FORMATS)}")
        return f
    best = request.accept_mimetypes.best_match([JSON, GEOJSON, HTML], default=JSON)
    return "html" if best == HTML else "json"


def _link(href: str, rel: str, type_: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def _self_links(path: str, json_type: str = JSON, args: dict | None = None) -> list[dict]:
    """self and alternate: the same resource as JSON and as HTML."""
    rest = {k: v for k, v in (args or {}).items() if k != "f"}
    url = base_url() + path
    here = _format()
    links = []
    for f, type_, title in (("json", json_type, _("als JSON")), ("html", HTML, _("als HTML"))):
        href = f"{url}?{urlencode({**rest, 'f': f})}"
        links.append(_link(href, "self" if f == here else "alternate", type_, title))
    return links


def _answer(body: dict, template: str, mimetype: str = JSON, status: int = 200, **context):
    if _format() == "html":
        return render_template(template, body=body, FIELDS=FIELDS, **context), status
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype=mimetype)
    return response


# --- HTTP: CORS, ETag, errors --------------------------------------------------------------------


@bp.before_request
def _conditional():
    """304 before any work when the client holds the answer of this data version."""
    if request.method not in ("GET", "HEAD"):
        return None
    try:
        fmt = _format()
    except ogc.OgcError:
        return None
    g.ogc_etag = caching.data_etag(
        fmt, current_app.config["PUBLIC_URL"], current_app.config["DATA_LICENSE"]
    )
    if caching.client_holds(g.ogc_etag):
        response = Response(status=304)
        response.set_etag(g.ogc_etag)
        return response
    return None


@bp.after_request
def _headers(response: Response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag, Content-Crs, Link"
    response.vary.add("Accept")
    etag = g.get("ogc_etag")
    if etag and response.status_code == 200 and not response.get_etag()[0]:
        response.set_etag(etag)
    return response


def _error(status: int, code: str, description: str):
    if request.args.get("f") == "html" or (
        "f" not in request.args
        and request.accept_mimetypes.best_match([JSON, HTML], default=JSON) == HTML
    ):
        title = ERROR_TEXTS.get(status, (code,))[0]
        return render_template("error.html", title=title, message=description), status
    body = json.dumps({"code": code, "description": description}, ensure_ascii=False)
    return Response(body, status, mimetype=JSON)


@bp.errorhandler(ogc.OgcError)
def _ogc_error(exc: ogc.OgcError):
    return _error(exc.status, exc.code, exc.description)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _error(exc.code or 500, exc.name.replace(" ", ""), exc.description or exc.name)


# --- resources ------------------------------------------------------------------------------------


@bp.get("/")
def landing():
    base = base_url()
    body = {
        "title": _("Gemeinsame Sache – Projektatlas „Niedersachsen packt an“"),
        "description": _(
            "Projekte und Initiativen für die Integration Geflüchteter in Niedersachsen, "
            "Abdeckung je Landkreis und Region, als OGC API – Features."
        ),
        "attribution": ogc_docs.attribution(),
        "links": [
            *_self_links("/"),
            _link(base + "/api", "service-desc", OPENAPI, "OpenAPI 3.0"),
            _link(base + "/api?f=html", "service-doc", HTML, "Dokumentation der Schnittstelle"),
            _link(base + "/conformance", "conformance", JSON, "Konformitätsklassen"),
            _link(base + "/collections", "data", JSON, "Sammlungen"),
            _link(base + "/dataset.jsonld", "describedby", "application/ld+json", "DCAT-AP.de"),
            *_enclosures(),
        ],
    }
    return _answer(body, "ogc_landing.html")


def _enclosures() -> list[dict]:
    return [
        _link(ogc_docs.download_url(base_url(), fmt), "enclosure", mimetype, _(title))
        for fmt, (mimetype, title) in ogc_docs.DOWNLOADS.items()
    ]


@bp.get("/conformance")
def conformance():
    body = {"conformsTo": ogc.CONFORMANCE, "links": _self_links("/conformance")}
    return _answer(body, "ogc_conformance.html")


@bp.get("/api")
def api():
    doc = ogc_docs.openapi(base_url())
    if _format() == "html":
        return render_template("ogc_api.html", body=doc)
    return Response(json.dumps(doc, ensure_ascii=False), mimetype=OPENAPI)


def _collection(collection: ogc.Collection) -> dict:
    base = base_url()
    url = f"{base}/collections/{collection.id}"
    west, south, east, north = ogc.state_bounds()
    title = _(collection.title)
    body = {
        "id": collection.id,
        "title": title,
        "description": _(collection.description),
        "itemType": "feature",
        "extent": {"spatial": {"bbox": [[west, south, east, north]], "crs": ogc.CRS84}},
        "crs": list(ogc.CRS_URIS),
        "storageCrs": ogc.CRS84,
        "links": [
            _link(url, "self", JSON, title),
            _link(url + "?f=html", "alternate", HTML, title),
            _link(url + "/items", "items", GEOJSON, _("Objekte als GeoJSON")),
            _link(url + "/items?f=html", "items", HTML, _("Objekte als HTML")),
            _link(
                url + "/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                _("Abfragbare Eigenschaften"),
            ),
        ],
    }
    if collection.id == "projects":
        body["links"] += _enclosures()
    return body


@bp.get("/collections")
def collections():
    body = {
        "links": _self_links("/collections"),
        "collections": [_collection(c) for c in ogc.COLLECTIONS.values()],
        "crs": list(ogc.CRS_URIS),
    }
    return _answer(body, "ogc_collections.html")


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    body = _collection(ogc.collection_or_404(collection_id))
    body["links"][:2] = _self_links(f"/collections/{collection_id}")
    return _answer(body, "ogc_collection.html")


def _target_crs() -> str:
    return ogc.crs_uri(request.args.get("crs"))


def _with_crs(response, target: str):
    if isinstance(response, tuple):
        response = current_app.make_response(response)
    response.headers["Content-Crs"] = f"<{target}>"
    return response


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    found = ogc.collection_or_404(collection_id)
    args = request.args.to_dict()
    target = _target_crs()
    page = ogc.items(get_store(), found, args, get_geocode(), target)
    path = f"/collections/{collection_id}/items"
    links = _self_links(path, GEOJSON, args)
    rest = {k: v for k, v in args.items() if k not in ("offset", "limit")}
    url = base_url() + path
    if page.offset + len(page.features) < page.matched:
        nxt = {**rest, "limit": page.limit, "offset": page.offset + page.limit}
        links.append(_link(f"{url}?{urlencode(nxt)}", "next", _json_or_html(), _("Weiter")))
    if page.offset > 0:
        prev = {**rest, "limit": page.limit, "offset": max(0, page.offset - page.limit)}
        links.append(_link(f"{url}?{urlencode(prev)}", "prev", _json_or_html(), _("Zurück")))
    links.append(
        _link(f"{base_url()}/collections/{collection_id}", "collection", JSON, _(found.title))
    )
    body = {
        "type": "FeatureCollection",
        "features": page.features,
        "numberMatched": page.matched,
        "numberReturned": len(page.features),
        "timeStamp": ogc.now_stamp(),
        "links": links,
    }
    rendered = _answer(body, "ogc_items.html", GEOJSON, collection=found, page=page)
    return _with_crs(rendered, target)


def _json_or_html() -> str:
    return HTML if _format() == "html" else GEOJSON


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    found = ogc.collection_or_404(collection_id)
    unknown = sorted(set(request.args) - {"f", "crs"})
    if unknown:
        raise ogc.OgcError(f"unknown parameter(s) {', '.join(unknown)}; an item takes f and crs")
    target = _target_crs()
    body = ogc.item(get_store(), found, feature_id, target)
    path = f"/collections/{collection_id}/items/{feature_id}"
    body["links"] = [
        *_self_links(path, GEOJSON, request.args.to_dict()),
        _link(f"{base_url()}/collections/{collection_id}", "collection", JSON, _(found.title)),
    ]
    return _with_crs(_answer(body, "ogc_item.html", GEOJSON, collection=found), target)


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    found = ogc.collection_or_404(collection_id)
    url = f"{base_url()}/collections/{collection_id}/queryables"
    body = ogc.queryables(found, url)
    body["title"] = _(found.title)
    body["links"] = _self_links(f"/collections/{collection_id}/queryables")
    return _answer(body, "ogc_queryables.html", "application/schema+json", collection=found)


# --- metadata and downloads -----------------------------------------------------------------------


@bp.get("/dataset.jsonld")
def dataset():
    """The DCAT-AP.de description of the dataset (JSON-LD)."""
    doc = ogc_docs.dcat(
        base_url(),
        current_app.config["PUBLIC_URL"].rstrip("/"),
        current_app.config["DATA_LICENSE"],
        ogc_docs.last_change(get_store()),
    )
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/ld+json")


#: The statewide downloads per data version: the three formats, built together.
_DOWNLOADS = VersionedCache(1)


@bp.get("/downloads/projekte.<any(geojson, gpkg, csv):fmt>")
@heavy
def download(fmt: str):
    store = get_store()
    body = _DOWNLOADS.get(store, ("projects",), lambda: ogc_docs.downloads(store))[fmt]
    mimetype, _title = ogc_docs.DOWNLOADS[fmt]
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="projekte-niedersachsen.{fmt}"'},
    )


@bp.route("/<path:rest>")
def not_found(rest: str):
    """Anything else under /ogc/ answers the standard's 404, not the German page."""
    raise ogc.OgcError(f"nothing at /ogc/{rest}", 404, "NotFound")
