"""Downloader and spider middlewares: store authentication, failure accounting."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured

from crawler.accounting import LISTING_RESPONSES, IncompleteListing, listing_refused, note_failure, note_malformed_listing
from crawler.browser import ChromiumMissing
from crawler.items import UnreadableModel


class StoreAuthMiddleware:
    """Adds a store's credentials (StoreConfig.authorization: its env var's token, or its own sources) to
    requests for the hosts it covers, and to no other."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.authorization: str | None = None
        self.looked = False  # credentials are read once a crawl: a store's may sit in files

    @classmethod
    def from_crawler(cls, crawler):
        if crawler.settings.get("STOREWATCH_REPLAY_URL"):
            raise NotConfigured  # a replay server needs no token and is never sent one (no message: no warning)
        return cls(crawler)

    def process_request(self, request, spider=None):
        config = getattr(self.crawler.spider, "store_config", None)
        if config is None or "Authorization" in request.headers or urlsplit(request.url).hostname not in config.auth_hosts:
            return None
        if not self.looked:
            self.authorization, self.looked = config.authorization(os.environ), True
        if self.authorization:
            request.headers["Authorization"] = self.authorization
        return None


class RunAccountingMiddleware:
    """Counts answered listing requests; turns a callback's exception into a counted failure.

    A listing callback's exception means the 2xx answer was not the listing document (`suspect` run), unless
    the spider said the listing is merely incomplete (IncompleteListing: a `partial` run). An exception while
    reading a model's page yields an UnreadableModel, so the model stays present. A refused listing is also
    signalled (`listing_refused`), for a crawl that must know which of its listings it was (crawler/timetravel.py).
    """

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_spider_input(self, response, spider=None):
        if response.meta.get("listing"):
            self.stats.inc_value(LISTING_RESPONSES)

    def process_spider_exception(self, response, exception, spider=None):
        model_id = response.meta.get("model_id")
        message = f"{type(exception).__name__} reading {response.url}: {exception}"
        if isinstance(exception, ChromiumMissing):  # not a fault of the page: say what the user can do
            message = f"{response.url}: {exception}"
        if response.meta.get("listing"):
            if isinstance(exception, IncompleteListing):
                note_failure(self.stats, "listing", message)
            else:
                note_malformed_listing(self.stats, message)
            self.crawler.signals.send_catch_log(listing_refused, response=response, exception=exception)
            return []
        if model_id:
            note_failure(self.stats, "model", message)
            return [UnreadableModel(model_id, message)]
        return None
