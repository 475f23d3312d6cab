"""Entries that stay true: confirmation, sources' dates, ended projects (issue 21)

- `projects.confirmed_at`: the last time the contact or an office said the project still runs
  (approval by an office counts).
- `projects.source_date`: the date of the document a curated record comes from ("2020" or
  "2018-11-06"); `projects.source` names the document already.
- `projects.ended_at`: when the project was reported as ended (status "ended").
- `projects.ask_consent`: the contact agreed to be asked now and then whether the project still
  runs (checkbox on the form, or the answer to the one mail an imported row gets); NULL: never
  asked, false: said no.
- `projects.consent_asked_at`, `projects.reminded_at`: when that one mail and the last reminder
  went out; 60 days after a reminder without an answer the entry is marked "not confirmed".

All nullable: an older release ignores them. An index on reminded_at finds the unanswered ones.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (
    ("confirmed_at", sa.DateTime(timezone=True)),
    ("source_date", sa.String(length=10)),
    ("ended_at", sa.DateTime(timezone=True)),
    ("ask_consent", sa.Boolean()),
    ("consent_asked_at", sa.DateTime(timezone=True)),
    ("reminded_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    op.create_index("ix_projects_reminded_at", "projects", ["reminded_at"])


def downgrade() -> None:
    op.drop_index("ix_projects_reminded_at", table_name="projects")
    with op.batch_alter_table("projects") as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
