"""Accounts of the regional offices: creating them, checking passwords, who may act where.

Passwords are hashed by Werkzeug (scrypt); the session cookie only carries the user's id.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from atlas.geo.regions import REGIONS
from atlas.store import Store, User

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
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
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


def authenticate(store: Store, email: str, password: str) -> User | None:
    with store.session() as s:
        user = s.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def users(store: Store) -> list[User]:
    with store.session() as s:
        return list(s.scalars(select(User).order_by(User.email)))


def may_moderate(user: User, region: str | None) -> bool:
    """Officers act on their own region only; administrators on every region."""
    return user.is_admin or (user.region is not None and user.region == region)
