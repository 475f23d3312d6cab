"""The database: projects and the geocoding cache, through SQLAlchemy 2.

The embedded default is a SQLite file in the instance folder, in WAL mode so readers never wait
for a writer; `ATLAS_DATABASE_URL` points anywhere SQLAlchemy can reach.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from sqlalchemy import create_engine, delete, event, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from ..core.text import search_text
from .cache import GeocodeCache, SharedThrottle
from .models import Project, Status
from .schema import SchemaState, migrate, state

#: Ids per `IN (…)` when an import looks up which records exist (below SQLite's variable limit).
_ID_CHUNK = 500


#: Connections a process keeps open at most (more than `atlas serve --threads` ever needs).
_POOL_SIZE = 32

_DATA_VERSION = text("SELECT version FROM data_version WHERE id = 1")


@event.listens_for(Engine, "connect")
def _connection_settings(dbapi_connection, _record):
    """SQLite: WAL lets the web server read while an import writes; busy_timeout waits out short locks."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        # Deleted rows are overwritten with zeros, not left in freed pages (a withdrawal must
        # leave nothing of the submitter in the file; see Store.after_erasure).
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()
    elif type(dbapi_connection).__module__.startswith("psycopg"):
        # The atlas's queries are short and many run at once: compiling one with JIT costs
        # more than it saves, and parallel workers only take cores from other requests.
        with dbapi_connection.cursor() as cur:
            cur.execute("SET jit = off")
            cur.execute("SET max_parallel_workers_per_gather = 0")
        dbapi_connection.commit()


def _private_sqlite_file(url: str) -> None:
    """A SQLite file (password hashes, contact data) readable by its owner only: created empty
    with mode 0600 before SQLite opens it (its -wal and -shm files take the same mode), an
    existing one tightened."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    try:
        if not path.exists():
            if path.parent.is_dir():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        elif path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:  # not ours to change: SQLite will say what is wrong, if anything
        pass


class _DryRun(Exception):
    """Leaves a dry run's transaction, which rolls it back."""


class Store:
    """One database: an engine and its sessions."""

    def __init__(self, url: str):
        self.url = url
        _private_sqlite_file(url)
        # Connections are opened on demand and kept, one for each of a server's threads: a
        # thread without a kept connection would open a new one for every request (a
        # PostgreSQL backend start each time, in the latency tail under load).
        self.engine = create_engine(url, pool_size=_POOL_SIZE, max_overflow=_POOL_SIZE)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        #: Sessions for reads that need no transaction: on PostgreSQL no BEGIN and ROLLBACK
        #: round trips (each statement sees its own snapshot, as it does in READ COMMITTED).
        self.reader = sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def create_schema(self) -> SchemaState:
        """Bring the schema to the newest migration (Alembic), one process at a time; a current
        schema, or one newer than this release, is left alone (atlas.store.schema)."""
        return migrate(self.engine)

    def schema_state(self) -> SchemaState:
        return state(self.engine)

    def get(self, project_id: str) -> Project | None:
        with self.session() as s:
            return s.get(Project, project_id)

    def projects(self, status: str | None = Status.PUBLISHED) -> list[Project]:
        stmt = select(Project).order_by(Project.id)
        if status is not None:
            stmt = stmt.where(Project.status == status)
        with self.session() as s:
            return list(s.scalars(stmt))

    def fetch(self, stmt) -> list[tuple]:
        """Rows of a Core statement as plain tuples, read through the driver's own cursor:
        building SQLAlchemy's row objects would cost more than the query on large reads.

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

    def after_erasure(self) -> None:
        """After personal data was deleted: on SQLite, copy the write-ahead log into the database
        file and truncate it, so the deleted rows' old page images do not stay in the log
        (secure_delete has zeroed them in the new ones). PostgreSQL leaves dead rows to
        (auto)vacuum; see SECURITY.md."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def data_version(self) -> int:
        """Changes whenever a published project is added, changed or removed: a key for caches
        of public figures (a new pending submission leaves them valid).

        Database triggers (migration 0004) bump the counter in the writer's own transaction, so
        every worker sees a change on its next read, whichever code path made it.
        """
        with self.engine.connect() as conn:
            return conn.execute(_DATA_VERSION).scalar_one()

    def count(self, status: str | None = Status.PUBLISHED) -> int:
        return len(self.projects(status))

    def save_all(
        self,
        records: list[dict],
        *,
        replace: bool = True,
        outcomes: dict | None = None,
        keep: tuple[str, ...] = (),
        within=None,
        dry_run: bool = False,
    ) -> dict[str, int]:
        """Insert or update records in ONE transaction, so an import lands whole or not at all.

        With replace=False an existing id is left as it is (what `atlas init` needs to be
        idempotent). Returns counts of added, updated and unchanged records. `outcomes` (a dict)
        receives id → (outcome, previous values of an updated record); keys in `keep` (an
        import's provenance) do not make a record count as changed; `within(session, counts)`
        runs in the same transaction after the writes; `dry_run` rolls everything back.
        """
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        try:
            self._save_all(records, replace, outcomes, keep, within, dry_run, counts)
        except _DryRun:
            pass
        return counts

    def _save_all(self, records, replace, outcomes, keep, within, dry_run, counts) -> None:
        columns = {c.key for c in Project.__table__.columns} - {"created_at", "updated_at"}
        with self.session.begin() as s, s.no_autoflush:
            # One SELECT per chunk of ids instead of a get per record; new records go in as one
            # bulk INSERT (no ORM object each, which would dominate a large import).
            ids = list(dict.fromkeys(rec["id"] for rec in records))
            stored: dict[str, Project] = {}
            for i in range(0, len(ids), _ID_CHUNK):
                chunk = ids[i : i + _ID_CHUNK]
                stored.update(
                    (p.id, p) for p in s.scalars(select(Project).where(Project.id.in_(chunk)))
                )
            new: dict[str, dict] = {}
            for rec in records:
                values = {k: v for k, v in rec.items() if k in columns}
                values["search_text"] = search_text(values)
                existing, pending = stored.get(values["id"]), new.get(values["id"])
                if existing is None and pending is None:
                    new[values["id"]] = values
                    counts["added"] += 1
                    if outcomes is not None:
                        outcomes[values["id"]] = ("added", None)
                    continue
                # Stored already, or earlier in this batch.
                current = pending.get if existing is None else partial(getattr, existing)
                if not replace or all(current(k) == v for k, v in values.items() if k not in keep):
                    counts["unchanged"] += 1
                    if outcomes is not None:
                        outcomes.setdefault(values["id"], ("unchanged", None))
                    continue
                if outcomes is not None and existing is not None:
                    outcomes[values["id"]] = ("updated", {k: current(k) for k in values})
                if existing is None:
                    pending.update(values)
                else:
                    for k, v in values.items():
                        setattr(existing, k, v)
                counts["updated"] += 1
            if new:
                # A bulk INSERT leaves out None values and batches only neighbouring rows with
                # the same columns: sorted by their columns, 10,000 rows take a few statements.
                s.execute(
                    insert(Project),
                    sorted(
                        new.values(), key=lambda v: sorted(k for k, x in v.items() if x is not None)
                    ),
                )
            if within is not None:
                s.flush()
                within(s, counts)
            if dry_run:
                raise _DryRun

    def replace_synthetic(self, records: list[dict]) -> int:
        """Drop earlier synthetic projects and bulk-insert new ones (no ORM object each)."""
        with self.session.begin() as s:
            s.execute(delete(Project).where(Project.synthetic.is_(True)))
            if records:
                s.execute(insert(Project), records)
        self.analyze()
        return len(records)

    def analyze(self) -> None:
        """Refresh the planner's statistics after a bulk change, so it picks the right index.
        PostgreSQL also vacuums the projects: index-only scans (the box counts) need the
        visibility map that a bulk insert leaves unset until autovacuum comes by. Only the
        projects table: a bare ANALYZE on PostgreSQL walks every schema of the database, holding
        each table's lock to the end of its transaction, and deadlocks with anyone dropping or
        migrating another schema there (seen in CI: the test workers each have their own)."""
        if self.is_postgres:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM (ANALYZE) projects"))
            return
        with self.engine.begin() as conn:
            conn.execute(text("ANALYZE"))

    def cache(self) -> GeocodeCache:
        return GeocodeCache(self)

    def throttle(self, name: str, interval: float) -> SharedThrottle:
        """Pacing of requests to an outside service shared by every process (issue 20)."""
        return SharedThrottle(self, name, interval)
