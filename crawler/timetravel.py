"""Any web store, back in time: its own spider, reading the Wayback Machine's captures of its pages.

A store spider that mixes in `TimeTravel` crawls as usual -- unless STOREWATCH_TIME_TRAVEL is set (by
`storewatch backfill`). Then it first asks the archive's CDX index for the captures of the store's listing
URL (the first of its StoreConfig.live_urls), picks the capture days (window and interval as for archive
stores), and runs its ordinary navigation once per day: every request it yields for `https://host/path` is
sent as `https://web.archive.org/web/<timestamp>id_/https://host/path`, the archive answering with the
capture nearest that instant, and responses come back under their live URL, so the spider's extraction
never knows. What it yields is grouped by day and recorded by crawler.archive.ArchivePipeline, one run per
day, observed at the listing capture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from crawler.accounting import LISTING_FAILURES, IncompleteListing, listing_refused, note_failure
from crawler.items import ModelRecord, UnreadableModel
from crawler.wayback import Capture, capture_url, cdx_url, choose_days, parse_cdx, rows_of

DAY = "wayback_day"  # request meta: the listing capture timestamp the request belongs to
LIVE_URL = "wayback_live_url"  # request meta: the store URL a capture request stands for


@dataclass
class DayRecord:
    """Something a time-travelling spider yielded (a ModelRecord or UnreadableModel) for one capture day."""

    day: str
    item: ModelRecord | UnreadableModel


@dataclass
class CaptureDay:
    """One capture day of a time-travelling crawl: its listing capture, and whether its listing was read."""

    capture: Capture
    listing_read: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def observed_at(self) -> datetime:
        return self.capture.instant


def archive_settings(settings) -> dict[str, Any]:
    """What a crawl through the archive adds: one polite request at a time, backoff on 429, day grouping."""
    return {
        "DOWNLOAD_DELAY": max(settings.getfloat("DOWNLOAD_DELAY"), 1.0),
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "ROBOTSTXT_OBEY": False,  # requests go to the archive's public API, within its published rate
        "DOWNLOADER_MIDDLEWARES": {
            **settings.getdict("DOWNLOADER_MIDDLEWARES"),
            "crawler.backoff.BackoffMiddleware": 600,
            "crawler.timetravel.TimeTravelDownloaderMiddleware": 900,
        },
        "SPIDER_MIDDLEWARES": {**settings.getdict("SPIDER_MIDDLEWARES"), "crawler.timetravel.TimeTravelSpiderMiddleware": 20},
        "ITEM_PIPELINES": {"crawler.pipelines.NormalizePipeline": 100, "crawler.archive.ArchivePipeline": 800},
    }


class TimeTravel:
    """Spider mixin: with STOREWATCH_TIME_TRAVEL, crawl the store once per archived capture day of its listing."""

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        if settings.getbool("STOREWATCH_TIME_TRAVEL"):
            # spider priority: the process's project-level settings are applied over the crawler's again later
            settings.setdict(archive_settings(settings), priority="spider")

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.time_travel:
            spider.start = spider.start_in_the_archive  # the store's own start() then runs once per capture day
            crawler.signals.connect(spider.day_listing_refused, signal=listing_refused)
        return spider

    @property
    def time_travel(self) -> bool:
        return self.settings.getbool("STOREWATCH_TIME_TRAVEL")

    async def start_in_the_archive(self):
        self.capture_days: dict[str, CaptureDay] = {}
        self.listing_captures: list[Capture] = []
        yield self.index_request(None)

    # -- the archive's index of the listing URL -------------------------------------------------------------

    def index_request(self, resume_key: str | None):
        start, end, _ = self.archive_window()
        url = cdx_url(
            self.store_config.live_urls[0].split("://", 1)[1],
            match_type="exact",
            from_=start.strftime("%Y%m%d") if start else None,
            to=end.strftime("%Y%m%d") if end else None,
            limit=self.settings.getint("STOREWATCH_CDX_PAGE_SIZE"),
            resume_key=resume_key,
            fields=False,
        )
        return self.listing_request(url, self.parse_index).replace(errback=self.index_failed)

    def archive_window(self) -> tuple[date | None, date | None, str | None]:
        get = self.settings.get
        start, end = get("STOREWATCH_ARCHIVE_FROM"), get("STOREWATCH_ARCHIVE_TO")
        return (date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None, get("STOREWATCH_ARCHIVE_EVERY"))

    async def parse_index(self, response):
        captures, resume_key = parse_cdx(rows_of(response.json()))
        self.listing_captures += [capture for capture in captures if capture.statuscode == "200"]
        if resume_key:
            yield self.index_request(resume_key)
            return
        start, end, every = self.archive_window()
        for capture in choose_days(self.listing_captures, start=start, end=end, every=every, only=self.settings.getlist("STOREWATCH_ARCHIVE_CAPTURES")):
            self.capture_days[capture.timestamp] = CaptureDay(capture)
            async for request in type(self).start(self):
                request.meta[DAY] = capture.timestamp
                yield request

    def index_failed(self, failure):
        note_failure(self.crawler.stats, "listing", f"archive index: {failure.getErrorMessage()}")
        self.logger.warning("the archive's index could not be read: %s", failure.getErrorMessage())

    # -- per-day accounting -------------------------------------------------------------------------------

    def listing_failed(self, failure):
        super().listing_failed(failure)
        day = self.capture_days.get(failure.request.meta.get(DAY)) if self.time_travel else None
        if day is not None:
            day.errors.append(f"listing capture unreadable: {failure.getErrorMessage()}")

    def day_listing_refused(self, response, exception):
        """A day's listing capture that is not the listing (junk) leaves the day unrecorded; an incomplete one
        makes it partial."""
        day = self.capture_days.get(response.meta.get(DAY))
        if day is None:
            return
        if isinstance(exception, IncompleteListing):
            day.errors.append(f"listing capture incomplete: {exception}")
        else:
            day.listing_read = False

    def model_failed(self, failure):
        for item in super().model_failed(failure):
            yield DayRecord(failure.request.meta[DAY], item) if self.time_travel and DAY in failure.request.meta else item

    def archive_days(self) -> list[CaptureDay]:
        """The capture days crawled, oldest first (read by ArchivePipeline when the crawl closes)."""
        if not getattr(self, "capture_days", None):
            return []
        any_listing_failed = bool(self.crawler.stats.get_value(LISTING_FAILURES))
        days = sorted(self.capture_days.values(), key=lambda day: day.capture.timestamp)
        for day in days:
            if any_listing_failed and not day.errors:
                day.errors.append("a listing request failed during the crawl: nothing removed")
        return days


class TimeTravelSpiderMiddleware(BaseSpiderMiddleware):
    """Sends a time-travelling spider's requests to the day's captures; tags what it yields with the day."""

    def get_processed_request(self, request, response):
        day = request.meta.get(DAY) or (response.meta.get(DAY) if response is not None else None)
        if day is None or LIVE_URL in request.meta:
            return request
        meta = {**request.meta, DAY: day, LIVE_URL: request.url}
        return request.replace(url=capture_url(day, request.url), meta=meta)

    def get_processed_item(self, item, response):
        day = response.meta.get(DAY) if response is not None else None
        if day is not None and isinstance(item, (ModelRecord, UnreadableModel)):
            return DayRecord(day, item)
        return item

    def process_spider_input(self, response, spider=None):
        day = self.crawler.spider.capture_days.get(response.meta.get(DAY)) if response.meta.get("listing") else None
        if day is not None and 200 <= response.status < 300:  # this runs before HttpErrorMiddleware drops the others
            day.listing_read = True


class TimeTravelDownloaderMiddleware:
    """Gives capture responses back the store URL they stand for, so extraction sees the live URL."""

    def process_response(self, request, response, spider=None):
        live_url = request.meta.get(LIVE_URL)
        return response.replace(url=live_url) if live_url else response
