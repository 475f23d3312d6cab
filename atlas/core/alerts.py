"""E-mail alerts without an account: a search's filters and an address, confirmed by a link
in a mail (double opt-in), then a digest daily or weekly of the projects newly published that
match; nothing is sent when nothing is new.

The address is deleted at once by the one-click unsubscribe (RFC 8058) in every mail, and an
unconfirmed sign-up after `UNCONFIRMED_DAYS` (`purge_unconfirmed`, run by `atlas purge`). The
filters are matched with the search's own SQL conditions (atlas.search.filters), so an alert
finds what the listing finds. Wording and links are the web layer's (atlas.web.alerts).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update

from atlas import search
from atlas.search import filters as sql
from atlas.store import AlertSubscription, OutboxMessage, Project, Store, utcnow

FREQUENCIES = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
UNCONFIRMED_DAYS = 7
#: Projects in one digest at most (the mail links to the search for the rest).
DIGEST_MAX = 50
#: The filter keys an alert keeps (the listing's, without order and page).
KEYS = ("field", "region", "district", "q", "near", "radius_km", "languages", "language")

#: When a project was published: its decision (a submission), else its creation (curated).
published_at = func.coalesce(Project.decided_at, Project.created_at)


def clean_filters(args) -> dict:
    """The filters to keep, checked as a search checks them (BadQuery if one is wrong)."""
    kept = {k: str(args.get(k)).strip() for k in KEYS if str(args.get(k) or "").strip()}
    return kept


def subscribe(store: Store, email: str, filters: dict, frequency: str, locale: str) -> str:
    """A new unconfirmed sign-up; returns its key (for the confirmation link). Another sign-up of
    the same address is another row, so nothing here tells whether it existed."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown frequency {frequency!r}")
    key = secrets.token_urlsafe(24)
    with store.session.begin() as s:
        s.add(
            AlertSubscription(
                key=key, email=email, filters=filters, frequency=frequency, locale=locale
            )
        )
    return key


def find(store: Store, key: str) -> AlertSubscription | None:
    with store.session() as s:
        return s.scalar(select(AlertSubscription).where(AlertSubscription.key == key))


def confirm(store: Store, key: str, now: datetime | None = None) -> bool:
    """Confirm a sign-up (again: no change); projects published from now on are new to it."""
    now = now or utcnow()
    with store.session.begin() as s:
        sub = s.scalar(select(AlertSubscription).where(AlertSubscription.key == key))
        if sub is None:
            return False
        if sub.confirmed_at is None:
            sub.confirmed_at = now
            sub.last_sent_at = now
            # The same address signed up twice for the same search gets one digest, not two.
            for twin in s.scalars(
                select(AlertSubscription).where(
                    AlertSubscription.email == sub.email, AlertSubscription.id != sub.id
                )
            ):
                if twin.filters == sub.filters and twin.confirmed_at is not None:
                    s.delete(twin)
    return True


def unsubscribe(store: Store, key: str) -> bool:
    """Delete the sign-up at once, and its mails in the outbox (each carries the key in a
    link), so the address is gone from the database; True if there was one."""
    with store.session.begin() as s:
        sub = s.scalar(select(AlertSubscription).where(AlertSubscription.key == key))
        if sub is None:
            return False
        s.execute(
            delete(OutboxMessage).where(
                OutboxMessage.recipient == sub.email, OutboxMessage.body.contains(key)
            )
        )
        s.delete(sub)
    store.after_erasure()
    return True


def purge_unconfirmed(store: Store, now: datetime | None = None) -> int:
    """Delete sign-ups not confirmed within UNCONFIRMED_DAYS."""
    cutoff = (now or utcnow()) - timedelta(days=UNCONFIRMED_DAYS)
    with store.session.begin() as s:
        gone = s.execute(
            delete(AlertSubscription).where(
                AlertSubscription.confirmed_at.is_(None), AlertSubscription.created_at < cutoff
            )
        ).rowcount
    return gone


def due(store: Store, now: datetime | None = None) -> list[AlertSubscription]:
    """Confirmed sign-ups whose day or week since the last digest has passed."""
    now = now or utcnow()
    with store.session() as s:
        subs = list(
            s.scalars(
                select(AlertSubscription)
                .where(AlertSubscription.confirmed_at.is_not(None))
                .order_by(AlertSubscription.id)
            )
        )
    return [s for s in subs if aware(s.last_sent_at) + FREQUENCIES[s.frequency] <= now]


@dataclass
class Digest:
    subscription: AlertSubscription
    query: search.Query
    projects: list[Project]


def new_projects(store: Store, sub: AlertSubscription, geocode) -> Digest:
    """The published projects that match the sign-up's filters and were published since its
    last digest, newest first (at most DIGEST_MAX)."""
    query = search.parse(sub.filters, geocode=geocode)
    since = aware(sub.last_sent_at)
    stmt = (
        select(Project)
        .where(*sql.conditions(query), published_at > since)
        .order_by(published_at.desc(), Project.id)
    )
    with store.session() as s:
        found = list(s.scalars(stmt.limit(DIGEST_MAX * 4 if query.near else DIGEST_MAX)))
    if query.near and found:
        distances = search.distances_km(
            query.near.lat, query.near.lon, [p.lat for p in found], [p.lon for p in found]
        )
        found = [p for p, d in zip(found, distances) if d <= query.near.radius_km]
    return Digest(sub, query, found[:DIGEST_MAX])


def claim(session, sub: AlertSubscription, now: datetime) -> bool:
    """Take a due digest for this process, within the transaction that queues its mail: the
    database moves `last_sent_at` to now only while the sign-up is still due, so of several
    instances (or the service and `atlas alerts send`) exactly one sends it."""
    done = session.execute(
        update(AlertSubscription)
        .where(
            AlertSubscription.id == sub.id,
            AlertSubscription.last_sent_at <= now - FREQUENCIES[sub.frequency],
        )
        .values(last_sent_at=now)
    )
    return done.rowcount == 1


def aware(moment: datetime) -> datetime:
    """SQLite gives back the stored UTC times without their zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
