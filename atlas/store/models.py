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


# The listing's order (name within a status) straight from an index, also for 100k projects.
Index("ix_projects_status_name", Project.status, func.lower(Project.name), Project.id)
# Box and radius prefilters answered from one covering index (migration 0003).
Index("ix_projects_lat_lon", Project.lat, Project.lon, Project.status, Project.id)


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


class GeocodeAnswer(Base):
    """Answers of an online geocoder, kept so a query is sent once (Nominatim's usage policy)."""

    __tablename__ = "geocode_cache"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
