"""PostgreSQL: the geography in the covering point index, so a radius count reads no rows

A radius count scans the circle's box on the (lat, lon, status, id) index and tests the points
near the edge with ST_DWithin on `geog`; with `geog` in the index (INCLUDE) that is an
index-only scan. SQLite has no geography: unchanged.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_projects_lat_lon", table_name="projects")
        op.execute(
            "CREATE INDEX ix_projects_lat_lon ON projects (lat, lon, status, id) INCLUDE (geog)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_projects_lat_lon", table_name="projects")
        op.create_index("ix_projects_lat_lon", "projects", ["lat", "lon", "status", "id"])
