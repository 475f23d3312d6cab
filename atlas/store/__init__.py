"""The database layer: tables, the store (engine and sessions), caches and migrations."""

from .cache import GeocodeCache, VersionedCache
from .database import Store
from .models import (
    STATUSES,
    AuditEntry,
    Base,
    GeocodeAnswer,
    LoginSession,
    OutboxMessage,
    Project,
    Status,
    SubmissionFingerprint,
    Throttle,
    User,
    utcnow,
)

__all__ = [
    "STATUSES",
    "AuditEntry",
    "Base",
    "GeocodeAnswer",
    "GeocodeCache",
    "LoginSession",
    "OutboxMessage",
    "Project",
    "Status",
    "Store",
    "SubmissionFingerprint",
    "Throttle",
    "User",
    "VersionedCache",
    "utcnow",
]
