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
    "User",
    "VersionedCache",
    "utcnow",
]
