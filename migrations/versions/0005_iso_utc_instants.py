"""ISO 8601 UTC instants: every timestamp column holds an instant in UTC, written the same way everywhere

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

- PostgreSQL: the columns become `timestamp with time zone` (the values were UTC without a zone).
- SQLite: the column type stays DATETIME; the text `2019-03-01 00:00:00.000000` becomes
  `2019-03-01T00:00:00.000000Z` -- fixed width, so that comparing the text still compares the instants.

The earlier migrations create these columns as plain `sa.DateTime()`, as they did when they were written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.errors import StorewatchError

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

INSTANT_COLUMNS = {
    'crawl_runs': {'observed_at': False, 'started_at': False, 'finished_at': True},  # column -> nullable
    'model_versions': {'valid_from': False, 'valid_to': True},
    'lock_holders': {'acquired_at': False},
}
_DIGITS = '[0-9]'
OLD_SQLITE_TEXT = '????-??-?? ??:??:??*'  # SQLAlchemy's default, with or without microseconds
NEW_SQLITE_TEXT = f"{_DIGITS * 4}-{_DIGITS * 2}-{_DIGITS * 2}T{_DIGITS * 2}:{_DIGITS * 2}:{_DIGITS * 2}.{_DIGITS * 6}Z"


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _alter_postgresql(sa.DateTime(timezone=True), sa.DateTime())
        return
    # Both columns of a row in one statement: the CHECK (valid_to >= valid_from) never sees the two formats mixed.
    for table, columns in INSTANT_COLUMNS.items():
        assignments = ', '.join(
            f"{column} = CASE WHEN {column} GLOB '{OLD_SQLITE_TEXT}' THEN substr({column}, 1, 10) || 'T' || "
            f"substr({column}, 12, 8) || '.' || substr(substr({column}, 21) || '000000', 1, 6) || 'Z' ELSE {column} END"
            for column in columns
        )
        op.execute(f'UPDATE {table} SET {assignments}')
        _check_sqlite_text(table, columns)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _alter_postgresql(sa.DateTime(), sa.DateTime(timezone=True))
        return
    for table, columns in INSTANT_COLUMNS.items():
        assignments = ', '.join(f"{column} = substr({column}, 1, 10) || ' ' || substr({column}, 12, 15)" for column in columns)
        op.execute(f'UPDATE {table} SET {assignments}')


def _alter_postgresql(new_type: sa.DateTime, old_type: sa.DateTime) -> None:
    """`AT TIME ZONE 'UTC'` reads a zoneless value as UTC, and writes a zoned one as UTC without the zone."""
    for table, columns in INSTANT_COLUMNS.items():
        for column, nullable in columns.items():
            op.alter_column(
                table, column, type_=new_type, existing_type=old_type, existing_nullable=nullable,
                postgresql_using=f"{column} AT TIME ZONE 'UTC'",
            )


def _check_sqlite_text(table: str, columns: dict[str, bool]) -> None:
    """Stop (the upgrade is rolled back) on a value that was not written as SQLAlchemy writes a datetime."""
    connection = op.get_bind()
    for column in columns:
        odd = connection.execute(
            sa.text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL AND {column} NOT GLOB :pattern LIMIT 1"),
            {'pattern': NEW_SQLITE_TEXT},
        ).scalar()
        if odd is not None:
            raise StorewatchError(
                f"{table}.{column} holds {odd!r}, which is not a UTC timestamp as storewatch writes it; "
                f"the database was not changed"
            )
