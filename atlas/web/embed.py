"""Embeds for municipal websites: /einbetten builds an <iframe> snippet with a preview;
/embed/karte and /embed/liste are the framed pages.

The framed pages take the listing's filters (atlas.web.pages), set no cookie, load nothing from
another server but the configured tiles, open every project on the atlas in a new tab, and may
be framed by any site (`frame-ancestors *`) or only by ATLAS_EMBED_ORIGINS
(atlas.web.security); every other page refuses to be framed. They tell the framing page their
height by postMessage (static/embed.js), which the snippet's few lines of script apply.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template, request, url_for

from atlas.web import maps, pages
from atlas.web.api import first_views
from atlas.web.extensions import babel, builds_clusters, get_tiles
from atlas.web.feeds import public

bp = Blueprint("embed", __name__)

#: Projects an embedded list shows; the rest are a link away.
LIST_LENGTH = 100
#: What /einbetten lets a municipality choose.
CHOICES = ("region", "district", "field", "lang")
KINDS = {"karte": "embed.embed_map", "liste": "embed.embed_list"}


def _args() -> dict:
    """The filters of an embed (and the interface language), as URL parameters."""
    found = {k: v for k, v in pages._filters().items() if v and k != "sort"}
    if lang := request.args.get("lang", "").strip():
        found["lang"] = lang
    return found


@bp.get("/embed/karte")
@builds_clusters(pages._map_filters)
def embed_map():
    query, _result, problem = pages._query(1, count_unmet=False)
    near, bounds = pages._view_of(query)
    view = maps.overview(get_tiles(), near=near, bounds=bounds)
    filters = {k: v for k, v in _args().items() if k != "lang"}
    return render_template(
        "embed_map.html",
        query=query,
        problem=problem,
        map=maps.render(view, g.csp_nonce),
        clusters_url="" if problem else url_for("api.clusters", **filters),
        first_views=[] if problem else first_views(filters, maps.first_bounds(near, bounds)),
        atlas_url=public(url_for("pages.index", **_args())),
    )


@bp.get("/embed/liste")
def embed_list():
    query, result, problem = pages._query(LIST_LENGTH, count_unmet=False)
    return render_template(
        "embed_list.html",
        query=query,
        result=result,
        problem=problem,
        atlas_url=public(url_for("pages.listing", **_args())),
    )


def snippet(kind: str, args: dict) -> str:
    """The HTML a municipality copies: the iframe and a few lines that take its height from
    the embedded page's postMessage (only from the atlas's own origin)."""
    src = public(url_for(KINDS[kind], **args))
    origin = public("")
    height = 600 if kind == "karte" else 500
    return (
        f'<iframe src="{src}" title="Projekte aus dem Projektatlas Gemeinsame Sache" '
        f'style="width:100%;height:{height}px;border:0" loading="lazy" '
        f"data-atlas-embed></iframe>\n"
        '<script>window.addEventListener("message",function(e){'
        f'if(e.origin!=="{origin}"||!e.data||!e.data.atlasEmbedHeight)return;'
        'document.querySelectorAll("iframe[data-atlas-embed]").forEach(function(f){'
        'if(f.contentWindow===e.source)f.style.height=e.data.atlasEmbedHeight+"px"})});'
        "</script>"
    )


@bp.get("/einbetten")
def builder():
    kind = request.args.get("art", "karte")
    if kind not in KINDS:
        kind = "karte"
    args = {k: request.args.get(k, "").strip() for k in CHOICES}
    args = {k: v for k, v in args.items() if v}
    query, _result, problem = pages._query(1, count_unmet=False)
    languages = babel.list_translations()
    return render_template(
        "embed_builder.html",
        kind=kind,
        filters={**{k: "" for k in pages.FILTER_KEYS}, **args},
        problem=problem,
        languages={str(lo): lo.get_display_name(str(lo)) for lo in languages} or {"de": "Deutsch"},
        preview_url=None if problem else url_for(KINDS[kind], **args),
        snippet=None if problem else snippet(kind, args),
    )
