"""Alembic environment: metadata from storage.models, the URL from storewatch's own settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from storage.db import create_db_engine, database_url
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def include_name(name, type_, parent_names) -> bool:
    """Keep tables storewatch does not own (APScheduler's job store) out of autogenerate and `alembic check`."""
    if type_ == "table":
        return name in target_metadata.tables
    return True


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or database_url()
    engine = create_db_engine(url)
    with engine.begin() as connection:
        run_with(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("storewatch migrations run online only: use `storewatch db upgrade`")
run_migrations_online()
