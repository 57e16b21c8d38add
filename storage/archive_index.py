"""The index of the web archive: which payloads were archived before, and which WARC files each run wrote.

The WARC files themselves are written by `webarchive/`; this module only reads and writes the two tables,
in batches: a crawl of 2,000 pages asks about its payloads a batch at a time and records them once, when
its files are closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import ArchivedCrawlRun, ArchivedPayload, ArchiveFile

# Digests per SELECT ... IN (...): well under SQLite's limit of bound parameters.
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class PayloadOrigin:
    """Where a payload was first archived: what a `revisit` record refers to, and where the reader finds it."""

    target_uri: str
    archived_at: datetime
    warc_file: str
    offset: int


@dataclass(frozen=True)
class WrittenFile:
    """A closed WARC file of a run."""

    path: str
    records: int
    bytes: int


def payload_origins(bind: Engine | Connection, digests: Iterable[str]) -> dict[str, PayloadOrigin]:
    """digest -> where it was first archived, for those of `digests` archived before (one query per 500)."""
    wanted = list(dict.fromkeys(digests))
    found: dict[str, PayloadOrigin] = {}
    with _connection(bind) as connection:
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            rows = connection.execute(
                select(ArchivedPayload.digest, ArchivedPayload.target_uri, ArchivedPayload.archived_at, ArchivedPayload.warc_file, ArchivedPayload.offset)
                .where(ArchivedPayload.digest.in_(wanted[start : start + LOOKUP_CHUNK]))
            )
            found.update({row.digest: PayloadOrigin(row.target_uri, row.archived_at, row.warc_file, row.offset) for row in rows})
    return found


def record_archive(
    engine: Engine, run_id: int, files: list[WrittenFile], payloads: dict[str, PayloadOrigin], captures: list[tuple[int, str]] | None = None
) -> None:
    """Record a run's closed WARC files and the payloads it archived first, in one transaction.

    A crawl that recorded several runs files its archive under the first (`run_id`) and names in `captures`
    each of its runs with the capture that defines its day. A payload another crawl recorded meanwhile keeps
    its first record (the insert skips it)."""
    with engine.begin() as connection:
        if captures:
            connection.execute(
                ArchivedCrawlRun.__table__.insert(),
                [{"run_id": run, "crawl_run_id": run_id, "capture": capture} for run, capture in captures],
            )
        if files:
            connection.execute(
                ArchiveFile.__table__.insert(),
                [{"path": file.path, "run_id": run_id, "number": number, "records": file.records, "bytes": file.bytes} for number, file in enumerate(files, 1)],
            )
        rows = [
            {"digest": digest, "target_uri": origin.target_uri, "archived_at": origin.archived_at, "warc_file": origin.warc_file, "offset": origin.offset, "run_id": run_id}
            for digest, origin in payloads.items()
        ]
        if rows:
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            connection.execute(dialect.insert(ArchivedPayload).on_conflict_do_nothing(index_elements=["digest"]), rows)


def run_archive_files(bind: Engine | Connection, run_id: int) -> list[WrittenFile]:
    """The WARC files that hold run `run_id`'s answers, in the order they were written (empty: the run was not
    archived): its own, or those of the crawl that recorded it with others (see crawl_capture)."""
    crawl = crawl_capture(bind, run_id)
    owner = crawl.crawl_run_id if crawl else run_id
    with _connection(bind) as connection:
        rows = connection.execute(select(ArchiveFile).where(ArchiveFile.run_id == owner).order_by(ArchiveFile.number))
        return [WrittenFile(row.path, row.records, row.bytes) for row in rows]


@dataclass(frozen=True)
class CrawlCapture:
    """Where a run recorded by a crawl of several runs sits in that crawl."""

    crawl_run_id: int  # the crawl's first run: its archive's files are filed under it
    capture: str  # the capture that defines the run's day


def crawl_capture(bind: Engine | Connection, run_id: int) -> CrawlCapture | None:
    """The crawl and capture of run `run_id` when a crawl of several runs (a backfill) recorded it; else None."""
    with _connection(bind) as connection:
        row = connection.execute(
            select(ArchivedCrawlRun.crawl_run_id, ArchivedCrawlRun.capture).where(ArchivedCrawlRun.run_id == run_id)
        ).first()
    return CrawlCapture(row.crawl_run_id, row.capture) if row else None


class _connection:
    """A connection for a read: the caller's, or a new one from an engine."""

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind
        self.own: Connection | None = None

    def __enter__(self) -> Connection:
        if isinstance(self.bind, Connection):
            return self.bind
        self.own = self.bind.connect()
        return self.own

    def __exit__(self, *exc_info) -> None:
        if self.own is not None:
            self.own.close()
