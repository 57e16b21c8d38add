"""The scheduler's single-instance lock on one database: held for the holder's lifetime, released when it dies.

PostgreSQL: a session advisory lock on a connection the holder keeps open (the server drops it with the
connection). SQLite: an `fcntl` lock on a file beside the database (the kernel drops it with the process).
Either way a killed scheduler leaves no stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from storage.errors import StorewatchError

# pg_try_advisory_lock(int, int): 'swat' and 1, shown in pg_locks as classid/objid with objsubid 2.
ADVISORY_KEY = (0x73776174, 1)
LOCK_FILE_SUFFIX = ".scheduler.lock"


def holder_description() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


class InstanceLock:
    """Proof that this process is the one scheduler of a database; `release()` (or exiting) gives it up."""

    def __init__(self, engine: Engine, connection: Connection | None = None, fd: int | None = None) -> None:
        self.engine = engine
        self._connection = connection
        self._fd = fd

    @classmethod
    def acquire(cls, engine: Engine) -> "InstanceLock":
        """Take the lock, or fail with one line naming the process that holds it."""
        backend = engine.dialect.name
        if backend == "postgresql":
            return cls._acquire_advisory(engine)
        if backend == "sqlite":
            return cls._acquire_file(engine)
        raise StorewatchError(f"the scheduler runs on SQLite or PostgreSQL, not {backend}")

    @classmethod
    def _acquire_advisory(cls, engine: Engine) -> "InstanceLock":
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("SELECT set_config('application_name', :name, false)"), {"name": f"storewatch scheduler {holder_description()}"})
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), dict(zip("ab", ADVISORY_KEY))).scalar()
        if not taken:
            holder = current_holder(engine)
            connection.close()
            raise StorewatchError(f"another storewatch scheduler is running on this database ({holder or 'holder unknown'}); only one may run")
        return cls(engine, connection=connection)

    @classmethod
    def _acquire_file(cls, engine: Engine) -> "InstanceLock":
        path = lock_file(engine)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            os.close(fd)
            raise StorewatchError(
                f"another storewatch scheduler is running on this database ({holder or 'holder unknown'}, lock {path}); only one may run"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder_description().encode(), 0)
        return cls(engine, fd=fd)

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()  # the advisory lock goes with the session
            self._connection = None
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> "InstanceLock":
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def lock_file(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise StorewatchError("the scheduler needs a database file or server: an in-memory SQLite database cannot be shared with crawl processes")
    return Path(database + LOCK_FILE_SUFFIX)


def current_holder(engine: Engine) -> str | None:
    """Who holds the lock ("pid N on HOST"), or None when no scheduler runs on this database."""
    if engine.dialect.name == "postgresql":
        query = text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :a AND l.objid = :b AND l.objsubid = 2 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"  # locks are per database
        )
        with engine.connect() as connection:
            name = connection.execute(query, dict(zip("ab", ADVISORY_KEY))).scalar()
        return name.removeprefix("storewatch scheduler ") if name is not None else None
    path = lock_file(engine)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 200, 0).decode(errors="replace").strip() or "holder unknown"
    finally:
        os.close(fd)
    return None
