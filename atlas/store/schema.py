"""Schema migrations that are safe with many instances on one database (issue 20).

Every instance brings the schema to its newest migration when it starts, one at a time: on
PostgreSQL under a transaction-scoped advisory lock (the others wait, then find the schema
current and change nothing), on SQLite under an exclusive file lock next to the database file.
Migrations are additive (new tables, nullable columns), so the previous release keeps serving
while the next one migrates. An instance that finds a revision it does not know (a newer
release migrated) leaves the schema alone and serves; see the README's "Running several
instances".
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url

log = logging.getLogger("atlas.schema")

#: The advisory lock's key on PostgreSQL (any constant the atlas alone uses: "atlas" in ASCII).
ADVISORY_KEY = 0x61746C6173
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclasses.dataclass(frozen=True)
class SchemaState:
    #: The database's revision; None for an empty database.
    revision: str | None
    #: The newest revision this release knows.
    head: str
    #: "current", "older" (this release would migrate it), "newer" (a later release migrated
    #: it; this one serves without changing it) or "empty".
    status: str

    @property
    def usable(self) -> bool:
        return self.status in ("current", "newer")


def _config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest revision this release knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def _state(connection: Connection) -> SchemaState:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    script = ScriptDirectory.from_config(_config())
    head = script.get_current_head()
    revisions = MigrationContext.configure(connection).get_current_heads()
    if not revisions:
        return SchemaState(None, head, "empty")
    revision = revisions[0]
    try:
        known = all(script.get_revision(r) is not None for r in revisions)
    except (CommandError, KeyError):
        known = False
    if not known:
        return SchemaState(revision, head, "newer")
    return SchemaState(revision, head, "current" if head in revisions else "older")


def state(engine: Engine) -> SchemaState:
    """Where the database's schema stands against this release (reads only)."""
    with engine.connect() as connection:
        return _state(connection)


@contextlib.contextmanager
def _file_lock(engine: Engine):
    """SQLite: one migrating process at a time, by an exclusive lock on a file beside the
    database (released by the kernel if the process dies)."""
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def migrate(engine: Engine) -> SchemaState:
    """Bring the schema to this release's newest migration, one process at a time; a schema
    newer than this release is left alone (logged). Returns the state after."""
    from alembic import command

    postgres = engine.dialect.name == "postgresql"
    lock = contextlib.nullcontext() if postgres else _file_lock(engine)
    with lock, engine.begin() as connection:
        if postgres:
            # Held to the end of this transaction, which also holds the migration's DDL.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_KEY})
        before = _state(connection)
        if before.status == "newer":
            log.warning(
                "The database's schema (revision %s) is newer than this release knows (%s): "
                "serving without migrating (a newer release has upgraded it).",
                before.revision,
                before.head,
            )
            return before
        if before.status == "current":
            return before
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return SchemaState(before.head, before.head, "current")
