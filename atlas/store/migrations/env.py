"""Alembic environment: migrations run on the connection the store hands over (`atlas migrate`)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from atlas import config as settings
from atlas.store import Base

config = context.config


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:  # the plain `alembic` command, e.g. for `alembic revision --autogenerate`
    url = (
        os.environ.get(settings.PREFIX + "DATABASE_URL")
        or settings.defaults(settings.instance_path())["DATABASE_URL"]
    )
    with create_engine(url).begin() as conn:
        run(conn)
