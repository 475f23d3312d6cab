"""The database: projects and the geocoding cache, through SQLAlchemy 2.

The embedded default is a SQLite file in the instance folder, in WAL mode so readers never wait
for a writer; `ATLAS_DATABASE_URL` points anywhere SQLAlchemy can reach.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from functools import partial
from pathlib import Path
from datetime import datetime, timezone

from sqlalchemy import (JSON, Boolean, DateTime, Float, Index, Integer, String, Text,
                        create_engine, delete, event, func, insert, select, text)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from .projects import search_text

#: Moderation states; curated and imported projects are published at once.
STATUSES = ("pending", "published", "rejected")
#: Ids per `IN (…)` when an import looks up which records exist (below SQLite's variable limit).
_ID_CHUNK = 500


#: Connections a process keeps open at most (more than `atlas serve --threads` ever needs).
_POOL_SIZE = 32

_DATA_VERSION = text("SELECT version FROM data_version WHERE id = 1")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
    status: Mapped[str] = mapped_column(String(12), default="published")
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
    #: Bumped by every change, so two officers acting at once cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow, index=True)


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


class GeocodeAnswer(Base):
    """Answers of an online geocoder, kept so a query is sent once (Nominatim's usage policy)."""
    __tablename__ = "geocode_cache"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@event.listens_for(Engine, "connect")
def _connection_settings(dbapi_connection, _record):
    """SQLite: WAL lets the web server read while an import writes; busy_timeout waits out short locks."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
    elif type(dbapi_connection).__module__.startswith("psycopg"):
        # The atlas's queries are short and many run at once: JIT compiling cost 18 ms of a
        # 58 ms radius search, and parallel workers only take cores from other requests.
        with dbapi_connection.cursor() as cur:
            cur.execute("SET jit = off")
            cur.execute("SET max_parallel_workers_per_gather = 0")
        dbapi_connection.commit()


class Store:
    """One database: an engine and its sessions."""

    def __init__(self, url: str):
        self.url = url
        # Connections are opened on demand and kept: with the default of 5 kept, a server's 6th
        # to 8th thread closed its connection after every request and opened a new one in the
        # next (a PostgreSQL backend start each time, in the latency tail under load).
        self.engine = create_engine(url, pool_size=_POOL_SIZE, max_overflow=_POOL_SIZE)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        #: Sessions for reads that need no transaction: on PostgreSQL no BEGIN and ROLLBACK
        #: round trips (each statement sees its own snapshot, as it does in READ COMMITTED).
        self.reader = sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                   expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def create_schema(self) -> None:
        """Bring the schema to the newest migration (Alembic); a current schema is left alone."""
        from alembic import command
        from alembic.config import Config
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def get(self, project_id: str) -> Project | None:
        with self.session() as s:
            return s.get(Project, project_id)

    def projects(self, status: str | None = "published") -> list[Project]:
        stmt = select(Project).order_by(Project.id)
        if status is not None:
            stmt = stmt.where(Project.status == status)
        with self.session() as s:
            return list(s.scalars(stmt))

    def fetch(self, stmt) -> list[tuple]:
        """Rows of a Core statement as plain tuples, read through the driver's own cursor:
        SQLAlchemy's row objects cost three times the query itself at 100,000 rows.

        Compiled with literal values, so only for statements whose values come from the code.
        """
        with self.engine.connect() as conn:
            sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(sql)
                return cursor.fetchall()
            finally:
                cursor.close()

    def data_version(self) -> int:
        """Changes whenever a published project is added, changed or removed: a key for caches
        of public figures (a new pending submission leaves them valid).

        Database triggers (migration 0004) bump the counter in the writer's own transaction, so
        every worker sees a change on its next read, whichever code path made it.
        """
        with self.engine.connect() as conn:
            return conn.execute(_DATA_VERSION).scalar_one()

    def count(self, status: str | None = "published") -> int:
        return len(self.projects(status))

    def save_all(self, records: list[dict], *, replace: bool = True) -> dict[str, int]:
        """Insert or update records in ONE transaction, so an import lands whole or not at all.

        With replace=False an existing id is left as it is (what `atlas init` needs to be
        idempotent). Returns counts of added, updated and unchanged records.
        """
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        columns = {c.key for c in Project.__table__.columns} - {"created_at", "updated_at"}
        with self.session.begin() as s, s.no_autoflush:
            # One SELECT per chunk of ids instead of a get per record; new records go in as one
            # bulk INSERT (no ORM object each: 10,000 of them cost seconds).
            ids = list(dict.fromkeys(rec["id"] for rec in records))
            stored: dict[str, Project] = {}
            for i in range(0, len(ids), _ID_CHUNK):
                chunk = ids[i:i + _ID_CHUNK]
                stored.update((p.id, p) for p in
                               s.scalars(select(Project).where(Project.id.in_(chunk))))
            new: dict[str, dict] = {}
            for rec in records:
                values = {k: v for k, v in rec.items() if k in columns}
                values["search_text"] = search_text(values)
                existing, pending = stored.get(values["id"]), new.get(values["id"])
                if existing is None and pending is None:
                    new[values["id"]] = values
                    counts["added"] += 1
                    continue
                # Stored already, or earlier in this batch.
                current = pending.get if existing is None else partial(getattr, existing)
                if not replace or all(current(k) == v for k, v in values.items()):
                    counts["unchanged"] += 1
                    continue
                if existing is None:
                    pending.update(values)
                else:
                    for k, v in values.items():
                        setattr(existing, k, v)
                counts["updated"] += 1
            if new:
                # A bulk INSERT leaves out None values and batches only neighbouring rows with
                # the same columns: sorted by their columns, 10,000 rows take a few statements.
                s.execute(insert(Project), sorted(new.values(), key=lambda v: sorted(
                    k for k, x in v.items() if x is not None)))
        return counts

    def replace_synthetic(self, records: list[dict]) -> int:
        """Drop earlier synthetic projects and bulk-insert new ones (100k in seconds, not minutes)."""
        with self.session.begin() as s:
            s.execute(delete(Project).where(Project.synthetic.is_(True)))
            if records:
                s.execute(insert(Project), records)
        self.analyze()
        return len(records)

    def analyze(self) -> None:
        """Refresh the planner's statistics after a bulk change, so it picks the right index.
        PostgreSQL also vacuums the projects: index-only scans (the box counts) need the
        visibility map that a bulk insert leaves unset until autovacuum comes by."""
        if self.is_postgres:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM (ANALYZE) projects"))
        with self.engine.begin() as conn:
            conn.execute(text("ANALYZE"))

    def cache(self) -> "GeocodeCache":
        return GeocodeCache(self)


class VersionedCache:
    """Values computed from the projects, kept until any project changes.

    Keyed by the store's data version, so every worker process sees a change on its next
    request; least recently used entries go first.
    """

    def __init__(self, size: int):
        self.size = size
        self._values: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict = {}

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def get(self, store: "Store", what: tuple, compute):
        key = (store.url, what, store.data_version())
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            building = self._building.setdefault(key, threading.Lock())
        # One thread computes a missing value; the others that ask for it meanwhile wait for it
        # instead of computing it too (after a change, every thread of a busy server would).
        with building:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = compute()
            with self._lock:
                self._values[key] = value
                self._building.pop(key, None)
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
        return value


class GeocodeCache:
    """Database-backed cache with the get/set interface the online geocoder expects."""

    def __init__(self, store: Store):
        self.store = store

    def get(self, key: str) -> dict | None:
        with self.store.session() as s:
            row = s.get(GeocodeAnswer, key)
            return None if row is None else json.loads(row.answer)

    def set(self, key: str, value: dict) -> None:
        with self.store.session.begin() as s:
            s.merge(GeocodeAnswer(key=key, answer=json.dumps(value, ensure_ascii=False)))
