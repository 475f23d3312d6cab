"""Accounts of the regional offices: creating, changing and removing them, checking passwords,
their login sessions, who may act where.

Passwords are hashed by Werkzeug (scrypt). A login is a row in `login_sessions`: the session
cookie carries only its random id (the table its SHA-256), so logging out, a new password or a
removed account ends the session on the server, whatever copies of the cookie exist, and every
session ends at its absolute end, set at login and never extended.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import delete, select, update
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


def users(store: Store) -> list[User]:
    with store.session() as s:
        return list(s.scalars(select(User).order_by(User.email)))


def may_moderate(user: User, region: str | None) -> bool:
    """Officers act on their own region only; administrators on every region."""
    return user.is_admin or (user.region is not None and user.region == region)
