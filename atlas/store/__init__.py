"""The database layer: tables, the store (engine and sessions), caches and migrations."""

from .cache import GeocodeCache, VersionedCache
from .database import Store
from .models import (
    STATUSES,
    AlertSubscription,
    AuditEntry,
    Base,
    GeocodeAnswer,
    LoginSession,
    OutboxMessage,
    Project,
    Status,
    SubmissionFingerprint,
    Throttle,
    UnmetDemand,
    User,
    utcnow,
)

__all__ = [
    "STATUSES",
    "AlertSubscription",
    "AuditEntry",
    "Base",
    "GeocodeAnswer",
    "GeocodeCache",
    "LoginSession",
    "OutboxMessage",
    "Project",
    "Status",
    "Store",
    "UnmetDemand",
    "SubmissionFingerprint",
    "Throttle",
    "User",
    "VersionedCache",
    "utcnow",
]
