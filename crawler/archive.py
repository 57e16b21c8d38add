"""Stores crawled through a web archive: one crawl, one run per capture day, each observed at its capture.

An archive spider reads the archive once (its index, then the captures it needs) and yields one
`ArchivedSnapshot` per capture day, oldest first. `ArchivePipeline` records each as its own run through the
snapshot writer, observed at the capture's instant, so the store's history lands in the versioned tables
exactly as if it had been crawled on those days. Days before the store's latest run are skipped (history is
appended in time order) and the latest day is read again as a run with no changes, so repeating a crawl or
a backfill is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scrapy import signals

from crawler.accounting import ARCHIVE_FAILED, archive_failure
from crawler.items import ModelRecord, UnreadableModel
from crawler.timetravel import DayRecord
from crawler.pipelines import checked_record, kept_stats, record_failure, required_elements, run_source
from storage import queries
from storage.db import open_database
from storage.errors import StorewatchError
from storage.health import HealthPolicy
from storage.lock import DatabaseLock, acquire_store_lock
from storage.writer import SnapshotWriter, latest_observed_at


# What a crawl of several runs was asked (`storewatch backfill`), kept in its web archive's warcinfo so that a
# replay of the archive asks the archive's index the same questions (webarchive/reextract.py).
CRAWL_WINDOW_SETTINGS = ("STOREWATCH_ARCHIVE_FROM", "STOREWATCH_ARCHIVE_TO", "STOREWATCH_ARCHIVE_EVERY", "STOREWATCH_CDX_PAGE_SIZE", "STOREWATCH_TIME_TRAVEL")


@dataclass
class ArchivedSnapshot:
    """The store as the archive showed it on one capture day."""

    observed_at: datetime
    label: str  # the capture that defines the day, e.g. the listing page's timestamp
    records: list[ModelRecord] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # listed models whose capture could not be read
    complete: bool = True  # False: the archive's index or the day's listing was not read in full
    errors: list[str] = field(default_factory=list)


class ArchivePipeline:
    """Writes each ArchivedSnapshot as a run observed at its capture instant; the last one is the crawl's summary."""

    def __init__(self, crawler, database_url: str | None, source: str | None, kept: list[str], policy: HealthPolicy, max_raw_bytes: int) -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.source = source
        self.kept_stats = kept
        self.policy = policy
        self.max_raw_bytes = max_raw_bytes
        self.engine = None
        self.lock: DatabaseLock | None = None
        self._own_engine = False
        self.latest: datetime | None = None
        self.summaries: list[dict[str, Any]] = []
        self.captures: list[tuple[int, str]] = []  # (run id, capture) of each run recorded: its web archive's links
        self.day_items: dict[str, list[ModelRecord | UnreadableModel]] = {}
        crawler.storewatch_records_many_runs = True  # the web archive (webarchive/middleware.py) is the crawl's
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(
            crawler,
            settings.get("STOREWATCH_DATABASE_URL"),
            run_source(settings),
            settings.getlist("STOREWATCH_KEPT_STATS"),
            HealthPolicy.from_dict(settings.getdict("STOREWATCH_HEALTH")),
            settings.getint("STOREWATCH_MAX_RAW_BYTES"),
        )

    def open_spider(self):
        # One lock for every day the crawl records: taken by the runner, else here.
        self.lock = getattr(self.crawler, "storewatch_lock", None)
        if self.lock is not None:
            self.engine = self.lock.engine
        else:
            self.engine, self._own_engine = open_database(self.database_url), True
            try:
                self.lock = acquire_store_lock(self.engine, self.crawler.spider.name)
            except StorewatchError as error:
                self.crawler.stats.set_value("storewatch/refused", str(error))
                raise
        self.latest = latest_observed_at(self.engine, self.crawler.spider.name)

    def process_item(self, item):
        if isinstance(item, DayRecord):  # from a time-travelling spider: recorded per day when the crawl closes
            self.day_items.setdefault(item.day, []).append(item.item)
            return item
        if not isinstance(item, ArchivedSnapshot):
            return item
        if self.crawler.stats.get_value(ARCHIVE_FAILED):  # the day's answers are not archived: nothing is recorded
            return item
        if self.latest is not None and item.observed_at < self.latest:
            self.crawler.stats.inc_value("storewatch/archive_days_already_recorded")
            return item
        spider = self.crawler.spider
        writer = SnapshotWriter(
            self.engine, spider.name, item.observed_at, f"{spider.name}/{spider.version}",
            source=f"{self.source} capture {item.label}", lock=self.lock, policy=self.policy, max_raw_bytes=self.max_raw_bytes,
            node=self.crawler.settings.get("STOREWATCH_NODE"), job=self.crawler.settings.get("STOREWATCH_JOB"),
        )
        writer.start()
        errors = list(item.errors)
        required = required_elements(spider)
        for record in item.records:  # day records bypass NormalizePipeline: checked here the same way
            checked = checked_record(record, required, self.crawler.stats)
            if isinstance(checked, UnreadableModel):
                writer.add_unreadable(checked.model_id)
                errors.append(checked.reason)
            else:
                writer.add(checked.model_id, checked.elements, checked.raw, checked.counters)
        for model_id in item.unreadable:
            writer.add_unreadable(model_id)
        stats = kept_stats(self.crawler.stats.get_stats(), self.kept_stats)
        try:
            summary = writer.finish(
                "complete" if item.complete else "partial",
                errors=len(errors),
                error_summary="; ".join(errors[:5]) or None,
                stats={**stats, "storewatch/archive_capture": item.label},
            )
        except Exception as error:  # noqa: BLE001 -- the day's run must not stay `running`
            self.crawler.stats.set_value("storewatch/refused", record_failure(writer, error))
            raise
        self.latest = item.observed_at
        self.summaries.append(summary.as_dict())
        self.captures.append((summary.run_id, item.label))
        self.crawler.stats.set_value("storewatch/summary", summary.as_dict())
        return item

    def spider_closed(self, spider, reason):
        stats = self.crawler.stats
        archive = getattr(self.crawler, "storewatch_crawl_archive", None)
        self.close_archive(archive)
        for snapshot in self.day_snapshots(spider, reason):
            self.process_item(snapshot)
        if archive is not None and not stats.get_value(ARCHIVE_FAILED):
            archive.record_runs(self.captures)
        if stats.get_value(ARCHIVE_FAILED) and not self.summaries:
            stats.set_value("storewatch/refused", f"{spider.name}: {stats.get_value(ARCHIVE_FAILED)}")
        elif self.summaries:
            stats.set_value("storewatch/archive_runs", len(self.summaries))
        elif stats.get_value("storewatch/archive_days_already_recorded") and self.latest is not None:
            stats.set_value("storewatch/summary", self.nothing_new(spider.name))
        elif not stats.get_value("storewatch/refused"):
            samples = stats.get_value("storewatch/error_samples") or []
            stats.set_value(
                "storewatch/refused",
                f"{spider.name}: the archive gave no capture day to record" + (f" ({samples[0]})" if samples else ""),
            )
        if self._own_engine:
            self.lock.release()
            self.engine.dispose()

    def close_archive(self, archive) -> None:
        """Close the crawl's WARC files before any day is recorded from them: a day is recorded only if its
        answers are on disk (the middleware may have closed them already; closing twice does nothing)."""
        if archive is None or self.crawler.stats.get_value(ARCHIVE_FAILED):
            return
        try:
            archive.close_files()
        except OSError as error:
            archive.discard()
            self.crawler.stats.set_value(ARCHIVE_FAILED, archive_failure(error))

    def day_snapshots(self, spider, reason: str) -> list[ArchivedSnapshot]:
        """The days a time-travelling spider crawled (crawler/timetravel.py), each with what it yielded."""
        snapshots = []
        for day in spider.archive_days() if hasattr(spider, "archive_days") else []:
            if not day.listing_read:
                self.crawler.stats.inc_value("storewatch/archive_days_unread")
                continue
            items = self.day_items.get(day.capture.timestamp, [])
            unreadable = [item.model_id for item in items if isinstance(item, UnreadableModel)]
            errors = day.errors + ([f"crawl ended early ({reason})"] if reason != "finished" else [])
            snapshots.append(
                ArchivedSnapshot(
                    day.observed_at,
                    day.capture.timestamp,
                    records=[item for item in items if isinstance(item, ModelRecord)],
                    unreadable=unreadable,
                    complete=not errors,
                    errors=errors + [f"{model_id}: capture unreadable" for model_id in unreadable],
                )
            )
        return snapshots

    def nothing_new(self, store: str) -> dict[str, Any]:
        """The crawl's summary when every capture day it found was already recorded: no run, no change."""
        latest = queries.list_runs(self.engine, store)[-1]
        return {
            "run_id": None,
            "store": store,
            "observed_at": latest["observed_at"],
            "status": latest["status"],
            "models_seen": latest["models_seen"],
            **dict.fromkeys(("added", "changed", "removed", "returned", "errors"), 0),
            "error_summary": "every capture day found is older than the latest run: nothing new written",
        }
