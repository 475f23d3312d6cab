"""PostgreSQL: a point index led by a band of latitude, for radius counts

The covering (lat, lon, …) index answers a circle's box by reading its whole latitude band
across the state, most of it east or west of the box (10 km around Hannover: 16,500 entries
for 2,600 in the box). Led by a 0.05° band (`floor(lat * 20)`), the index reads, for each band
of the box, only its longitude range; a radius count names the bands it needs
(`search.postgis._lat_cells`). SQLite has its in-memory index instead: unchanged.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_projects_lat_cell ON projects "
            "((CAST(floor(lat * 20) AS INTEGER)), lon, lat, status) INCLUDE (geog)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_projects_lat_cell", table_name="projects")
