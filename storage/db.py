"""Where the database is, how to connect to it, and keeping its schema at the latest migration."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from storage.errors import StorewatchError

DEFAULT_DATABASE_URL = "sqlite:///data/storewatch.db"
DATABASE_URL_ENV = "STOREWATCH_DATABASE_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SUPPORTED = "storewatch keeps its history in SQLite (a file path, or sqlite:///PATH) or PostgreSQL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"

# The password of USER:PASSWORD@ after the scheme, up to the last @ (a password may hold one), and ?password=.
_URL_PASSWORD = re.compile(r"(?<=://)([^:/@]*):.*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


def database_url(explicit: str | None = None) -> str:
    """The URL to use: `--db`, else $STOREWATCH_DATABASE_URL, else ./data/storewatch.db."""
    url = explicit or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
    if "://" not in url:  # a bare path is a SQLite file
        url = f"sqlite:///{url}"
    return url


def display_url(url: str | URL) -> str:
    """A database URL fit to print: its password, if any, replaced by ***. Every message that shows a URL uses it."""
    if isinstance(url, URL):
        url = url.render_as_string(hide_password=False)
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1:***@", url, count=1))


def parse_database_url(url: str) -> URL:
    """`url` parsed, with the driver storewatch ships; a one-line error for a malformed URL or another database."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise StorewatchError(f"not a database URL: {display_url(url)}; {SUPPORTED}") from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver we ship
    elif parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
        raise StorewatchError(f"cannot use {parsed.drivername} ({display_url(url)}): {SUPPORTED}")
    if parsed.host and "@" in parsed.host:  # USER:PA@SS@HOST: the rest of the password was taken for the host
        raise StorewatchError(f"not a database URL: {display_url(url)}: write an @ in the user or password as %40")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise StorewatchError(f"not a database URL: {display_url(url)}: port {parsed.port} is not between 1 and 65535")
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names (None for other databases and in-memory ones)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = url.database.removeprefix("file:") if url.query.get("uri") == "true" else url.database  # file:PATH?uri=true
    return None if database == ":memory:" else Path(database)


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout so readers never block a crawl."""
    parsed = parse_database_url(url)
    path = sqlite_file(parsed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorewatchError(f"cannot open database {display_url(url)}: {error.strerror}") from None
    if parsed.get_backend_name() == "sqlite":
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
    upgrade_to(engine, "head")


def upgrade_to(engine: Engine, revision: str) -> None:
    """Bring the schema to migration `revision` (tests build older databases with it)."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # A migration that alters a SQLite table rebuilds it (copy, drop, rename); with foreign keys on, the
            # drop fails once other tables refer to it. SQLite ignores this pragma inside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise StorewatchError("the schema upgrade left rows that refer to missing rows; the database was not changed")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def open_database(
    explicit_url: str | None = None, *, upgrade_schema: bool = True, create: bool = True, writable: bool = False
) -> Engine:
    """Connect, fail with one clear line if the database is unreachable, and upgrade an old or empty schema.

    `create=False` (read commands): a SQLite file that does not exist is an error, and nothing is created.
    `writable=True` (commands that record runs; with the schema upgraded): fail now, before any work, on a
    database this process cannot write -- a read-only file or folder, a read-only connection, server or table.
    """
    url = database_url(explicit_url)
    parsed = parse_database_url(url)
    path = sqlite_file(parsed)
    if path is not None and not path.exists() and not create:
        raise StorewatchError(f"no database at {path}; crawl a store or run `storewatch demo` first")
    if path is not None and writable:
        _check_sqlite_permissions(path)
    engine = create_db_engine(url)
    try:
        if upgrade_schema and not schema_is_current(engine):
            upgrade(engine)
        else:
            with engine.connect():
                pass
        if writable and upgrade_schema:
            _check_writable(engine, url)
    except DBAPIError as error:  # unreachable, refused, not a database, a damaged file, no permission
        engine.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        if parsed.password:
            reason = reason.replace(parsed.password, "***")
        raise StorewatchError(f"cannot open database {display_url(url)}: {reason}") from None
    except StorewatchError:
        engine.dispose()
        raise
    return engine


def _check_sqlite_permissions(path: Path) -> None:
    """The file, and its folder (SQLite writes PATH-wal and PATH-shm beside it), must be writable."""
    folder = path.parent
    while not folder.exists():  # a new database: the folder that will hold it is created by us
        folder = folder.parent
    if path.exists() and not os.access(path, os.W_OK):
        raise StorewatchError(f"cannot write to the database {path}: the file is read-only")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorewatchError(f"cannot write to the database {path}: its folder {folder} is read-only (SQLite keeps -wal and -shm files beside the database)")


def _check_writable(engine: Engine, url: str) -> None:
    """A write that changes nothing, rolled back: fails at once on a read-only file, connection, server or table."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:  # a crawl writing now proves the file writable: no need to wait for it
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
        try:
            connection.execute(text("DELETE FROM crawl_runs WHERE 1 = 0"))
        except DBAPIError as error:
            if "database is locked" not in str(error.orig):
                reason = str(error.orig).strip().splitlines()[0]
                raise StorewatchError(f"cannot write to the database {display_url(url)}: {reason}") from None
        finally:
            connection.rollback()
            if sqlite:
                connection.exec_driver_sql("PRAGMA busy_timeout=30000")
