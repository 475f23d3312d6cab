"""Several instances on one database (issue 20); additive only, so the previous release keeps
serving while this one migrates.

- `submission_fingerprints`: one row per recent submission, keyed by a hash of its normalised
  name, place and contact address; the database's unique key decides which of two identical
  submissions sent at the same moment is stored (`core.submissions.create`).
- `outbox`: delivery state for retries by the running service: `kind`, extra `headers`
  (JSON), `attempts`, `next_attempt_at` (due when set and not sent), `claim_token` and
  `claimed_until` (one instance sends a mail; a claim of a killed process expires),
  `gave_up_at`. Mails queued before this migration have no `next_attempt_at` and are not
  retried on their own (an officer can send them again).
- `throttles`: named shared pacing (Nominatim: at most one request per second across all
  processes), one row each, moved on by a conditional UPDATE.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submission_fingerprints",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    with op.batch_alter_table("submission_fingerprints") as batch_op:
        batch_op.create_index("ix_submission_fingerprints_project_id", ["project_id"])
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("headers", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("gave_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_outbox_next_attempt_at", ["next_attempt_at"])
    op.create_table(
        "throttles",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("throttles")
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_index("ix_outbox_next_attempt_at")
        for column in (
            "gave_up_at",
            "claimed_until",
            "claim_token",
            "next_attempt_at",
            "attempts",
            "headers",
            "kind",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("submission_fingerprints") as batch_op:
        batch_op.drop_index("ix_submission_fingerprints_project_id")
    op.drop_table("submission_fingerprints")
