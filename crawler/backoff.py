"""Backing off when a host says "too many requests": pause the whole crawl, then try the request again.

The Wayback Machine allows about 60 CDX requests a minute and blocks an IP that keeps going after a 429, so
a 429 (or 503) pauses the engine -- no other request starts -- for the response's Retry-After, or for
STOREWATCH_BACKOFF_SECONDS doubled on each further refusal of the same request, up to
STOREWATCH_BACKOFF_RETRIES attempts. Spiders that need it add it to DOWNLOADER_MIDDLEWARES themselves.
"""

from __future__ import annotations

import asyncio
import logging

logger = logging.getLogger(__name__)

BACKOFF_STATUSES = frozenset({429, 503})


def backoff_delay(attempt: int, base: float, retry_after: str | None, ceiling: float) -> float:
    """Seconds to wait before attempt `attempt + 1`: Retry-After when the host gave one, else base * 2**attempt."""
    if retry_after and retry_after.strip().isdigit():
        return min(float(retry_after.strip()), ceiling)
    return min(base * (2**attempt), ceiling)


class BackoffMiddleware:
    """Downloader middleware: on 429/503, pause the engine, wait, and send the same request again."""

    def __init__(self, crawler, base: float, retries: int, ceiling: float) -> None:
        self.crawler = crawler
        self.base = base
        self.retries = retries
        self.ceiling = ceiling

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(
            crawler,
            settings.getfloat("STOREWATCH_BACKOFF_SECONDS", 60.0),
            settings.getint("STOREWATCH_BACKOFF_RETRIES", 5),
            settings.getfloat("STOREWATCH_BACKOFF_MAX_SECONDS", 900.0),
        )

    async def process_response(self, request, response, spider=None):
        if response.status not in BACKOFF_STATUSES:
            return response
        attempt = request.meta.get("backoff_attempt", 0)
        if attempt >= self.retries:
            self.crawler.stats.inc_value("storewatch/backoff_gave_up")
            return response
        retry_after = response.headers.get("Retry-After")
        delay = backoff_delay(attempt, self.base, retry_after.decode() if retry_after else None, self.ceiling)
        stats = self.crawler.stats
        stats.inc_value("storewatch/backoff_count")
        stats.inc_value("storewatch/backoff_seconds", delay)
        logger.warning("HTTP %s from %s: pausing the crawl for %.1f s", response.status, request.url, delay)
        engine = self.crawler.engine
        engine.pause()
        try:
            await asyncio.sleep(delay)
        finally:
            engine.unpause()
        retry = request.replace(dont_filter=True)
        retry.meta["backoff_attempt"] = attempt + 1
        return retry
