"""Languages (issue 16)

- `projects.language`: the interface language a submitter used the form in ("de", "ar" …), so
  every later mail to them is in that language; empty for imported projects and for
  submissions made before this revision (they get German).
- `projects.languages`: ISO 639-1 codes of the languages the initiative works in with people
  (a JSON list, like `fields`); empty until someone says.
- `projects.descriptions`: short descriptions in other languages than German, {"ar": "…"}; the
  project page shows the reader's one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("languages", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("descriptions", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("descriptions")
        batch_op.drop_column("languages")
        batch_op.drop_column("language")
