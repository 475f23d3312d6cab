"""PostGIS point columns on PostgreSQL (SQLite keeps its lat/lon indexes)

Two generated columns from lat/lon, each with a GiST index: `geom` (geometry, 4326) for boxes,
`geog` (geography) for metre radii, KNN ordering and geodesic distances.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography, Geometry

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.add_column(
        "projects",
        sa.Column(
            "geom",
            Geometry("POINT", srid=4326, spatial_index=False),
            sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)", persisted=True),
        ),
    )
    op.add_column(
        "projects",
        sa.Column(
            "geog",
            Geography("POINT", srid=4326, spatial_index=False),
            sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography", persisted=True),
        ),
    )
    op.create_index("ix_projects_geom", "projects", ["geom"], postgresql_using="gist")
    op.create_index("ix_projects_geog", "projects", ["geog"], postgresql_using="gist")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_projects_geog", table_name="projects")
    op.drop_index("ix_projects_geom", table_name="projects")
    op.drop_column("projects", "geog")
    op.drop_column("projects", "geom")
