"""Sessions that end and deletion that deletes (issue 14)

- `login_sessions`: one row per officer login; the cookie carries a random id, the row its
  hash and an absolute end. Logging out deletes the row, a new password or a removed account
  all rows of the account, so a copied cookie is refused afterwards.
- `users.last_login_at`: for `atlas users list`.
- `outbox.project_id`: the submission a mail is about, so withdrawing a submission deletes its
  mails (with the submitter's address and private link). Mails queued before this migration
  have none; they are matched by recipient and private link instead (`core.submissions`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("login_sessions") as batch_op:
        batch_op.create_index("ix_login_sessions_user_id", ["user_id"])
        batch_op.create_index("ix_login_sessions_expires_at", ["expires_at"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.String(length=120), nullable=True))
        batch_op.create_index("ix_outbox_project_id", ["project_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_index("ix_outbox_project_id")
        batch_op.drop_column("project_id")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("last_login_at")
    op.drop_table("login_sessions")
