"""A data version kept by triggers: one counter that every change to a published project bumps

Caches of public figures are keyed by it. Counting the published projects on every request
grows with the store; the counter is one primary-key read.
Triggers in the database bump it in the writer's own transaction, so no code path (ORM, import,
raw SQL, another worker) can change a published project without changing the version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: (event, condition on the changed row) for the published state before or after.
_EVENTS = {
    "insert": "NEW.status = 'published'",
    "update": "OLD.status = 'published' OR NEW.status = 'published'",
    "delete": "OLD.status = 'published'",
}
#: PostgreSQL bumps once per transaction: a bulk import of 100,000 rows would otherwise leave
#: 100,000 dead versions of the counter row. The flag is local to the transaction (and to a
#: savepoint, so a rolled-back bump is bumped again).
_PG_FUNCTION = """
CREATE FUNCTION bump_data_version() RETURNS trigger AS $$
BEGIN
  IF current_setting('atlas.data_version_bumped', true) IS DISTINCT FROM 'yes' THEN
    EXECUTE format('UPDATE %I.data_version SET version = version + 1 WHERE id = 1',
                   TG_TABLE_SCHEMA);
    PERFORM set_config('atlas.data_version_bumped', 'yes', true);
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql"""


def _when(condition: str, postgres: bool) -> str:
    return f"WHEN ({condition})" if postgres else f"WHEN {condition}"


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO data_version (id, version) VALUES (1, 1)")
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(_PG_FUNCTION)
    for event, condition in _EVENTS.items():
        action = (
            "EXECUTE FUNCTION bump_data_version()"
            if postgres
            else "BEGIN UPDATE data_version SET version = version + 1 WHERE id = 1; END"
        )
        op.execute(
            f"CREATE TRIGGER projects_data_version_{event} AFTER {event.upper()} "
            f"ON projects FOR EACH ROW {_when(condition, postgres)} {action}"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in _EVENTS:
        op.execute(
            f"DROP TRIGGER IF EXISTS projects_data_version_{event}"
            + (" ON projects" if postgres else "")
        )
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS bump_data_version()")
    op.drop_table("data_version")
