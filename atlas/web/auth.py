"""Who is logged in, and the decorators that guard the regional offices' pages."""
from __future__ import annotations

from functools import wraps

from flask import abort, g, redirect, request, session, url_for

from atlas.store import User
from atlas.web.extensions import get_store


def current_user() -> User | None:
    if "user" not in g:
        uid = session.get("user_id")
        g.user = None
        if uid is not None:
            with get_store().session() as s:
                g.user = s.get(User, uid)
    return g.user


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("moderation.login", next=request.full_path))
        return view(*args, **kwargs)
    return wrapper


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user().is_admin:
            abort(403)
        return view(*args, **kwargs)
    return wrapper
