"""How old an entry's information is, in words (issue 21): "Zuletzt bestätigt: März 2026",
"Stand laut Quelle: 2020", "Nicht bestätigt seit Januar 2025". One wording for the project page,
the listing (templates/_freshness.html) and the map's popup (the API's `freshness`)."""

from __future__ import annotations

from datetime import date

from flask import Flask, current_app
from flask_babel import format_date
from flask_babel import gettext as _

from atlas.core import reminders
from atlas.store import utcnow


def _month(day: date) -> str:
    return format_date(day, "MMMM yyyy")


def source_date_text(value: str) -> str:
    """ "2020" stays "2020"; "2018-11-06" (or "2018-11") reads "November 2018"."""
    parts = value.split("-")
    if len(parts) == 1:
        return value
    return _month(date(int(parts[0]), int(parts[1]), 1))


def of(project) -> reminders.Freshness:
    return reminders.freshness(project, utcnow(), current_app.config["CONFIRM_UNANSWERED_DAYS"])


def text(project) -> str:
    state = of(project)
    if state.kind == "unconfirmed":
        return _("Nicht bestätigt seit %(when)s", when=_month(state.when))
    if state.kind == "confirmed":
        return _("Zuletzt bestätigt: %(when)s", when=_month(state.when))
    if state.kind == "source":
        return _("Stand laut Quelle: %(when)s", when=source_date_text(state.source_date))
    return _("Eingetragen: %(when)s", when=_month(state.when))


def mark_unconfirmed(store, rows: list[list]) -> list[list]:
    """The marker rows ([id, …]) with 1 appended for an unconfirmed entry, 0 for the others."""
    unconfirmed = reminders.unanswered_ids(
        store, utcnow(), current_app.config["CONFIRM_UNANSWERED_DAYS"]
    )
    return [[*row, int(row[0] in unconfirmed)] for row in rows]


def init_app(app: Flask) -> None:
    app.add_template_global(text, "freshness_text")
    app.add_template_global(of, "freshness")
