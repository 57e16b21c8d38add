"""storewatch's locks: one scheduler per database, one writer per store; held for the holder's life, gone with it.

PostgreSQL: a session advisory lock, keyed by the lock's name, on a connection the holder keeps open (the
server drops it with the connection). A store writer records its run on that very connection, so a writer
whose lock was taken from it (its connection terminated) cannot commit either.

SQLite: an open-file-description lock (Linux `F_OFD_SETLK`) on one byte of the database file itself, far
beyond the bytes SQLite locks. It belongs to the inode, so a hard link to the database or a deleted side file
cannot split it, and the kernel drops it when the holder dies. (Without OFD locks -- not Linux -- a `flock`
on a file beside the database stands in, with those two weaknesses.)

Who holds a lock is written to `lock_holders` right after it is taken; that row is only read while the lock
is held, so a stale row never names a holder that is gone.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
import threading
import zlib
from contextlib import nullcontext
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select, text, update

from storage.db import sqlite_file
from storage.errors import StorewatchError
from storage.models import LockHolder
from storage.timeutil import isoformat, utcnow

holders = LockHolder.__table__

SCHEDULER = "scheduler"
# pg_try_advisory_lock(int, int) keys: classid 'swat' for the scheduler (objid 1), 'swst' for store writers.
SCHEDULER_KEY = (0x73776174, 1)
STORE_CLASS = 0x73777374
# SQLite file offsets: SQLite locks bytes 2**30 to 2**30 + 511; these lie far beyond (OFD locks on bytes past
# the end of the file are fine and never touch its contents).
SCHEDULER_OFFSET = 2**62 - 1
STORE_OFFSET = 2**62
_OFD = getattr(fcntl, "F_OFD_SETLK", None) is not None
# "<store> is being written by ..." -- the scheduler recognises a crawl that refused because of this lock.
BUSY = "is being written by"


class LockBusy(StorewatchError):
    """Another live process holds the lock."""


def store_lock_name(store: str) -> str:
    return f"store:{store}"


def this_host() -> str:
    return socket.gethostname()


def _signed32(value: int) -> int:
    return value - 2**32 if value >= 2**31 else value


def _pg_key(name: str) -> tuple[int, int]:
    if name == SCHEDULER:
        return SCHEDULER_KEY
    return STORE_CLASS, _signed32(zlib.crc32(name.encode()))


def _file_offset(name: str) -> int:
    return SCHEDULER_OFFSET if name == SCHEDULER else STORE_OFFSET + zlib.crc32(name.encode())


class DatabaseLock:
    """An exclusive, named lock on one database; `release()` (or the holder's death) gives it up."""

    def __init__(self, engine: Engine, name: str, *, connection: Connection | None = None, file_lock: tuple | None = None) -> None:
        self.engine = engine
        self.name = name
        self.connection = connection  # PostgreSQL: the session holding the lock
        self._file_lock = file_lock  # SQLite: what holds the lock on the file
        self._inode = _inode(database_file(engine)) if file_lock is not None else None
        self.run_ids: list[int] = []  # the runs recorded under this lock, oldest first
        self._guard = threading.Lock()  # the scheduler checks its lock from its heartbeat and its job threads

    @classmethod
    def acquire(cls, engine: Engine, name: str, *, what: str) -> "DatabaseLock":
        """Take the lock now or fail with one line naming its holder; `what` says what holds it, for messages."""
        backend = engine.dialect.name
        if backend == "postgresql":
            lock = cls._acquire_advisory(engine, name, what)
        elif backend == "sqlite":
            lock = cls._acquire_file(engine, name, what)
        else:
            raise StorewatchError(f"storewatch runs on SQLite or PostgreSQL, not {backend}")
        lock._write_holder()
        return lock

    @classmethod
    def _acquire_advisory(cls, engine: Engine, name: str, what: str) -> "DatabaseLock":
        connection = engine.connect()
        try:
            connection.execute(text("SELECT set_config('application_name', :name, false)"), {"name": f"storewatch {name}"[:63]})
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), dict(zip("ab", _pg_key(name)))).scalar()
            connection.commit()
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            raise LockBusy(busy_message(engine, name, what))
        return cls(engine, name, connection=connection)

    @classmethod
    def _acquire_file(cls, engine: Engine, name: str, what: str) -> "DatabaseLock":
        path = database_file(engine)
        if path is None:  # an in-memory database lives and dies with this process: nothing to share
            return cls(engine, name)
        handle = _try_file_lock(path, name)
        if handle is None:
            raise LockBusy(busy_message(engine, name, what))
        return cls(engine, name, file_lock=handle)

    def still_held(self) -> bool:
        """Whether this process still holds the lock (PostgreSQL: its session lives and holds it; SQLite: the
        database file is still the one locked, not deleted or replaced)."""
        if self.connection is not None:
            with self._guard:
                return self._advisory_lock_held()
        if self._file_lock is not None:
            return _inode(database_file(self.engine)) == self._inode
        return True

    def _advisory_lock_held(self) -> bool:
        try:
            inside = self.connection.in_transaction()  # a writer asks from inside its final transaction
            held = _advisory_holders(self.connection, self.name, this_session=True)
            if not inside:
                self.connection.commit()
            return bool(held)
        except Exception:  # noqa: BLE001 -- a broken connection is a lost lock
            return False

    def note_run(self, run_id: int) -> None:
        """Name the run this lock's holder is recording, for the messages of those who have to wait."""
        self.run_ids.append(run_id)
        with self._holder_connection() as connection, connection.begin():
            connection.execute(update(holders).where(holders.c.name == self.name).values(run_id=run_id))

    def release(self) -> None:
        if self.connection is not None:
            # The pool would keep the session -- and its advisory lock -- alive: unlock first, or drop the session.
            try:
                if self.connection.in_transaction():
                    self.connection.rollback()
                self.connection.execute(text("SELECT pg_advisory_unlock(:a, :b)"), dict(zip("ab", _pg_key(self.name))))
                self.connection.commit()
            except Exception:  # noqa: BLE001 -- a broken session holds nothing any more
                self.connection.invalidate()
            self.connection.close()
            self.connection = None
        if self._file_lock is not None:
            _release_file_lock(self._file_lock, self.name)
            self._file_lock = None

    def __enter__(self) -> "DatabaseLock":
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()

    def _write_holder(self) -> None:
        row = {"name": self.name, "pid": os.getpid(), "host": this_host(), "run_id": None, "acquired_at": utcnow()}
        with self._holder_connection() as connection, connection.begin():
            connection.execute(delete(holders).where(holders.c.name == self.name))
            connection.execute(insert(holders).values(**row))

    def _holder_connection(self):
        """The lock's own session (left open: it holds the lock), else a connection of its own."""
        if self.connection is not None:
            return nullcontext(self.connection)
        return self.engine.connect()


def acquire_scheduler_lock(engine: Engine) -> DatabaseLock:
    return DatabaseLock.acquire(engine, SCHEDULER, what="scheduler")


def acquire_store_lock(engine: Engine, store: str) -> DatabaseLock:
    """The right to write `store`'s history, or LockBusy naming the process that has it."""
    return DatabaseLock.acquire(engine, store_lock_name(store), what=store)


def holder(engine: Engine, name: str) -> str | None:
    """Who holds lock `name` ("pid N on HOST, run R, since T"), or None when nobody does."""
    if not _is_held(engine, name):
        return None
    with engine.connect() as connection:
        row = connection.execute(select(holders).where(holders.c.name == name)).mappings().first()
    if row is None:
        return "holder unknown"
    described = f"pid {row['pid']} on {row['host']}"
    if row["run_id"] is not None:
        described += f", run {row['run_id']}"
    return described + f", since {isoformat(row['acquired_at'])}"


def scheduler_holder(engine: Engine) -> str | None:
    return holder(engine, SCHEDULER)


def store_writer(engine: Engine, store: str) -> str | None:
    """Who is writing `store` right now, or None."""
    return holder(engine, store_lock_name(store))


def end_writer_session(engine: Engine, store: str, run_id: int) -> bool:
    """End the database session through which `store` is being written for run `run_id` (PostgreSQL), so that
    the lock is free and the crawl holding it can record nothing more: its writer finds its lock lost. For a crawl
    the scheduler gave up on (its Scrapyd node lost), should that node come back. False when no such session
    (SQLite: crawls on other machines cannot write a SQLite file)."""
    if engine.dialect.name != "postgresql":
        return False
    name = store_lock_name(store)
    with engine.begin() as connection:
        if connection.execute(select(holders.c.run_id).where(holders.c.name == name)).scalar() != run_id:
            return False  # someone else holds it now (or nobody): not the given-up crawl's session
        a, b = (key % 2**32 for key in _pg_key(name))
        ended = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid::bigint = :a AND objid::bigint = :b AND objsubid = 2 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"a": a, "b": b},
        ).scalar()
    return bool(ended)


def busy_message(engine: Engine, name: str, what: str) -> str:
    described = holder(engine, name) or "a process that just finished"
    if name == SCHEDULER:
        return f"another storewatch scheduler is running on this database ({described}); only one may run"
    return f"{what} {BUSY} another storewatch process ({described}); one writer per store -- try again when it is done"


def _is_held(engine: Engine, name: str) -> bool:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            return bool(_advisory_holders(connection, name, this_session=False))
    path = database_file(engine)
    return path is not None and path.exists() and _file_lock_held(path, name)


def _advisory_holders(connection: Connection, name: str, *, this_session: bool) -> int:
    """How many sessions hold advisory lock `name` in this database (only this session, if `this_session`)."""
    whose = "pid = pg_backend_pid()" if this_session else "database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid::bigint = :a "
        f"AND objid::bigint = :b AND objsubid = 2 AND {whose}"
    )
    a, b = (key % 2**32 for key in _pg_key(name))  # pg_locks shows the keys as unsigned oids
    return connection.execute(query, {"a": a, "b": b}).scalar()


def database_file(engine: Engine) -> Path | None:
    """The SQLite database file, absolute; None for an in-memory database."""
    path = sqlite_file(engine.url)
    return path.resolve() if path is not None else None


# -- locks on the SQLite file ------------------------------------------------------------------------------
#
# Closing any descriptor of a file drops every classic POSIX lock the process holds on it -- SQLite's own
# locks included, mid-transaction. So the database file is opened once per process for locking and never
# closed: each lock is taken and given back on that one open file description (F_OFD_SETLK, F_UNLCK), and a
# probe through it sees only other descriptions' locks, i.e. other processes'. Locks this process holds are
# tracked here, so a second holder in the same process is refused too.

_descriptors: dict[tuple[int, int], int] = {}  # (inode, device) -> the open description used for locking
_held_here: set[tuple[tuple[int, int], str]] = set()


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_dev


def _flock_struct(kind: int, offset: int) -> bytes:
    # struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (0 for OFD)
    return struct.pack("hh4xqqi4x", kind, os.SEEK_SET, offset, 1, 0)


def _descriptor(path: Path) -> tuple[tuple[int, int], int]:
    inode = _inode(path)
    if inode is None:
        raise StorewatchError(f"cannot lock database {path}: no such file")
    if inode not in _descriptors:
        try:
            _descriptors[inode] = os.open(path, os.O_RDWR)
        except OSError as error:
            raise StorewatchError(f"cannot lock database {path}: {error.strerror}") from None
    return inode, _descriptors[inode]


def _ofd(fd: int, command: int, kind: int, name: str) -> bytes:
    return fcntl.fcntl(fd, command, _flock_struct(kind, _file_offset(name)))


def _try_file_lock(path: Path, name: str) -> tuple | None:
    """A handle holding the lock, or None when another holder has it."""
    if not _OFD:
        return _try_side_file_lock(path, name)
    inode, fd = _descriptor(path)
    if (inode, name) in _held_here:
        return None
    try:
        _ofd(fd, fcntl.F_OFD_SETLK, fcntl.F_WRLCK, name)
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EACCES):
            return None
        raise StorewatchError(f"cannot lock database {path}: {error.strerror}") from None
    _held_here.add((inode, name))
    return ("ofd", inode, fd)


def _release_file_lock(handle: tuple, name: str) -> None:
    if handle[0] == "ofd":
        _, inode, fd = handle
        _ofd(fd, fcntl.F_OFD_SETLK, fcntl.F_UNLCK, name)
        _held_here.discard((inode, name))
    else:
        os.close(handle[1])  # a side file: nothing of SQLite's to lose


def _file_lock_held(path: Path, name: str) -> bool:
    if not _OFD:
        return _side_file_lock_held(path, name)
    inode, fd = _descriptor(path)
    if (inode, name) in _held_here:
        return True
    answer = _ofd(fd, fcntl.F_OFD_GETLK, fcntl.F_WRLCK, name)
    return struct.unpack("hh4xqqi4x", answer)[0] != fcntl.F_UNLCK


def _side_file(path: Path, name: str) -> Path:
    return path.with_name(f"{path.name}.{name.replace(':', '-')}.lock")


def _try_side_file_lock(path: Path, name: str) -> tuple | None:
    fd = os.open(_side_file(path, name), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return ("flock", fd)


def _side_file_lock_held(path: Path, name: str) -> bool:
    fd = os.open(_side_file(path, name), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
