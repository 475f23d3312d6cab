"""Imports of the offices' lists (issue 18)

- `imports`: one row per import of a list (file name, sheet, the office's region, who, when,
  the counts, and what the import changed, so it can be undone as a whole; `undone_at`).
- `pending_imports`: a list read and checked in the browser but not imported yet (its rows and
  their geocoding, kept between the preview and the import instead of in the session).
- `projects.import_id`, `projects.import_row`: the import a record came from and its row there
  (provenance: "Quelle: Liste des ArL Lüneburg, 2026-12"). Both nullable: curated and submitted
  records have none.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("region", sa.String(length=20), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sheet", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "pending_imports",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False, index=True),
        sa.Column("region", sa.String(length=20), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sheet", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("unknown_columns", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
    )
    with op.batch_alter_table("projects") as batch_op:
        batch_op.add_column(sa.Column("import_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("import_row", sa.Integer(), nullable=True))
        batch_op.create_index("ix_projects_import_id", ["import_id"])


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_index("ix_projects_import_id")
        batch_op.drop_column("import_row")
        batch_op.drop_column("import_id")
    op.drop_table("pending_imports")
    op.drop_table("imports")
