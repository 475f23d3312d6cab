"""Accounts of the regional offices: creating, changing and removing them, checking passwords,
their login sessions, who may act where.

Passwords are hashed by Werkzeug (scrypt). A login is a row in `login_sessions`: the session
cookie carries only its random id (the table its SHA-256), so logging out, a new password or a
removed account ends the session on the server, whatever copies of the cookie exist, and every
session ends at its absolute end, set at login and never extended.

Two-factor login: an account with a TOTP secret (RFC 6238, pyotp: 6 digits, 30-second steps)
also needs a code from an authenticator app; codes of the step before and after count too
(clock drift), and a code is accepted once only: the step of the last accepted code is stored,
and no code of that step or an earlier one is taken again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import pyotp
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from atlas.geo.regions import REGIONS
from atlas.store import LoginSession, Store, User, utcnow

MIN_PASSWORD_LENGTH = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Compared against when the e-mail is unknown, so a wrong address takes as long as a wrong
    password; made on first use (scrypt costs every `atlas` command a fraction of a second)."""
    return generate_password_hash("not a password of anyone")


class AccountError(ValueError):
    pass


def add_user(store: Store, email: str, password: str, region: str | None, is_admin: bool) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"'{email}' is not an e-mail address")
    if region is not None and region not in REGIONS:
        raise AccountError(f"unknown region '{region}'; valid regions: {', '.join(REGIONS)}")
    if region is None and not is_admin:
        raise AccountError("an officer needs --region SLUG; a statewide administrator --admin")
    _check_password(password)
    user = User(
        email=email,
        password_hash=generate_password_hash(password),
        region=region,
        is_admin=is_admin,
    )
    try:
        with store.session.begin() as s:
            s.add(user)
    except IntegrityError:
        raise AccountError(f"a user '{email}' exists already") from None
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")


def _user_or_error(s, email: str) -> User:
    user = s.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise AccountError(f"there is no user '{email.strip().lower()}'")
    return user


def change_password(store: Store, email: str, password: str) -> int:
    """Set a new password and end every session of the account; returns how many ended."""
    _check_password(password)
    with store.session.begin() as s:
        user = _user_or_error(s, email)
        user.password_hash = generate_password_hash(password)
        return s.execute(delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount


def remove_user(store: Store, email: str) -> None:
    """Delete an account and end its sessions; the audit log keeps its e-mail as the actor of
    what it did."""
    with store.session.begin() as s:
        user = _user_or_error(s, email)
        s.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        s.delete(user)


def authenticate(store: Store, email: str, password: str) -> User | None:
    with store.session() as s:
        user = s.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


# --- login sessions -------------------------------------------------------------------------


def _session_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: Store, user: User, lifetime: timedelta) -> str:
    """A new login session of `user` that ends `lifetime` from now; returns its id (for the
    cookie). Records the login time and clears sessions that have ended."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with store.session.begin() as s:
        s.execute(delete(LoginSession).where(LoginSession.expires_at <= now))
        s.add(
            LoginSession(
                id_hash=_session_hash(token),
                user_id=user.id,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        s.execute(update(User).where(User.id == user.id).values(last_login_at=now))
    return token


def session_user(store: Store, token: str) -> User | None:
    """The account of a live session; None when the session was ended, has run out, or the
    account is gone."""
    if not token or len(token) > 100:
        return None
    with store.session() as s:
        return s.scalar(
            select(User)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(LoginSession.id_hash == _session_hash(token), LoginSession.expires_at > utcnow())
        )


def end_session(store: Store, token: str) -> None:
    with store.session.begin() as s:
        s.execute(delete(LoginSession).where(LoginSession.id_hash == _session_hash(token)))


def end_all_sessions(store: Store, email: str) -> int:
    """End every session of an account (a lost laptop); returns how many ended."""
    with store.session.begin() as s:
        user = _user_or_error(s, email)
        return s.execute(delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount


# --- two-factor login (TOTP) -----------------------------------------------------------------

TOTP_ISSUER = "Gemeinsame Sache"
_CODE = re.compile(r"^\d{6}$")


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(email: str, secret: str) -> str:
    """The otpauth:// URI an authenticator app takes (typed in or as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (now, one before or one after) whose code is `code`, if any."""
    code = (code or "").replace(" ", "")
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(_utc(now))
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _utc(now: float | None) -> datetime:
    return datetime.fromtimestamp(time.time() if now is None else now, UTC)


def enrol_totp(store: Store, email: str, secret: str, code: str | None = None) -> bool:
    """Store `secret` as the account's TOTP secret. With `code` (the web enrolment), only if the
    code matches: the officer shows the app has the secret; that code counts as used."""
    step = None
    if code is not None:
        step = _matching_step(secret, code)
        if step is None:
            return False
    with store.session.begin() as s:
        user = _user_or_error(s, email)
        user.totp_secret = secret
        user.totp_last_step = step
    return True


def remove_totp(store: Store, email: str) -> None:
    with store.session.begin() as s:
        user = _user_or_error(s, email)
        user.totp_secret = None
        user.totp_last_step = None


def check_totp(store: Store, user_id: int, code: str, now: float | None = None) -> bool:
    """Whether `code` is a valid code of the account not used before; accepting it marks its
    step used (one conditional UPDATE, so two requests with one code cannot both pass)."""
    with store.session() as s:
        secret = s.scalar(select(User.totp_secret).where(User.id == user_id))
    step = _matching_step(secret, code, now) if secret else None
    if step is None:
        return False
    with store.session.begin() as s:
        done = s.execute(
            update(User)
            .where(
                User.id == user_id,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        return done.rowcount == 1


def user_by_id(store: Store, user_id: int) -> User | None:
    with store.session() as s:
        return s.get(User, user_id)


def users(store: Store) -> list[User]:
    with store.session() as s:
        return list(s.scalars(select(User).order_by(User.email)))


def may_moderate(user: User, region: str | None) -> bool:
    """Officers act on their own region only; administrators on every region."""
    return user.is_admin or (user.region is not None and user.region == region)
