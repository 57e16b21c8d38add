"""What every store spider shares: its declared store config, and listing vs model requests."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import scrapy

from crawler.accounting import note_failure
from crawler.items import UnreadableModel


@dataclass(frozen=True)
class StoreConfig:
    """Everything storewatch needs to know about one store, declared once beside its spider."""

    name: str
    title: str
    identity: str  # the model_id rule, as documented in the README
    live_urls: tuple[str, ...]  # what a crawl requests (documentation, and the hosts a replay must hold)
    crawled_via: str  # api | html | browser | archive
    # A model's page for people, "{model_id}" standing for the id (crawler/report/links.py): the report links it.
    model_page: str | None = None
    download_delay: float = 0.5
    concurrency: int = 4
    obey_robots: bool = True
    auth_env: str | None = None  # env var holding the store's token, sent as `Authorization: Bearer <token>`
    auth_hosts: frozenset[str] = field(default_factory=frozenset)
    # A store whose credentials live elsewhere too (files, several forms): environ -> the `Authorization` header's
    # value, None without credentials; it replaces the plain `auth_env` Bearer token. `auth_where` says where it looks.
    credentials: Callable[[Mapping[str, str]], str | None] | None = None
    auth_where: str | None = None
    # The store answers no one without a token: a live crawl without it is refused before it starts (a replay
    # needs none: the replay server is never sent one).
    auth_required: bool = False
    # The information elements (crawler/elements.py) the spider reads from the store, in the taxonomy's order:
    # what `storewatch stores` and the README's store table list.
    elements: tuple[str, ...] = ()
    # Elements every record of this store carries; a record without one is unreadable, not a new version.
    required_elements: tuple[str, ...] = ("name",)
    # A page larger than this is refused (a model page: unreadable; a listing: failed); half of it logs a warning.
    max_page_bytes: int = 20 * 1024 * 1024
    # A paginated listing that can drift between requests: by default a model must be absent from two
    # complete runs in a row before it is removed (`confirm_removals`, storewatch.toml).
    listing_can_drift: bool = False
    # The store's volatile counters, recorded as metrics (model, run, metric, value) when they move, never as
    # versions: metric name -> what it counts, as the store table documents it.
    counters: dict[str, str] = field(default_factory=dict)
    # A host that answers "too many requests" (429/503, with RateLimit or Retry-After): the whole crawl pauses
    # and asks again (crawler/backoff.py).
    backs_off: bool = False

    def authorization(self, environ: Mapping[str, str] = os.environ) -> str | None:
        """The `Authorization` header's value for the store's hosts; None without credentials."""
        if self.credentials is not None:
            return self.credentials(environ)
        token = (environ.get(self.auth_env) or "").strip() if self.auth_env else ""
        return f"Bearer {token}" if token else None

    def missing_token(self, environ: Mapping[str, str] = os.environ) -> str | None:
        """Why a live crawl of this store cannot start -- the token it requires is not set; None when it can."""
        if not self.auth_required or self.authorization(environ):
            return None
        return f"{self.name} needs an API token: {self.auth_where or f'set {self.auth_env}'} (nothing was crawled)"

    def scrapy_settings(self) -> dict:
        return {
            "DOWNLOAD_DELAY": self.download_delay,
            "CONCURRENT_REQUESTS_PER_DOMAIN": self.concurrency,
            "ROBOTSTXT_OBEY": self.obey_robots,
            "DOWNLOAD_MAXSIZE": self.max_page_bytes,
            "DOWNLOAD_WARNSIZE": self.max_page_bytes // 2,
        }


class StoreSpider(scrapy.Spider):
    """A spider that navigates one store: listing requests name the models, model requests read one each.

    A failed listing request makes the run partial (so nothing is marked removed); a failed model request
    yields an UnreadableModel, so that model stays present with its last known content.
    """

    store_config: StoreConfig
    version = "1"

    @classmethod
    def update_settings(cls, settings):
        settings.setdict(cls.store_config.scrapy_settings(), priority="spider")
        super().update_settings(settings)
        if cls.store_config.backs_off:
            middlewares = {**settings.getdict("DOWNLOADER_MIDDLEWARES"), "crawler.backoff.BackoffMiddleware": 600}
            settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="spider")  # project priority would be overwritten

    def listing_request(self, url: str, callback, **kwargs) -> scrapy.Request:
        meta = {**kwargs.pop("meta", {}), "listing": True}
        return scrapy.Request(url, callback=callback, errback=self.listing_failed, meta=meta, **kwargs)

    def model_request(self, url: str, model_id: str, callback, **kwargs) -> scrapy.Request:
        meta = {**kwargs.pop("meta", {}), "model_id": model_id}
        return scrapy.Request(url, callback=callback, errback=self.model_failed, meta=meta, **kwargs)

    def listing_failed(self, failure):
        note_failure(self.crawler.stats, "listing", _describe(failure))
        self.logger.info("listing request failed: %s", _describe(failure))

    def model_failed(self, failure):
        message = _describe(failure)
        note_failure(self.crawler.stats, "model", message)
        self.logger.info("model request failed: %s", message)
        yield UnreadableModel(failure.request.meta["model_id"], message)


def _describe(failure) -> str:
    response = getattr(failure.value, "response", None)
    url = failure.request.url
    if response is not None:
        return f"HTTP {response.status} for {url}"
    return f"{failure.type.__name__} for {url}: {failure.getErrorMessage()}"
