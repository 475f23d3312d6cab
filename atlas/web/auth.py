"""The login session of the regional offices (Flask-Login) and the guards of their pages."""

from __future__ import annotations

from functools import wraps

import flask_login
from flask import Flask, abort, redirect, request, url_for

from atlas.store import User
from atlas.web.extensions import get_store

login_manager = flask_login.LoginManager()


class Officer(flask_login.UserMixin):
    """The logged-in account as Flask-Login wants it; the stored row stays free of Flask."""

    def __init__(self, user: User):
        self.user = user
        self.id = user.id


def init_app(app: Flask) -> None:
    login_manager.init_app(app)


@login_manager.user_loader
def _load(user_id: str) -> Officer | None:
    with get_store().session() as s:
        user = s.get(User, int(user_id)) if user_id.isdigit() else None
    return Officer(user) if user is not None else None


@login_manager.unauthorized_handler
def _to_login():
    # The target is kept as a local path, which the login page accepts as its only kind.
    return redirect(url_for("moderation.login", next=request.full_path))


def log_in(user: User) -> None:
    flask_login.login_user(Officer(user))


def log_out() -> None:
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
