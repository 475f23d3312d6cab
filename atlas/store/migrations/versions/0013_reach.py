"""Reaching people where they are (issue 22)

- `unmet_demand`: how many nearby searches found nothing, per district, field and month; a
  counter only (no query text, no address, nothing per person).
- `alert_subscriptions`: e-mail alerts without an account: the address, the filters of the
  search, daily or weekly, the interface language; unconfirmed rows are deleted after 7 days.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unmet_demand",
        sa.Column("district_code", sa.String(length=5), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("district_code", "field", "month"),
    )
    op.create_table(
        "alert_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("frequency", sa.String(length=10), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("alert_subscriptions") as batch_op:
        batch_op.create_index("ix_alert_subscriptions_email", ["email"])


def downgrade() -> None:
    op.drop_table("alert_subscriptions")
    op.drop_table("unmet_demand")
