"""The login session of the regional offices (Flask-Login) and the guards of their pages.

Flask-Login keeps in the signed cookie what `Officer.get_id()` gives: not the account's id but
the random id of a row in `login_sessions` (atlas.core.accounts). Each request looks that row
up, so a session ended on the server (logout, new password, removed account, its absolute end
reached) is refused whatever copies of the cookie exist.
"""

from __future__ import annotations

import math
import time
from functools import wraps

import flask_login
from flask import (
    Flask,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address

from atlas.core import accounts
from atlas.geo import regions
from atlas.store import User
from atlas.web.extensions import get_store, limiter
from atlas.web.forms import LoginForm

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
    app.after_request(count_failures_only)


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


def region_of(user: User, chosen: str | None) -> str | None:
    """The region an office page shows or acts for: an officer's own; an administrator's
    `chosen` one when it is a region, else statewide (None)."""
    if not user.is_admin:
        return user.region
    return chosen if chosen in regions.REGIONS else None


#: Logged in, whether enrolled in a required two-factor login or not (the enrolment page).
session_required = flask_login.login_required


def totp_missing(user: User) -> bool:
    """Two-factor login is required (ATLAS_REQUIRE_TOTP) and the account has not enrolled."""
    return bool(current_app.config.get("REQUIRE_TOTP")) and user.totp_secret is None


def login_required(view):
    """Logged in; where two-factor login is required, also enrolled: an account without it is
    sent to the enrolment page before anything else."""

    @wraps(view)
    @flask_login.login_required
    def wrapper(*args, **kwargs):
        if totp_missing(current_user()):
            return redirect(url_for("moderation.totp"), 303)
        return view(*args, **kwargs)

    return wrapper


# --- the second step of a login with TOTP ---------------------------------------------------
# After the right password, an account with a TOTP secret gets no session yet: the (signed)
# cookie only says whose password was right and when, for TOTP_STEP_SECONDS; the session is made
# once the code is right.

TOTP_STEP_SECONDS = 300
_PENDING = "totp_pending"


def begin_second_step(user: User, target: str | None) -> None:
    session.clear()
    session[_PENDING] = {"user": user.id, "email": user.email, "at": time.time(), "next": target}


def pending_second_step() -> dict | None:
    pending = session.get(_PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > TOTP_STEP_SECONDS:
        return None
    return pending


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user().is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


# --- login limits ---------------------------------------------------------------------------
# Failed logins are counted twice: per e-mail address typed (an account is locked for the rest of
# the window, whoever tries) and per client address (many accounts tried from one place). Only
# failures count, so colleagues behind one office address do not lock each other out by logging
# in. A locked login is told in German how long to wait.
#
# An attempt is counted when it comes in, before the password is checked (the limiter's atomic
# hit: an increment in the memory store or in Redis), and given back once it turns out not to be
# a failure (a login, a 429, an error). Counted only once answered, a burst of wrong passwords
# sent at the same moment would all be checked before the first was counted. The price: while
# attempts are being checked they count, so near the limit an attempt at the same moment as
# others may be refused although some of those then succeed.

_SCOPES = ("login-account", "login-address")


def _address_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _account_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN_ACCOUNT"]


def _account_key() -> str:
    if request.endpoint == "moderation.login_code":  # the account whose password was right
        pending = pending_second_step()
        email = pending["email"] if pending else ""
    else:
        email = (request.form.get("email") or "").strip().lower()
    return f"konto:{email}" if email else get_remote_address()


def _failed(response) -> bool:
    return response.status_code == 400


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} Sekunden" if seconds != 1 else "eine Sekunde"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} Minuten" if minutes != 1 else "eine Minute"


def _locked(whose: str):
    def respond(limit) -> object:
        wait = max(1, math.ceil(limit.window[0] - time.time()))  # until the window resets
        message = (
            f"Zu viele fehlgeschlagene Anmeldeversuche {whose}. Bitte warten Sie "
            f"{_wait_text(wait)}, bevor Sie es erneut versuchen."
        )
        response = make_response(
            render_template("admin_login.html", form=LoginForm(), error=message), 429
        )
        response.headers["Retry-After"] = str(wait)
        return response

    return respond


def login_limits(view):
    """The login's limits: failed attempts per account and per client address, shared by the
    password step and the code step (a wrong code counts like a wrong password). Each attempt
    is counted as it comes in; `count_failures_only` gives back those that did not fail."""
    view = limiter.shared_limit(
        _account_limit,
        "login-account",
        key_func=_account_key,
        methods=["POST"],
        on_breach=_locked("für dieses Konto"),
    )(view)
    return limiter.shared_limit(
        _address_limit,
        "login-address",
        methods=["POST"],
        on_breach=_locked("von Ihrem Anschluss aus"),
    )(view)


def count_failures_only(response):
    """After a login attempt (an after-request hook of the app): unless it failed, give
    back what `login_limits` counted for it, also for a refused one (a 429 is no failure)."""
    if _failed(response):
        return response
    for counted in limiter.current_limits:  # the limits this request was counted against
        if counted.request_args[-1] in _SCOPES:  # (…, key, scope)
            _give_back(counted)
    return response


def _give_back(counted) -> None:
    # The fixed window's counter one down (Limiter is made with strategy="fixed-window"). Had
    # the window ended meanwhile, the counter of the next one would go below zero: undone.
    storage = limiter.limiter.storage
    expiry = counted.limit.get_expiry()
    if storage.incr(counted.key, expiry, amount=-1) < 0:
        storage.incr(counted.key, expiry, amount=1)


def limited_response(exc):
    """A 429 of the login: the German page `_locked` made (with the time to wait)."""
    return exc.response if getattr(exc, "response", None) is not None else exc
