"""Error answers: JSON under /api/, a German page everywhere else; never a traceback."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

ERROR_TEXTS = {
    404: ("Seite nicht gefunden", "Diese Seite gibt es nicht (mehr)."),
    405: ("Nicht erlaubt", "Diese Anfrage ist hier nicht möglich."),
    413: ("Zu groß", "Die gesendeten Daten sind zu groß."),
    429: ("Zu viele Anfragen", "Bitte warten Sie einen Moment und versuchen Sie es erneut."),
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


def _error_page(exc: HTTPException):
    if _wants_json():
        return error(exc.description or exc.name, exc.code or 500)
    title, message = ERROR_TEXTS.get(exc.code, (exc.name, exc.description))
    return render_template("error.html", title=title, message=message), exc.code


def _unexpected(exc: Exception):
    """Last line: log the fault, answer plainly, never leak a traceback."""
    current_app.logger.exception("unexpected error on %s", request.path)
    if _wants_json():
        return error("internal error; it has been logged", 500)
    return render_template(
        "error.html",
        title="Fehler",
        message="Etwas ist schiefgegangen. Der Fehler wurde protokolliert.",
    ), 500
