"""A feed for every search: /projekte.atom takes the listing's filters (atlas.web.pages) and
lists the newest published projects that match, as Atom 1.0 (feedgen). The map and the listing
announce the feed of their current filters (`feed_url` in their templates)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from atlas.core.alerts import aware
from atlas.core.fields import FIELDS
from atlas.web import pages

bp = Blueprint("feeds", __name__)

#: Entries in a feed: the newest matches.
FEED_LENGTH = 50
#: The pages that announce the feed of their filters.
ANNOUNCING = ("pages.index", "pages.listing")
#: Filter keys that do not change which projects a feed lists.
_NOT_FILTERS = ("sort", "near_source")
#: The `updated` of a feed without entries.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def public(path: str) -> str:
    """An absolute URL on ATLAS_PUBLIC_URL (never on the request's Host header)."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def search_args() -> dict:
    """The current search's filters as URL parameters (no order, no page)."""
    return {k: v for k, v in pages._filters().items() if v and k not in _NOT_FILTERS}


@bp.app_context_processor
def _feed_link():
    if request.endpoint not in ANNOUNCING:
        return {}
    args = search_args()
    return {
        "feed_url": url_for("feeds.feed", **args),
        "search_query": urlencode(args),
        "alert_filters": args,
        "current_locale": str(get_locale() or "de"),
    }


def _title(query) -> str:
    parts = []
    if query.field:
        parts.append(FIELDS[query.field])
    if query.near:
        parts.append(
            _("%(km)s km um %(place)s", km=f"{query.near.radius_km:g}", place=query.near.label)
        )
    area = str(pages.area_phrase(query)).replace("<strong>", "").replace("</strong>", "")
    if area:
        parts.append(area.strip())
    if query.q:
        parts.append(f"„{query.q}“")
    suffix = f" – {', '.join(parts)}" if parts else ""
    return _("Gemeinsame Sache: neue Projekte") + suffix


@bp.get("/projekte.atom")
def feed():
    from feedgen.feed import FeedGenerator

    # A feed reader asks again and again: only its first, unconditional request is a search
    # of a person (atlas.core.demand).
    conditional = bool(request.if_none_match or request.if_modified_since)
    query, result, problem = pages._query(FEED_LENGTH, sort="newest", count_unmet=not conditional)
    if problem:
        message = problem.extra.get("de") or str(problem)
        return render_template("error.html", title=_("Ungültige Angabe"), message=message), 400
    args = search_args()
    listing = public(url_for("pages.listing", **args))
    self_url = public(url_for("feeds.feed", **args))
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(_title(query))
    fg.subtitle(_("Neu im Projektatlas „Gemeinsame Sache“ des Bündnisses „Niedersachsen packt an“"))
    fg.link(href=listing, rel="alternate", type="text/html")
    fg.link(href=self_url, rel="self", type="application/atom+xml")
    fg.language("de")
    fg.author(name="Gemeinsame Sache – Niedersachsen packt an")
    newest = None
    for project, _distance in result.items:
        url = public(url_for("pages.detail", project_id=project.id))
        entry = fg.add_entry(order="append")
        entry.id(url)
        entry.title(project.name)
        entry.link(href=url, rel="alternate", type="text/html")
        updated = aware(project.updated_at)
        entry.updated(updated)
        entry.published(aware(project.decided_at or project.created_at))
        place = " ".join(x for x in (project.postcode, project.city) if x)
        summary = (project.description or "").strip()
        entry.summary(f"{place}: {summary}" if place and summary else place or summary or "–")
        for slug in project.fields or []:
            entry.category(term=slug, label=FIELDS.get(slug, slug))
        if project.organisation:
            entry.author(name=project.organisation)
        newest = max(newest or updated, updated)
    fg.updated(newest or EPOCH)
    response = Response(fg.atom_str(pretty=True), mimetype="application/atom+xml")
    response.add_etag()
    return response.make_conditional(request)
