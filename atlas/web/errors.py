"""Error answers: JSON under /api/, a German page everywhere else; never a traceback."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from werkzeug.exceptions import HTTPException

from atlas.web.extensions import limiter
from atlas.web.wording import berlin_time

ERROR_TEXTS = {
    400: (
        _l("Ungültige Anfrage"),
        _l(
            "Diese Anfrage war unvollständig oder fehlerhaft. Bitte laden Sie die Seite neu und "
            "versuchen Sie es noch einmal."
        ),
    ),
    403: (
        _l("Kein Zugriff"),
        _l(
            "Diese Seite ist für Ihr Konto nicht freigegeben, zum Beispiel weil sie eine andere "
            "Region betrifft."
        ),
    ),
    404: (_l("Seite nicht gefunden"), _l("Diese Seite gibt es nicht (mehr).")),
    405: (_l("Nicht erlaubt"), _l("Diese Anfrage ist hier nicht möglich.")),
    409: (
        _l("Inzwischen geändert"),
        _l(
            "Der Eintrag wurde inzwischen von jemand anderem geändert. Bitte laden Sie die Seite "
            "neu und prüfen Sie den neuen Stand."
        ),
    ),
    413: (_l("Zu groß"), _l("Die gesendeten Daten sind zu groß.")),
    429: (
        _l("Zu viele Anfragen"),
        _l("Bitte warten Sie einen Moment und versuchen Sie es erneut."),
    ),
    500: (_l("Fehler"), _l("Etwas ist schiefgegangen. Der Fehler wurde protokolliert.")),
    503: (_l("Vorübergehend nicht verfügbar"), _l("Bitte versuchen Sie es gleich noch einmal.")),
}

#: A rate limit's unit: (singular, plural) for "20 pro Stunde", "3 in 2 Minuten".
_UNITS = {
    "second": (_l("Sekunde"), _l("Sekunden")),
    "minute": (_l("Minute"), _l("Minuten")),
    "hour": (_l("Stunde"), _l("Stunden")),
    "day": (_l("Tag"), _l("Tage")),
    "month": (_l("Monat"), _l("Monate")),
    "year": (_l("Jahr"), _l("Jahre")),
}


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(Exception, _unexpected)


def error(message: str, status: int = 400, **extra):
    """The API's error answer: {"error": "what is wrong", …}."""
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _own_description(exc: HTTPException) -> str | None:
    """The message a view gave with abort(code, message) (German), not Werkzeug's default."""
    if exc.description and exc.description != type(exc).description:
        return exc.description
    return None


def _error_page(exc: HTTPException):
    if _wants_json():
        return error(exc.description or exc.name, exc.code or 500)
    if exc.code == 429:
        return render_template("error.html", title=ERROR_TEXTS[429][0], message=wait_text()), 429
    title, message = ERROR_TEXTS.get(exc.code, (exc.name, exc.description))
    message = _own_description(exc) or message
    return render_template("error.html", title=title, message=message), exc.code


def _unexpected(exc: Exception):
    """Last line: log the fault, answer plainly, never leak a traceback."""
    current_app.logger.exception("unexpected error on %s", request.path)
    if _wants_json():
        return error("internal error; it has been logged", 500)
    return render_template(
        "error.html", title=ERROR_TEXTS[500][0], message=ERROR_TEXTS[500][1]
    ), 500


def _limit_words(item) -> str:
    """ "20 pro Stunde", "3 in 2 Minuten": a limit as its reader says it."""
    one, many = _UNITS.get(item.GRANULARITY.name, (item.GRANULARITY.name,) * 2)
    if item.multiples == 1:
        return _("%(amount)s pro %(unit)s", amount=item.amount, unit=one)
    return _(
        "%(amount)s in %(count)s %(unit)s", amount=item.amount, count=item.multiples, unit=many
    )


def wait_text(what: str | None = None) -> str:
    """How long the client must wait after a rate limit, in German: "Bitte warten Sie noch
    etwa 12 Minuten (bis 05.01.2026, 15:42 MEZ) …"."""

    what = what or _("Anfragen")
    hit = limiter.current_limit
    if hit is None:
        return ERROR_TEXTS[429][1]
    seconds = max(1, hit.reset_at - time.time())
    if seconds < 60:
        wait = _("noch knapp eine Minute")
    elif seconds < 2 * 3600:
        minutes = math.ceil(seconds / 60)
        wait = ngettext("noch etwa %(num)s Minute", "noch etwa %(num)s Minuten", minutes)
    else:
        hours = math.ceil(seconds / 3600)
        wait = ngettext("noch etwa %(num)s Stunde", "noch etwa %(num)s Stunden", hours)
    until = berlin_time(datetime.fromtimestamp(hit.reset_at, UTC))
    return _(
        "Von Ihrem Anschluss kamen in kurzer Zeit zu viele %(what)s (höchstens %(limit)s). "
        "Bitte warten Sie %(wait)s (bis %(until)s) und versuchen Sie es dann erneut.",
        what=what,
        limit=_limit_words(hit.limit),
        wait=wait,
        until=until,
    )
