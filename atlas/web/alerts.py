"""E-mail alerts without an account (atlas.core.alerts): the sign-up form on the map and the
listing, the confirmation page (the link opens it, a button confirms), unsubscribing (a page
with a button, and RFC 8058's one-click POST), and the digests: `send_due` for
`atlas alerts send` and for the small runner that `atlas serve` starts (`start_runner`).

The form answers the same whether or not the address was signed up already, and counts against
the same per-client limit as submissions.
"""

from __future__ import annotations

import logging
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _

from atlas import search
from atlas.core import alerts, outbox
from atlas.core.fields import FIELDS
from atlas.core.periodic import Periodic
from atlas.store import utcnow
from atlas.web import mail
from atlas.web.extensions import get_geocode, get_store, limiter
from atlas.web.handout import languages

bp = Blueprint("alerts", __name__)
_log = logging.getLogger("atlas.alerts")


def _submit_limit() -> str:
    return current_app.config["RATELIMIT_SUBMIT"]


def _forged() -> bool:
    """A browser says the form was posted from another site (no cookie needed to tell)."""
    return request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")


@bp.post("/benachrichtigen")
@limiter.limit(_submit_limit, scope="alerts", deduct_when=lambda r: r.status_code == 303)
def sign_up():
    if _forged():
        abort(403)
    email = request.form.get("email", "").strip()
    frequency = request.form.get("frequency", "weekly")
    filters = alerts.clean_filters(request.form)
    error = None
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        error = _("Bitte geben Sie eine gültige E-Mail-Adresse ein.")
    if frequency not in alerts.FREQUENCIES:
        error = _("Bitte wählen Sie, wie oft Sie benachrichtigt werden möchten.")
    try:
        query = search.parse(filters, geocode=get_geocode())
    except search.BadQuery as exc:
        error = exc.extra.get("de") or str(exc)
        query = None
    if error:
        return render_template("alerts_page.html", state="error", message=error), 400
    locale = request.form.get("locale") or str(get_locale() or "de")
    if locale not in languages():
        locale = "de"
    store = get_store()
    key = alerts.subscribe(store, email, filters, frequency, locale)
    with force_locale(locale):
        body = render_template(
            "mail/alert_confirm.txt",
            confirm_url=mail.link("alerts.confirm_page", key=key),
            what=describe(query),
            frequency=frequency,
        )
        mail.send(store, [email], _("Bitte bestätigen: Benachrichtigung vom Projektatlas"), body)
    return redirect(url_for("alerts.sent"), 303)


@bp.get("/benachrichtigen/gesendet")
def sent():
    return render_template("alerts_page.html", state="sent")


@bp.get("/benachrichtigen/bestaetigen/<key>")
def confirm_page(key: str):
    sub = alerts.find(get_store(), key)
    if sub is None:
        return render_template("alerts_page.html", state="unknown"), 404
    return render_template("alerts_page.html", state="confirm", key=key, sub=sub)


@bp.post("/benachrichtigen/bestaetigen/<key>")
def confirm(key: str):
    if not alerts.confirm(get_store(), key):
        return render_template("alerts_page.html", state="unknown"), 404
    return render_template("alerts_page.html", state="confirmed", key=key)


@bp.get("/benachrichtigen/abmelden/<key>")
def unsubscribe_page(key: str):
    return render_template("alerts_page.html", state="unsubscribe", key=key)


@bp.post("/benachrichtigen/abmelden/<key>")
def unsubscribe(key: str):
    """The button on the page, and RFC 8058's one-click POST from a mail program: deleted at
    once either way (an unknown key answers the same)."""
    alerts.unsubscribe(get_store(), key)
    return render_template("alerts_page.html", state="unsubscribed")


def describe(query: search.Query | None) -> str:
    """The search of an alert in words, for its mails."""
    if query is None:
        return ""
    from atlas.web import pages

    parts = [FIELDS[query.field]] if query.field else [_("alle Handlungsfelder")]
    if query.near:
        parts.append(
            _("im Umkreis von %(km)s km", km=f"{query.near.radius_km:g}")
            + " "
            + pages.near_phrase(query.near)
        )
    area = str(pages.area_phrase(query)).replace("<strong>", "").replace("</strong>", "")
    if area:
        parts.append(area.strip())
    if query.q:
        parts.append(f"„{query.q}“")
    return ", ".join(parts)


def send_due(app: Flask, dry_run: bool = False, now: datetime | None = None) -> list[dict]:
    """Send every due digest that has something new; returns what was (or would be) sent."""
    store = get_store(app)
    now = now or utcnow()
    report = []
    with app.test_request_context():
        for sub in alerts.due(store, now):
            try:
                digest = alerts.new_projects(store, sub, get_geocode(app))
            except search.BadQuery as exc:  # a place the gazetteer no longer knows
                _log.warning("alert %s skipped: %s", sub.id, exc)
                continue
            entry = {"id": sub.id, "projects": [p.name for p in digest.projects]}
            report.append(entry)
            if dry_run:
                continue
            if digest.projects:  # nothing new: nothing sent, and the next round looks again
                _send_digest(app, store, digest, now)
    return report


def _send_digest(app: Flask, store, digest: alerts.Digest, now: datetime) -> None:
    sub = digest.subscription
    unsubscribe_url = mail.link("alerts.unsubscribe", key=sub.key)
    with force_locale(sub.locale):
        count = len(digest.projects)
        subject = ngettext(
            "Neu im Projektatlas: %(num)s Projekt", "Neu im Projektatlas: %(num)s Projekte", count
        )
        body = render_template(
            "mail/alert_digest.txt",
            digest=digest,
            what=describe(digest.query),
            link=lambda p: mail.link("pages.detail", project_id=p.id),
            search_url=mail.link("pages.listing", **sub.filters),
            unsubscribe_url=mail.link("alerts.unsubscribe_page", key=sub.key),
        )
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    with store.session.begin() as s:
        if not alerts.claim(s, sub, now):
            return  # another process sent this digest a moment ago
        messages = outbox.enqueue(s, "alert", [sub.email], subject, body, headers=headers)
    outbox.deliver(store, messages, app.config)


def start_runner(app: Flask) -> Periodic | None:
    """A daemon thread that sends due digests every ATLAS_ALERTS_INTERVAL seconds (0: never);
    `atlas serve` starts it once, in the serving process."""
    interval = app.config.get("ALERTS_INTERVAL", 0)
    if not interval:
        return None
    return Periodic(lambda: send_due(app), interval=interval, delay=interval).start()
