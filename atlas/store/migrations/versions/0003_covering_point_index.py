"""One covering (lat, lon, status, id) index instead of separate lat and lon indexes

SQLite filtered boxes on the lon index alone and read every row of the state's longitude band;
the covering index answers box and radius prefilters from the index alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_projects_lat", table_name="projects")
    op.drop_index("ix_projects_lon", table_name="projects")
    op.create_index("ix_projects_lat_lon", "projects", ["lat", "lon", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_projects_lat_lon", table_name="projects")
    op.create_index("ix_projects_lon", "projects", ["lon"])
    op.create_index("ix_projects_lat", "projects", ["lat"])
