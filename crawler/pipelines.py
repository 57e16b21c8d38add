"""Item pipelines: normalise records so equal content hashes equal, then hand them to the snapshot writer."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem

from crawler.accounting import SOURCE_INCOMPLETE, error_count, error_summary, note_failure, run_status
from crawler.elements import ELEMENTS
from crawler.items import ModelBatch, ModelRecord, UnreadableModel
from storage.db import open_database
from storage.errors import StorewatchError
from storage.health import HealthPolicy
from storage.runs import close_unfinished_run
from storage.timeutil import isoformat, parse_instant, utcnow
from storage.writer import SnapshotWriter


# Values normalise() returns as they are. Checked by exact type: a record holds a hundred values or so (two
# million records a Hub crawl), and dispatching on type() in the comprehensions below, without a call per
# string or number, made normalising 3x faster (bench/hub_scale.py profile).
_KEPT_AS_IS = frozenset({int, float, bool})


def normalise(value: Any) -> Any:
    """Trimmed strings, UTC ISO dates, no None values: the same content always serialises the same way."""
    kind = type(value)
    if kind is dict:
        return {
            key if type(key) is str else str(key): item.strip() if type(item) is str else item if type(item) in _KEPT_AS_IS else normalise(item)
            for key, item in value.items()
            if item is not None
        }
    if kind is list or kind is tuple:
        return [
            item.strip() if type(item) is str else item if type(item) in _KEPT_AS_IS else normalise(item)
            for item in value
            if item is not None
        ]
    if kind is str:
        return value.strip()
    if kind in _KEPT_AS_IS:
        return value
    return _normalise_other(value)


def _normalise_other(value: Any) -> Any:
    """normalise() of the rarer types, subclasses included: dates, and a str, dict or list subclass."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, datetime):
        return isoformat(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return normalise(dict(value))
    if isinstance(value, (list, tuple)):
        return normalise(list(value))
    return value


class NormalizePipeline:
    """Checks element keys against the taxonomy, normalises elements and raw record, and turns a record without
    one of the store's required elements into an unreadable model."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        required = required_elements(self.crawler.spider)
        if isinstance(item, ModelBatch):
            item.records = [self.checked(record, required) for record in item.records]
            return item
        if not isinstance(item, ModelRecord):
            return item
        try:
            return checked_record(item, required, self.crawler.stats)
        except UnknownElements as error:
            raise DropItem(str(error)) from None

    def checked(self, record, required):
        """One record of a batch, checked. A record whose spider mapped a field onto a key outside the taxonomy
        is an unreadable model (present, unchanged), as `storewatch import` counts it: dropped, it would be
        missing from a complete run and read as removed."""
        if not isinstance(record, ModelRecord):
            return record
        try:
            return checked_record(record, required, self.crawler.stats)
        except UnknownElements as error:
            note_failure(self.crawler.stats, "model", str(error))
            return UnreadableModel(record.model_id, str(error))


class UnknownElements(ValueError):
    """A spider mapped a field onto a key that is not in the element taxonomy."""


def normalise_record(record: ModelRecord) -> ModelRecord:
    """Check the record's element keys against the taxonomy, then normalise its elements and raw record."""
    unknown = set(record.elements) - ELEMENTS.keys()
    if unknown:
        raise UnknownElements(f"{record.model_id}: element keys not in the taxonomy: {sorted(unknown)}")
    record.elements = normalise(record.elements)
    record.raw = normalise(record.raw)
    return record


def required_elements(spider) -> tuple[str, ...]:
    config = getattr(spider, "store_config", None)
    return config.required_elements if config is not None else ()


def missing_elements(record: ModelRecord, required: tuple[str, ...]) -> list[str]:
    """The required elements a normalised record lacks (absent, or an empty string, list or object)."""
    return [key for key in required if record.elements.get(key) in (None, "", [], {})]


def checked_record(record: ModelRecord, required: tuple[str, ...], stats) -> ModelRecord | UnreadableModel:
    """The normalised record; an UnreadableModel, counted as a failed model page, when it lacks a required element.

    Both pipelines go through here: NormalizePipeline for crawled records, ArchivePipeline for a day's records."""
    normalise_record(record)
    missing = missing_elements(record, required)
    if not missing:
        return record
    message = f"{record.model_id}: record lacks required elements {missing}"
    note_failure(stats, "model", message)
    return UnreadableModel(record.model_id, message)


STAGED_MODELS = "storewatch/models_staged"  # models handed to the writer (a batch item holds many)


class SnapshotPipeline:
    """Stages every model of the crawl with the SnapshotWriter and closes the run when the spider closes.

    The run is finished on `spider_closed`, the first moment the close reason is known; the reason and the
    listing accounting decide whether the run is complete, partial or failed.
    """

    def __init__(
        self, crawler, database_url: str | None, observed_at: str | None, source: str | None, kept: list[str], policy: HealthPolicy,
        max_raw_bytes: int = 0,
    ) -> None:
        self.crawler = crawler
        self.kept_stats = kept
        self.database_url = database_url
        self.observed_at = parse_instant(observed_at, end_of_day=False) if observed_at else utcnow()
        self.source = source
        self.policy = policy
        self.max_raw_bytes = max_raw_bytes
        self.writer: SnapshotWriter | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(
            crawler,
            settings.get("STOREWATCH_DATABASE_URL"),
            settings.get("STOREWATCH_OBSERVED_AT"),
            run_source(settings),
            settings.getlist("STOREWATCH_KEPT_STATS"),
            HealthPolicy.from_dict(settings.getdict("STOREWATCH_HEALTH")),
            settings.getint("STOREWATCH_MAX_RAW_BYTES"),
        )

    def open_spider(self):
        spider = self.crawler.spider
        lock = getattr(self.crawler, "storewatch_lock", None)  # taken by the runner; else the writer takes its own
        engine = lock.engine if lock is not None else open_database(self.database_url)
        self.writer = SnapshotWriter(
            engine, spider.name, self.observed_at, f"{spider.name}/{spider.version}", source=self.source, lock=lock, policy=self.policy,
            max_raw_bytes=self.max_raw_bytes, lists_whole_store=getattr(spider, "lists_whole_store", True),
            node=self.crawler.settings.get("STOREWATCH_NODE"), job=self.crawler.settings.get("STOREWATCH_JOB"),
        )
        try:
            self.writer.start()
        except StorewatchError as error:  # refused: another writer, an older snapshot, a date in the future
            self.writer = None
            self.crawler.stats.set_value("storewatch/refused", str(error))
            raise
        self.crawler.stats.set_value("storewatch/run_id", self.writer.run_id)
        incomplete = self.crawler.settings.get("STOREWATCH_SOURCE_INCOMPLETE")
        if incomplete:  # a snapshot read from a damaged archive: what could be read is recorded, as a partial run
            self.crawler.stats.set_value(SOURCE_INCOMPLETE, incomplete)

    def process_item(self, item):
        if self.writer is None:
            return item
        for record in item.records if isinstance(item, ModelBatch) else (item,):
            if isinstance(record, UnreadableModel):
                self.writer.add_unreadable(record.model_id)
            elif isinstance(record, ModelRecord):
                self.writer.add(record.model_id, record.elements, record.raw, record.counters)
            else:
                continue
            self.crawler.stats.inc_value(STAGED_MODELS)
        return item

    def spider_closed(self, spider, reason):
        if self.writer is None:
            return
        writer, self.writer = self.writer, None
        stats = self.crawler.stats.get_stats()
        try:
            summary = writer.finish(
                run_status(stats, reason),
                errors=error_count(stats),
                error_summary=error_summary(stats, reason),
                stats=kept_stats(stats, self.kept_stats),
            )
        except Exception as error:  # noqa: BLE001 -- whatever broke, the run must not stay `running`
            self.crawler.stats.set_value("storewatch/refused", record_failure(writer, error))
            return
        self.crawler.stats.set_value("storewatch/summary", summary.as_dict())
        if writer.lock is None or writer.lock.engine is not writer.engine:
            writer.engine.dispose()


def record_failure(writer: SnapshotWriter, error: Exception) -> str:
    """Close a run whose recording failed as `failed`, with the reason; returns the reason."""
    if isinstance(error, StorewatchError):
        reason = str(error)
    else:
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()
        reason = f"{writer.store}: recording run {writer.run_id} failed ({type(error).__name__}: {detail[0] if detail else ''}); nothing was recorded"
    writer.close()
    close_unfinished_run(writer.engine, writer.run_id, "failed", reason)
    return reason


def run_source(settings) -> str:
    """Where a run's data comes from, for crawl_runs.source: the snapshot, else replay or live."""
    return settings.get("STOREWATCH_SOURCE") or ("replay" if settings.get("STOREWATCH_REPLAY_URL") else "live")


def kept_stats(stats: dict[str, Any], prefixes: list[str]) -> dict[str, Any]:
    """The crawl statistics worth keeping with the run (STOREWATCH_KEPT_STATS), JSON-safe."""
    return {
        key: isoformat(value) if isinstance(value, datetime) else value
        for key, value in sorted(stats.items())
        if key.startswith(tuple(prefixes))
    }
