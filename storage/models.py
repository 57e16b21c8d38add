"""The versioned tables: crawl runs, model identities and model versions (slowly changing dimension, type 2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import hashlib

from sqlalchemy import JSON, BigInteger, CheckConstraint, Double, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.timeutil import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES = ("running", "complete", "suspect", "partial", "failed")
RECORDED_STATUSES = ("complete", "suspect", "partial")  # runs that wrote versions (a failed run writes none)
CHANGE_KINDS = ("added", "changed", "returned")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CrawlRun(Base):
    """One crawl of one store, observed at one instant (the snapshot's date, or now for a live crawl)."""

    __tablename__ = "crawl_runs"
    __table_args__ = (Index(None, "store", "observed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="The run's number (`run:N` in `storewatch diff`)")
    store: Mapped[str] = mapped_column(String(64), doc="The store crawled (see `storewatch stores`)")
    observed_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), doc="The instant the run describes, UTC: the snapshot's date, or the start of a live crawl"
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), doc="When the crawl process started, UTC")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), doc="When the run was recorded, UTC (empty while running)")
    status: Mapped[str] = mapped_column(
        String(16), default="running", doc="running, complete, suspect (held, see `storewatch accept`), partial or failed"
    )
    models_seen: Mapped[int] = mapped_column(Integer, default=0, doc="Models the store listed")
    added: Mapped[int] = mapped_column(Integer, default=0, doc="Models seen for the first time")
    changed: Mapped[int] = mapped_column(Integer, default=0, doc="Models whose record changed")
    removed: Mapped[int] = mapped_column(Integer, default=0, doc="Models removed as of this run (confirmed absences included)")
    returned: Mapped[int] = mapped_column(Integer, default=0, doc="Models back after an absence")
    errors: Mapped[int] = mapped_column(Integer, default=0, doc="Requests or pages that failed")
    absent: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", doc="Models missing from this complete run whose removal awaits confirmation"
    )
    spider_version: Mapped[str] = mapped_column(String(64), doc="The spider's version, `store/N`")
    source: Mapped[str | None] = mapped_column(Text, doc="Which snapshot (replay:DATE and its origin) or live source the pages came from")
    error_summary: Mapped[str | None] = mapped_column(Text, doc="Why the run failed or was not believed, and what it holds")
    stats: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, doc="The crawl's statistics (JSON): requests, responses by status, bytes, items, failures"
    )
    # The crawl process that records the run: how a run left `running` by a dead process is told apart.
    pid: Mapped[int | None] = mapped_column(Integer, doc="Process id of the crawl that recorded the run")
    host: Mapped[str | None] = mapped_column(String(255), doc="Host name of the crawl that recorded the run")
    # A crawl sent to a Scrapyd node (`runner = "scrapyd"`): which node, and its job there; empty for a local crawl.
    node: Mapped[str | None] = mapped_column(String(255), doc="The Scrapyd node that ran the crawl (its URL); empty for a local crawl")
    job: Mapped[str | None] = mapped_column(String(64), index=True, doc="The crawl's Scrapyd job id; empty for a local crawl")


def model_key(model_id: str) -> str:
    """The fixed-length key a model id is indexed by: ids may be of any length, index entries may not."""
    return hashlib.sha256(model_id.encode()).hexdigest()[:32]


class Model(Base):
    """A model's identity in one store; `model_id` follows the store's documented identity rule."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("store", "model_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="Internal key (model_versions.model_pk)")
    store: Mapped[str] = mapped_column(String(64), doc="The store the model is in")
    model_id: Mapped[str] = mapped_column(Text, doc="The model's id in its store, by the store's identity rule (`storewatch stores`)")
    model_key: Mapped[str] = mapped_column(
        String(32), doc="A hash of model_id, unique with store (an index cannot hold a very long id)"
    )  # model_key(model_id)


class ModelVersion(Base):
    """What a model looked like from `valid_from` until `valid_to` (open while `valid_to` is null).

    A gap between two versions is an absence: the model was removed at the first one's `valid_to` and
    returned at the second one's `valid_from`.
    """

    __tablename__ = "model_versions"
    __table_args__ = (
        Index(None, "model_pk", "valid_to"),
        Index(None, "model_pk", "valid_from"),
        Index(None, "opened_by_run"),
        Index(None, "closed_by_run"),
        # The database itself guarantees at most one open version per model and no inverted interval.
        Index(
            "uq_model_versions_one_open",
            "model_pk",
            unique=True,
            sqlite_where=text("valid_to IS NULL"),
            postgresql_where=text("valid_to IS NULL"),
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="interval_order"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="The version's number")
    model_pk: Mapped[int] = mapped_column(ForeignKey("models.id"), doc="The model (models.id)")
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime(), doc="From this instant (UTC) the model looked like this")
    valid_to: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), doc="Until this instant, UTC (empty while current); when no version of the model starts then, it was removed"
    )
    opened_by_run: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), doc="The run that saw this version first")
    closed_by_run: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id"), doc="The run that saw it change or go (for a removal, the run it was first missing from)"
    )
    change: Mapped[str] = mapped_column(String(16), doc="How the version began: added, changed or returned")
    changed_elements: Mapped[list[str]] = mapped_column(
        JSON, doc="The element keys that differ from the model's previous version (JSON list; empty: only the raw record)"
    )
    content_hash: Mapped[str] = mapped_column(String(32), doc="A hash of elements and raw: equal content, equal hash")
    elements: Mapped[dict[str, Any]] = mapped_column(
        JSON, doc="The information elements the store shows (JSON object: name, license, task...; README: Information elements)"
    )
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, doc="The store's own record, as the spider read it (JSON)")


class StoreCoverage(Base):
    """How many of a store's models there were, and how many showed each element, right after one run.

    The snapshot writer keeps it incrementally: the previous row plus the versions the run opened, minus the
    versions it closed. A run that changed nothing writes no row, so the coverage at instant t is the row of
    the store's latest run at or before t that has one: one indexed lookup, whatever the store's size.
    """

    __tablename__ = "store_coverage"

    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), primary_key=True, doc="The run it follows")
    models: Mapped[int] = mapped_column(Integer, doc="The store's models after the run")
    elements: Mapped[dict[str, int]] = mapped_column(
        JSON, doc="How many of them show each element (JSON object: element key -> models, counts above 0 only)"
    )


class Absence(Base):
    """A model missing from a complete run while its removal waits for confirmation by the next ones.

    Removed once it has been missing from `confirm_removals` complete runs in a row, as of the first of them;
    seen again in any run, the row goes and nothing was ever removed.
    """

    __tablename__ = "absences"

    model_pk: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True, doc="The missing model (models.id)")
    first_absent_run: Mapped[int] = mapped_column(
        ForeignKey("crawl_runs.id"), index=True, doc="The first complete run it was missing from: the removal's date if confirmed"
    )
    runs: Mapped[int] = mapped_column(Integer, doc="Complete runs in a row it was missing from")


class HeldVersion(Base):
    """A change or removal a `suspect` run saw but did not apply, kept for `storewatch accept`.

    A change holds the model's new record; a removal (the model was missing) holds no content.
    """

    __tablename__ = "held_versions"

    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), primary_key=True, doc="The suspect run that held it")
    model_pk: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True, doc="The model (models.id)")
    content_hash: Mapped[str | None] = mapped_column(String(32), doc="The new record's hash (empty: a held removal)")
    elements: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="The new record's elements (JSON; empty: a held removal)")
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="The new record's raw part (JSON; empty: a held removal)")


class ModelMetric(Base):
    """A volatile counter of a model (downloads, likes, stars...) as one run saw it, recorded only when it moved.

    The series of a counter is its rows in run order; a run that saw the same value wrote no row. Counters are
    kept apart from versions so that a counter tick opens no version (StoreConfig.counters names them).
    """

    __tablename__ = "model_metrics"
    # SQLite: rows kept in their primary key's order only (no rowid table beside it), a third less to store. No
    # index on the run: it was half of what a moved counter cost (migration 0007, which also gives the primary key's
    # index room to grow on PostgreSQL).
    __table_args__ = {"sqlite_with_rowid": False}

    model_pk: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True, doc="The model (models.id)")
    metric: Mapped[str] = mapped_column(String(64), primary_key=True, doc="The counter's name (the store table lists each store's)")
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), primary_key=True, doc="The run that saw this value")
    value: Mapped[float] = mapped_column(Double, doc="The counter's value (a count, or a score such as the Hub's trending score)")


class LatestMetric(Base):
    """Each model's latest value of each counter: what the writer compares a run's counters with, in one join."""

    __tablename__ = "latest_metrics"
    # PostgreSQL: room on each page for the writer's upsert of a moved counter to stay there (migration 0007).
    __table_args__ = {"sqlite_with_rowid": False, "postgresql_with": {"fillfactor": 70}}

    model_pk: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True, doc="The model (models.id)")
    metric: Mapped[str] = mapped_column(String(64), primary_key=True, doc="The counter's name")
    value: Mapped[float] = mapped_column(Double, doc="Its latest recorded value")
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), doc="The run that recorded it")


class LockHolder(Base):
    """Who holds one of storewatch's locks (the scheduler's, or a store's writer lock), for messages and `status`.

    The lock itself lives in the database server (PostgreSQL advisory lock) or the kernel (a lock on the
    SQLite file); this row only names its holder, and is read only while the lock is held.
    """

    __tablename__ = "lock_holders"

    name: Mapped[str] = mapped_column(String(100), primary_key=True, doc="The lock: scheduler, or store:<store>")
    pid: Mapped[int] = mapped_column(Integer, doc="Process id of its holder")
    host: Mapped[str] = mapped_column(String(255), doc="Host name of its holder")
    run_id: Mapped[int | None] = mapped_column(Integer, doc="The run a store's writer is recording")
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime(), doc="When the lock was taken, UTC")


class ArchivedPayload(Base):
    """The first WARC record that archived a payload: later responses with the same payload become `revisit` records
    pointing here (Browsertrix's deduplication across crawls, the identical-payload-digest profile)."""

    __tablename__ = "archived_payloads"

    digest: Mapped[str] = mapped_column(String(80), primary_key=True, doc="The payload's digest as WARC writes it (sha1:BASE32)")
    target_uri: Mapped[str] = mapped_column(Text, doc="The URL of the first response with this payload (its WARC-Target-URI)")
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime(), doc="That response's WARC-Date, UTC")
    warc_file: Mapped[str] = mapped_column(Text, doc="The WARC file holding the record")
    offset: Mapped[int] = mapped_column(BigInteger, doc="Byte offset of the record (its gzip member) in that file")
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), index=True, doc="The run that archived it")


class ArchiveFile(Base):
    """A WARC file one run wrote (a run writes one, or more once a file reaches the rotation size); closed when the
    run ends and never written again."""

    __tablename__ = "archive_files"

    path: Mapped[str] = mapped_column(Text, primary_key=True, doc="The WARC file's path")
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), index=True, doc="The run that wrote it")
    number: Mapped[int] = mapped_column(Integer, doc="Its place among the run's files: 1, then 2... once the first reached the rotation size")
    records: Mapped[int] = mapped_column(Integer, doc="WARC records in the file (warcinfo, requests, responses, revisits)")
    bytes: Mapped[int] = mapped_column(BigInteger, doc="The file's size in bytes")


class ArchivedCrawlRun(Base):
    """A run recorded by a crawl that records several -- a backfill through a web archive, one run per capture
    day. Such a crawl writes one set of WARC files, filed under the first run it recorded (`archive_files`);
    each of its runs names that run and the capture that defines its day, so the crawl can be replayed once for
    all of them."""

    __tablename__ = "archived_crawl_runs"

    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), primary_key=True, doc="The run")
    crawl_run_id: Mapped[int] = mapped_column(
        ForeignKey("crawl_runs.id"), index=True, doc="The first run its crawl recorded, under which the crawl's WARC files are filed"
    )
    capture: Mapped[str] = mapped_column(String(40), doc="The capture that defines the run's day (a Wayback timestamp)")
