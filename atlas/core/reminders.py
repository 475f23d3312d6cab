"""Whether a project still runs (issue 21): how old its information is, who is asked when, and the
one-click link in the reminder.

- A project's information is dated by its last confirmation (`confirmed_at`: its contact said
  "still running", or an office approved or confirmed it), else by its source document
  (`source_date`), else by when it was entered.
- A published project whose contact agreed to be asked (`ask_consent`) and whose confirmation is
  older than ATLAS_CONFIRM_AFTER_DAYS gets a reminder (`due_reminders`, `send_reminders`), at most
  one in that many days.
- Without an answer ATLAS_CONFIRM_UNANSWERED_DAYS after the reminder it counts as unconfirmed:
  marked on its page, drawn muted on the map, listed for its office (`overdue`).
- The link in the mail is signed for one project and expires after LINK_DAYS; opening it changes
  nothing, the buttons on its page do (atlas.web.confirm).

`atlas.core.periodic.Periodic` runs `send_reminders` once a day in the serving process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import and_, func, or_, select, update

from atlas.core import outbox
from atlas.store import Project, Status, Store, utcnow

_log = logging.getLogger("atlas.reminders")

#: How long the link in a reminder works.
LINK_DAYS = 90
_SALT = "atlas-confirm-project"


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); compare them as UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


# --- how old an entry's information is ----------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """What an entry says about its age: `kind` is "unconfirmed" (asked, no answer: `since` is
    the last confirmation or entry), "confirmed", "source" (`source_date` as the document gives
    it: "2020" or "2018-11-06") or "entered"."""

    kind: str
    when: date | None = None
    source_date: str | None = None


def last_confirmed(project) -> datetime:
    """The moment the entry was last known to be true: its confirmation, else its entry."""
    return _aware(project.confirmed_at) or _aware(project.created_at) or utcnow()


def is_unanswered(project, now: datetime, unanswered_days: int) -> bool:
    """A reminder went out at least `unanswered_days` ago and nobody confirmed since."""
    reminded = _aware(project.reminded_at)
    if reminded is None or reminded > now - timedelta(days=unanswered_days):
        return False
    confirmed = _aware(project.confirmed_at)
    return confirmed is None or confirmed < reminded


def freshness(project, now: datetime, unanswered_days: int) -> Freshness:
    if is_unanswered(project, now, unanswered_days):
        return Freshness("unconfirmed", last_confirmed(project).date())
    if project.confirmed_at is not None:
        return Freshness("confirmed", _aware(project.confirmed_at).date())
    if project.source_date:
        return Freshness("source", source_date=project.source_date)
    return Freshness("entered", last_confirmed(project).date())


def unanswered_clause(now: datetime, unanswered_days: int):
    """SQL condition of `is_unanswered`."""
    return and_(
        Project.reminded_at.is_not(None),
        Project.reminded_at <= now - timedelta(days=unanswered_days),
        or_(Project.confirmed_at.is_(None), Project.confirmed_at < Project.reminded_at),
    )


def unanswered_ids(store: Store, now: datetime, unanswered_days: int) -> set[str]:
    """Ids of published projects whose reminder went unanswered (for the map's muted markers)."""
    with store.session() as s:
        return set(
            s.scalars(
                select(Project.id).where(
                    Project.status == Status.PUBLISHED, unanswered_clause(now, unanswered_days)
                )
            )
        )


def overdue(
    store: Store, region: str | None, now: datetime, confirm_after_days: int, unanswered_days: int
) -> list[Project]:
    """An office's published entries that are not confirmed: reminded without an answer, or
    not confirmed for longer than `confirm_after_days` (also those nobody can be asked about),
    oldest first; all regions when region is None."""
    stale = func.coalesce(Project.confirmed_at, Project.created_at) < now - timedelta(
        days=confirm_after_days
    )
    where = [
        Project.status == Status.PUBLISHED,
        or_(unanswered_clause(now, unanswered_days), stale, Project.confirmed_at.is_(None)),
    ]
    if region:
        where.append(Project.region == region)
    with store.session() as s:
        rows = s.scalars(
            select(Project)
            .where(*where)
            .order_by(func.coalesce(Project.confirmed_at, Project.created_at), Project.id)
        )
        return list(rows)


# --- the signed link ----------------------------------------------------------------------------


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def link_token(secret: str, project_id: str) -> str:
    """The token of a reminder's link: it names its project and carries its time of signing."""
    return _serializer(secret).dumps({"p": project_id})


def check_token(secret: str, token: str, project_id: str, max_age_days: int = LINK_DAYS) -> bool:
    """Whether `token` was signed here for exactly this project, less than max_age_days ago."""
    if not token or len(token) > 300:
        return False
    try:
        payload = _serializer(secret).loads(token, max_age=max_age_days * 86400)
    except BadSignature:  # also SignatureExpired
        return False
    return isinstance(payload, dict) and payload.get("p") == project_id


# --- asking ------------------------------------------------------------------------------------


def due_reminders(store: Store, now: datetime, confirm_after_days: int = 365) -> list[Project]:
    """Published projects with a contact who agreed to be asked, whose last confirmation (or
    entry) is older than confirm_after_days, and who were not reminded within that time."""
    cutoff = now - timedelta(days=confirm_after_days)
    with store.session() as s:
        rows = s.scalars(
            select(Project)
            .where(
                Project.status == Status.PUBLISHED,
                Project.contact_email.is_not(None),
                Project.ask_consent.is_(True),
                func.coalesce(Project.confirmed_at, Project.created_at) < cutoff,
                or_(Project.reminded_at.is_(None), Project.reminded_at < cutoff),
            )
            .order_by(Project.id)
        )
        return list(rows)


#: (recipients, subject, body) of the mail for one project, given the project.
Compose = Callable[[Project], tuple[list[str], str, str]]


def send_reminders(
    store: Store,
    config: Mapping,
    compose: Compose,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
) -> list[Project]:
    """Queue (and, with SMTP, send) a reminder for each due project, recording when; returns the
    projects. With dry_run nothing is queued or recorded."""
    now = now or utcnow()
    due = due_reminders(store, now, config.get("CONFIRM_AFTER_DAYS", 365))
    if dry_run:
        return due
    for project in due:
        recipients, subject, body = compose(project)
        with store.session.begin() as s:
            done = s.execute(
                update(Project)
                .where(Project.id == project.id, Project.status == Status.PUBLISHED)
                .values(reminded_at=now)
            )
            messages = (
                outbox.queue(s, recipients, subject, body, project.id) if done.rowcount else []
            )
        outbox.deliver(store, messages, config)
    return due


def ask_consent(store: Store, project_id: str, config: Mapping, compose: Compose) -> bool:
    """The one mail to an imported project's contact, asking whether they agree to be asked now
    and then (sent once: never again after `consent_asked_at` is set, and not to a contact who
    already answered). False if there is nothing to ask."""
    with store.session.begin() as s:
        project = s.get(Project, project_id)
        if (
            project is None
            or not project.contact_email
            or project.ask_consent is not None
            or project.consent_asked_at is not None
        ):
            return False
        recipients, subject, body = compose(project)
        project.consent_asked_at = utcnow()
        messages = outbox.queue(s, recipients, subject, body, project.id)
    outbox.deliver(store, messages, config)
    return True
