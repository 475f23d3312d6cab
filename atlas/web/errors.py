"""Error answers: JSON under /api/, a German page everywhere else; never a traceback."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from atlas.web.extensions import limiter
from atlas.web.wording import berlin_time

ERROR_TEXTS = {
    400: (
        "Ungültige Anfrage",
        "Diese Anfrage war unvollständig oder fehlerhaft. Bitte laden Sie die Seite neu und "
        "versuchen Sie es noch einmal.",
    ),
    403: (
        "Kein Zugriff",
        "Diese Seite ist für Ihr Konto nicht freigegeben, zum Beispiel weil sie eine andere "
        "Region betrifft.",
    ),
    404: ("Seite nicht gefunden", "Diese Seite gibt es nicht (mehr)."),
    405: ("Nicht erlaubt", "Diese Anfrage ist hier nicht möglich."),
    409: (
        "Inzwischen geändert",
        "Der Eintrag wurde inzwischen von jemand anderem geändert. Bitte laden Sie die Seite "
        "neu und prüfen Sie den neuen Stand.",
    ),
    413: ("Zu groß", "Die gesendeten Daten sind zu groß."),
    429: ("Zu viele Anfragen", "Bitte warten Sie einen Moment und versuchen Sie es erneut."),
    500: ("Fehler", "Etwas ist schiefgegangen. Der Fehler wurde protokolliert."),
    503: ("Vorübergehend nicht verfügbar", "Bitte versuchen Sie es gleich noch einmal."),
}

#: A rate limit's unit in German: (singular, plural).
_UNITS = {
    "second": ("Sekunde", "Sekunden"),
    "minute": ("Minute", "Minuten"),
    "hour": ("Stunde", "Stunden"),
    "day": ("Tag", "Tage"),
    "month": ("Monat", "Monate"),
    "year": ("Jahr", "Jahre"),
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
        return f"{item.amount} pro {one}"
    return f"{item.amount} in {item.multiples} {many}"


def wait_text(what: str = "Anfragen") -> str:
    """How long the client must wait after a rate limit, in German: "Bitte warten Sie noch
    etwa 12 Minuten (bis 05.01.2026, 15:42 MEZ) …"."""

    hit = limiter.current_limit
    if hit is None:
        return ERROR_TEXTS[429][1]
    seconds = max(1, hit.reset_at - time.time())
    if seconds < 60:
        wait = "noch knapp eine Minute"
    elif seconds < 2 * 3600:
        minutes = math.ceil(seconds / 60)
        wait = f"noch etwa {minutes} {'Minute' if minutes == 1 else 'Minuten'}"
    else:
        wait = f"noch etwa {math.ceil(seconds / 3600)} Stunden"
    until = berlin_time(datetime.fromtimestamp(hit.reset_at, UTC))
    return (
        f"Von Ihrem Anschluss kamen in kurzer Zeit zu viele {what} (höchstens "
        f"{_limit_words(hit.limit)}). Bitte warten Sie {wait} (bis {until}) und versuchen "
        "Sie es dann erneut."
    )
