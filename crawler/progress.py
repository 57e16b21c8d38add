"""A one-line progress report on stderr while a crawl runs (enabled by STOREWATCH_PROGRESS)."""

from __future__ import annotations

import sys

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from crawler.accounting import LISTING_FAILURES, MODEL_FAILURES
from crawler.pipelines import STAGED_MODELS
from storage.wording import plural


class ProgressLine:
    """Rewrites one stderr line every half second: responses, models staged, failures."""

    def __init__(self, crawler, label: str) -> None:
        self.crawler = crawler
        self.label = label
        self.tty = sys.stderr.isatty()
        self.loop = task.LoopingCall(self.show)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("STOREWATCH_PROGRESS"):
            raise NotConfigured
        return cls(crawler, crawler.settings.get("STOREWATCH_PROGRESS_LABEL", ""))

    def spider_opened(self, spider):
        if self.tty:
            self.loop.start(0.5, now=False)

    def spider_closed(self, spider, reason):
        if self.loop.running:
            self.loop.stop()
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def show(self) -> None:
        stats = self.crawler.stats
        failures = (stats.get_value(LISTING_FAILURES) or 0) + (stats.get_value(MODEL_FAILURES) or 0)
        line = (
            f"{self.label} {plural(stats.get_value('response_received_count') or 0, 'response')}, "
            f"{plural(stats.get_value(STAGED_MODELS) or 0, 'model')}, {plural(failures, 'failure')}"
        )
        sys.stderr.write(f"\r\033[K{line}")
        sys.stderr.flush()
