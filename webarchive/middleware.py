"""The downloader middleware that archives every response a crawl receives as WARC 1.1 (webarchive/run_archive.py).

A downloader middleware rather than an extension on `response_received`: placed next to the download handler
(order 950, after DownloaderStats), its `process_response` sees each response as it came off the wire, before
HttpCompressionMiddleware decompresses the body and before RedirectMiddleware and RetryMiddleware swallow
a 3xx or a failed answer -- the signal sees only what survives them. In a replay the download handler has
already given the response its live URL, so the records carry the store's real URLs.

The run is known once the snapshot pipeline has begun it (`storewatch/run_id` in the stats, set before
`spider_opened` is sent). A crawl that records several runs (a backfill through a web archive, one run per
capture day: crawler/archive.py) has no run yet when it opens: its files are written as the crawl's, and
ArchivePipeline files them under the runs it recorded once the crawl closes. A write that fails (a full disk)
stops the crawl and fails its run (`storewatch/archive_failed`, read by crawler/accounting.py and by
ArchivePipeline); what was written is deleted.
"""

from __future__ import annotations

from http import HTTPStatus

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawler.accounting import ARCHIVE_FAILED, archive_failure
from crawler.archive import CRAWL_WINDOW_SETTINGS
from crawler.pipelines import run_source
from storage.db import open_database
from storage.runs import get_run
from storage.timeutil import utcnow
from webarchive.location import archive_folder, archiving_on
from webarchive.run_archive import ROTATE_BYTES, Exchange, RunArchive, RunInfo

# Never archived: a store's token (crawler.middlewares.StoreAuthMiddleware adds it before this middleware runs).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class ArchiveMiddleware:
    """Writes a request and a response (or revisit) record for every response, into the run's WARC files."""

    def __init__(self, crawler, folder, rotate_bytes: int) -> None:
        self.crawler = crawler
        self.folder = folder
        self.rotate_bytes = rotate_bytes
        self.archive: RunArchive | None = None
        self.own_engine = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        if not archiving_on(settings.get("STOREWATCH_ARCHIVE")):
            raise NotConfigured
        folder = archive_folder(settings.get("STOREWATCH_ARCHIVE_DIR"), settings.get("STOREWATCH_DATABASE_URL"))
        return cls(crawler, folder, settings.getint("STOREWATCH_ARCHIVE_ROTATE_BYTES", ROTATE_BYTES))

    def spider_opened(self, spider) -> None:
        run_id = self.crawler.stats.get_value("storewatch/run_id")
        crawl_of_runs = getattr(self.crawler, "storewatch_records_many_runs", False)
        if run_id is None and not crawl_of_runs:
            return
        lock = getattr(self.crawler, "storewatch_lock", None)
        engine = lock.engine if lock is not None else self._open_engine()
        version = f"{spider.name}/{spider.version}"
        if run_id is not None:
            run = get_run(engine, run_id)
            info = RunInfo(spider.name, run_id, version, run["observed_at"], run["source"] or "live")
        else:
            settings = self.crawler.settings
            window = {name: settings.get(name) for name in CRAWL_WINDOW_SETTINGS}
            info = RunInfo(spider.name, None, version, utcnow(), run_source(settings), crawl_settings=window)
        self.archive = RunArchive(engine, self.folder, info, rotate_bytes=self.rotate_bytes)
        if run_id is None:
            self.crawler.storewatch_crawl_archive = self.archive  # recorded by ArchivePipeline under its runs

    def process_response(self, request, response, spider=None):
        if self.archive is not None:
            try:
                self.archive.add(exchange_of(request, response))
            except Exception as error:  # noqa: BLE001 -- a full disk, the index unreachable: the run must not look archived
                self._fail(error)
        return response

    def spider_closed(self, spider, reason) -> None:
        archive, self.archive = self.archive, None
        if archive is not None:
            try:
                if archive.info.run_id is None:
                    archive.close_files()  # ArchivePipeline records them once it knows the crawl's runs
                else:
                    archive.close()
            except Exception as error:  # noqa: BLE001 -- as in process_response
                archive.discard()
                self.crawler.stats.set_value(ARCHIVE_FAILED, archive_failure(error))
        if self.own_engine is not None:
            self.own_engine.dispose()

    def _fail(self, error: Exception) -> None:
        archive, self.archive = self.archive, None
        archive.discard()
        self.crawler.stats.set_value(ARCHIVE_FAILED, archive_failure(error))
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="archive_failed"))

    def _open_engine(self):
        self.own_engine = open_database(self.crawler.settings.get("STOREWATCH_DATABASE_URL"))
        return self.own_engine


def exchange_of(request, response) -> Exchange:
    """A Scrapy request and its response as an Exchange; a page rendered in a browser keeps its DOM as rendered."""
    rendered = bool(request.meta.get("playwright"))
    return Exchange(
        url=response.url,
        method=request.method,
        request_headers=[(name, value) for name, value in _pairs(request.headers) if name.lower() not in SECRET_HEADERS],
        request_body=request.body,
        status=response.status,
        reason=_reason(response.status),
        response_headers=_pairs(response.headers),
        body=b"" if rendered else response.body,
        rendered=response.body if rendered else None,
    )


def _pairs(headers) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, values in headers.items() for value in values]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
