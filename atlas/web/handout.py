"""The handout to print: /projekte/aushang.pdf with the listing's filters and `lang=` (the
parts in atlas.core.handout, the page in templates/handout.html)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import force_locale, format_date
from flask_babel import gettext as _

from atlas.core import handout
from atlas.geo import regions
from atlas.store import VersionedCache
from atlas.web import pages
from atlas.web.caching import data_versioned
from atlas.web.extensions import babel, get_store, heavy
from atlas.web.feeds import public, search_args

bp = Blueprint("handout", __name__)

#: Projects on the handout: one A4 page, two at most; the QR code leads to the rest.
LIST_MAX = 15


def languages() -> set[str]:
    return {str(locale) for locale in babel.list_translations()} | {"de"}


#: Typeset handouts (1–2 s of CPU each), per request and day, until the projects change.
_HANDOUTS = VersionedCache(16)


@bp.get("/projekte/aushang.pdf")
@heavy
@data_versioned
def handout_pdf():
    lang = request.args.get("lang", "de").strip()
    if lang not in languages():
        lang = "de"
    query, result, problem = pages._query(LIST_MAX, count_unmet=False)
    if problem:
        message = problem.extra.get("de") or str(problem)
        return render_template("error.html", title=_("Ungültige Angabe"), message=message), 400
    # The date is printed on it, so a handout is kept for its day.
    key = (lang, tuple(sorted(request.args.items(multi=True))), date.today().isoformat())
    body = _HANDOUTS.get(get_store(), key, lambda: _typeset(lang, query, result))
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": 'inline; filename="aushang.pdf"'},
    )


def _typeset(lang: str, query, result) -> bytes:
    args = search_args()
    live = public(url_for("pages.listing", **args))
    points = [handout.Point(i, p.lat, p.lon) for i, (p, _d) in enumerate(result.items, start=1)]
    bounds = handout.area_box(
        points, query.region, query.district, query.near.box() if query.near else None
    )
    with force_locale(lang):
        title = _("Initiativen und Projekte") + str(pages.area_phrase(query)).replace(
            "<strong>", ""
        ).replace("</strong>", "")
        if query.near:
            title += " " + _(
                "im Umkreis von %(km)s km %(around)s",
                km=f"{query.near.radius_km:g}",
                around=pages.near_phrase(query.near),
            )
        html = render_template(
            "handout.html",
            lang=lang,
            direction=handout.direction(lang),
            title=title,
            today=format_date(date.today(), format="long"),
            query=query,
            result=result,
            map_svg=handout.map_svg(points, bounds, _("Karte der Projekte")),
            qr=handout.qr_data_uri(live),
            live_url=live,
            district=regions.district,
        )
    return handout.pdf(html)
