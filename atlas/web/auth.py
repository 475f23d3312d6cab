"""The login session of the regional offices (Flask-Login) and the guards of their pages.

Flask-Login keeps in the signed cookie what `Officer.get_id()` gives: not the account's id but
the random id of a row in `login_sessions` (atlas.core.accounts). Each request looks that row
up, so a session ended on the server (logout, new password, removed account, its absolute end
reached) is refused whatever copies of the cookie exist.
"""

from __future__ import annotations

from functools import wraps

import flask_login
from flask import Flask, abort, current_app, redirect, request, url_for

from atlas.core import accounts
from atlas.store import User
from atlas.web.extensions import get_store

login_manager = flask_login.LoginManager()


class Officer(flask_login.UserMixin):
    """The logged-in account as Flask-Login wants it; the stored row stays free of Flask."""

    def __init__(self, user: User, session_id: str):
        self.user = user
        self.session_id = session_id

    def get_id(self) -> str:
        return self.session_id


def init_app(app: Flask) -> None:
    login_manager.init_app(app)


@login_manager.user_loader
def _load(session_id: str) -> Officer | None:
    user = accounts.session_user(get_store(), session_id)
    return Officer(user, session_id) if user is not None else None


@login_manager.unauthorized_handler
def _to_login():
    # The target is kept as a local path, which the login page accepts as its only kind.
    return redirect(url_for("moderation.login", next=request.full_path))


def log_in(user: User) -> None:
    """A new server-side session, ending PERMANENT_SESSION_LIFETIME after now (not extended)."""
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    flask_login.login_user(Officer(user, accounts.start_session(get_store(), user, lifetime)))


def log_out() -> None:
    """End this session on the server too, so a copy of the cookie opens nothing."""
    officer = flask_login.current_user
    if officer.is_authenticated:
        accounts.end_session(get_store(), officer.session_id)
    flask_login.logout_user()


def current_user() -> User | None:
    officer = flask_login.current_user
    return officer.user if officer.is_authenticated else None


login_required = flask_login.login_required


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user().is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper
