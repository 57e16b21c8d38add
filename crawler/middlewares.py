"""Downloader and spider middlewares: replay redirection, store authentication, failure accounting."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from crawler.accounting import LISTING_RESPONSES, note_failure
from crawler.items import UnreadableModel


def replay_request(request, base_url: str):
    """The same request sent to the replay server (`https://host/p?q` -> `<base_url>/host/p?q`)."""
    if "replay_live_url" in request.meta:
        return request
    parts = urlsplit(request.url)
    target = f"{base_url}/{parts.netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
    # robots.txt rules are for live crawls; the replay server serves what the snapshot recorded.
    meta = {**request.meta, "replay_live_url": request.url, "dont_obey_robotstxt": True}
    return request.replace(url=target, meta=meta)


def _replay_base_url(crawler) -> str:
    base_url = crawler.settings.get("STOREWATCH_REPLAY_URL")
    if not base_url:
        raise NotConfigured
    return base_url.rstrip("/")


class ReplaySpiderMiddleware(BaseSpiderMiddleware):
    """Points every request a spider yields at the replay server before it is scheduled.

    The spider keeps requesting the live URLs; only the base URL is swapped, once per request.
    """

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self.base_url = _replay_base_url(crawler)

    def get_processed_request(self, request, response):
        return replay_request(request, self.base_url)


class ReplayDownloaderMiddleware:
    """Gives responses back their live URL; sends requests made outside spiders (redirects) to the replay."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    @classmethod
    def from_crawler(cls, crawler):
        return cls(_replay_base_url(crawler))

    def process_request(self, request, spider=None):
        if "replay_live_url" in request.meta:
            return None
        return replay_request(request, self.base_url).replace(dont_filter=True)

    def process_response(self, request, response, spider=None):
        live_url = request.meta.get("replay_live_url")
        return response.replace(url=live_url) if live_url else response


class StoreAuthMiddleware:
    """Adds a store's token (from the env var its StoreConfig names) to requests for the hosts it covers."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request, spider=None):
        config = getattr(self.crawler.spider, "store_config", None)
        if config is None or not config.auth_env or "Authorization" in request.headers:
            return None
        token = os.environ.get(config.auth_env)
        if token and urlsplit(request.meta.get("replay_live_url", request.url)).hostname in config.auth_hosts:
            request.headers["Authorization"] = f"Bearer {token}"
        return None


class RunAccountingMiddleware:
    """Counts answered listing requests; turns a callback's exception into a counted failure.

    An exception while reading a model's page yields an UnreadableModel, so the model stays present.
    """

    def __init__(self, stats) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_spider_input(self, response, spider=None):
        if response.meta.get("listing"):
            self.stats.inc_value(LISTING_RESPONSES)

    def process_spider_exception(self, response, exception, spider=None):
        model_id = response.meta.get("model_id")
        message = f"{type(exception).__name__} reading {response.url}: {exception}"
        if response.meta.get("listing"):
            note_failure(self.stats, "listing", message)
            return []
        if model_id:
            note_failure(self.stats, "model", message)
            return [UnreadableModel(model_id, message)]
        return None
