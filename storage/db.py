"""Where the database is, how to connect to it, and keeping its schema at the latest migration."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from storage.errors import StorewatchError

DEFAULT_DATABASE_URL = "sqlite:///data/storewatch.db"
DATABASE_URL_ENV = "STOREWATCH_DATABASE_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def database_url(explicit: str | None = None) -> str:
    """The URL to use: `--db`, else $STOREWATCH_DATABASE_URL, else ./data/storewatch.db."""
    url = explicit or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
    if "://" not in url:  # a bare path is a SQLite file
        url = f"sqlite:///{url}"
    return url


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout so readers never block a crawl."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorewatchError(f"not a database URL: {url!r}") from None
    if parsed.drivername == "postgresql":  # psycopg 3 is the driver we ship
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StorewatchError(f"cannot open database {parsed.database}: {error.strerror}") from None
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(url: str):
    from alembic.config import Config  # Alembic is imported only when a migration runs: it costs ~0.2 s

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*['\"]([^'\"]*)['\"]", re.MULTILINE)


@cache
def head_revision() -> str:
    """The newest migration's revision id, read from the migration files without importing Alembic.

    Every command checks the schema is current; tests/test_migrations.py checks this agrees with Alembic.
    """
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION.findall(path.read_text()))
        revisions.add(found["revision"])
        parents.add(found.get("down_revision"))
    heads = revisions - parents
    if len(heads) != 1:
        raise StorewatchError(f"the migrations have {len(heads)} heads, not one: {sorted(heads)}")
    return heads.pop()


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return current == [head_revision()]


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest migration (creates it in an empty database)."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(explicit_url: str | None = None, *, upgrade_schema: bool = True) -> Engine:
    """Connect, fail with one clear line if the database is unreachable, and upgrade an old or empty schema."""
    url = database_url(explicit_url)
    engine = create_db_engine(url)
    try:
        if upgrade_schema and not schema_is_current(engine):
            upgrade(engine)
        else:
            with engine.connect():
                pass
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise StorewatchError(f"cannot open database {engine.url.render_as_string(hide_password=True)}: {reason}") from None
    return engine
