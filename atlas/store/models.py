"""The tables: projects, officers, the audit log, the outbox and the geocoding cache."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Status(StrEnum):
    """Moderation states; curated and imported projects are published at once."""

    PENDING = "pending"
    PUBLISHED = "published"
    REJECTED = "rejected"
    #: Reported as no longer running (issue 21): off the map, kept in the office's statistics.
    ENDED = "ended"


STATUSES = tuple(s.value for s in Status)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[list] = mapped_column(JSON, default=list)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    city: Mapped[str | None] = mapped_column(String(120))
    postcode: Mapped[str | None] = mapped_column(String(5))
    street: Mapped[str | None] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[list] = mapped_column(JSON, default=list)
    precision: Mapped[str | None] = mapped_column(String(20))
    location_note: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    district_code: Mapped[str] = mapped_column(String(5), index=True)
    region: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(12), default=Status.PUBLISHED)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Submission and moderation. Contact data is personal: shown only with consent
    # (publish_email) and deleted when the submitter withdraws.
    contact_name: Mapped[str | None] = mapped_column(String(120))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    publish_email: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: The interface language the submitter used ("de", "ar" …; issue 16): mails to them use it.
    language: Mapped[str | None] = mapped_column(String(8))
    #: ISO 639-1 codes of the languages the initiative works in with people (issue 16).
    languages: Mapped[list | None] = mapped_column(JSON, default=list)
    #: Short descriptions in other languages than German: {"ar": "…"} (issue 16).
    descriptions: Mapped[dict | None] = mapped_column(JSON)
    #: Bumped by every change, so two officers acting at once cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, index=True
    )
    # Issue 21 (migration 0012): how old the information is, and whether the project still runs.
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_date: Mapped[str | None] = mapped_column(String(10))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ask_consent: Mapped[bool | None] = mapped_column(Boolean)
    consent_asked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The import of an office's list this record came from, and its row there (issue 18).
    import_id: Mapped[str | None] = mapped_column(String(32), index=True)
    import_row: Mapped[int | None] = mapped_column(Integer)


# The listing's order (name within a status) straight from an index, also for 100k projects.
Index("ix_projects_status_name", Project.status, func.lower(Project.name), Project.id)
# Box and radius prefilters answered from one covering index (migration 0003).
Index("ix_projects_lat_lon", Project.lat, Project.lon, Project.status, Project.id)
# Entries whose reminder went unanswered, found without a scan (migration 0012, issue 21).
Index("ix_projects_reminded_at", Project.reminded_at)


class User(Base):
    """An officer of a regional office (region set) or a statewide administrator."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    region: Mapped[str | None] = mapped_column(String(20))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The TOTP secret (base32) of an officer who enrolled for two-factor login (migration 0008).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    #: The last 30-second time step whose code was accepted, so a code is never used twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)


class LoginSession(Base):
    """One login of an officer: the session cookie carries only its random id, the database its
    hash, so ending the row ends the session wherever copies of the cookie are (migration 0007).
    """

    __tablename__ = "login_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Absolute end, set at login and never extended.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditEntry(Base):
    """Who did what to which submission, and what changed."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(30))
    project_id: Mapped[str] = mapped_column(String(120), index=True)
    region: Mapped[str | None] = mapped_column(String(20))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)


class OutboxMessage(Base):
    """Every notification, sent or not: without SMTP it waits here for an administrator."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    #: The submission a mail is about, so withdrawing it deletes its mails too (migration 0007).
    project_id: Mapped[str | None] = mapped_column(String(120), index=True)
    # Delivery by the running service, retried with backoff (issue 20, migration 0011).
    #: What the mail is ("submission", "reminder", …), for the outbox page and filters.
    kind: Mapped[str | None] = mapped_column(String(40))
    #: Extra mail headers as a JSON object.
    headers: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int | None] = mapped_column(Integer, default=0)
    #: When the next try is due; None once sent or given up (or queued before 0011).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    #: The instance sending it now, until when (a killed sender's claim runs out).
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    gave_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GeocodeAnswer(Base):
    """Answers of an online geocoder, kept so a query is sent once (Nominatim's usage policy)."""

    __tablename__ = "geocode_cache"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Issue 22: reaching people where they are (migration 0013).


class UnmetDemand(Base):
    """Nearby searches that found nothing within their radius: a count per district of the
    searched place, field ("" for all fields) and month ("2026-12"); nothing per person."""

    __tablename__ = "unmet_demand"

    district_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class AlertSubscription(Base):
    """An e-mail alert without an account: the filters of a search, sent daily or weekly in
    the language of the sign-up once the address confirmed it (double opt-in)."""

    __tablename__ = "alert_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Random; the confirmation and unsubscribe links carry it.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    frequency: Mapped[str] = mapped_column(String(10), default="weekly")
    locale: Mapped[str] = mapped_column(String(10), default="de")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Projects published after this are new for the next digest (confirmation time at first).
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SubmissionFingerprint(Base):
    """A recent submission's hashed name, place and contact address: the database's unique key
    stores one of two identical submissions sent at the same moment (issue 20, migration 0011).
    """

    __tablename__ = "submission_fingerprints"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str | None] = mapped_column(String(120), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Throttle(Base):
    """Shared pacing of requests to an outside service across all processes: the earliest
    time (epoch seconds) the next one may go (issue 20, migration 0011)."""

    __tablename__ = "throttles"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)


class ImportLog(Base):
    """One import of an office's list (issue 18): where it came from, who, the counts, and what
    it changed (ids added, previous values of ids updated), so it can be undone as a whole."""

    __tablename__ = "imports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(254))
    file_name: Mapped[str] = mapped_column(String(255))
    sheet: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PendingImport(Base):
    """A list checked in the browser but not imported yet: its rows with their geocoding."""

    __tablename__ = "pending_imports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    region: Mapped[str | None] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(255))
    sheet: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    unknown_columns: Mapped[list] = mapped_column(JSON, default=list)
    rows: Mapped[list] = mapped_column(JSON, default=list)
