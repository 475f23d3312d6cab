"""Two-factor login with TOTP (issue 14)

- `users.totp_secret`: the base32 secret of an officer who enrolled (authenticator app);
  without one the account logs in with its password alone (unless `ATLAS_REQUIRE_TOTP`).
- `users.totp_last_step`: the time step of the last code accepted; a code of that step or an
  earlier one is refused, so a code seen over a shoulder cannot be used again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_secret")
