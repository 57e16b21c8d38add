"""Backing off when a host says "too many requests": pause the whole crawl, then try the request again.

The Wayback Machine allows about 60 CDX requests a minute and blocks an IP that keeps going after a 429, so
a 429 (or 503) pauses the engine -- no other request starts -- for as long as the host asked, or for
STOREWATCH_BACKOFF_SECONDS doubled on each further refusal of the same request, up to
STOREWATCH_BACKOFF_RETRIES attempts. The host asks through the IETF `RateLimit` header (`"api";r=0;t=123`:
the Hugging Face Hub says when its window resets) or `Retry-After`. No wait passes
STOREWATCH_BACKOFF_MAX_SECONDS (a replay caps it near zero). Spiders that need it add it to
DOWNLOADER_MIDDLEWARES themselves.
"""

from __future__ import annotations

import asyncio
import logging
import re

logger = logging.getLogger(__name__)

BACKOFF_STATUSES = frozenset({429, 503})
# The reset parameter of an IETF RateLimit header (draft-ietf-httpapi-ratelimit-headers): `"api";r=0;t=123`.
_RATELIMIT_RESET = re.compile(r"(?:^|;)\s*t\s*=\s*(\d+)")


def asked_wait(ratelimit: str | None, retry_after: str | None) -> float | None:
    """Seconds the host asked to wait: the RateLimit header's `t` (window reset), else a Retry-After in
    seconds; None when it said neither (a Retry-After date counts as not said)."""
    reset = _RATELIMIT_RESET.search(ratelimit or "")
    if reset:
        return float(reset.group(1))
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after.strip())
    return None


def backoff_delay(attempt: int, base: float, asked: float | None, ceiling: float) -> float:
    """Seconds to wait before attempt `attempt + 1`: what the host asked when it did, else base * 2**attempt."""
    if asked is not None:  # at least a second: `t=0` (the window resets now) must not make every retry instant
        return min(max(asked, 1.0), ceiling)
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
        asked = asked_wait(_header(response, "RateLimit"), _header(response, "Retry-After"))
        delay = backoff_delay(attempt, self.base, asked, self.ceiling)
        stats = self.crawler.stats
        stats.inc_value("storewatch/backoff_count")
        stats.inc_value("storewatch/backoff_seconds", delay)
        said = f" (the host asked for {asked:g} s)" if asked is not None and asked != delay else ""
        logger.warning("HTTP %s from %s: pausing the crawl for %.1f s%s", response.status, request.url, delay, said)
        engine = self.crawler.engine
        engine.pause()
        try:
            await asyncio.sleep(delay)
        finally:
            engine.unpause()
        retry = request.replace(dont_filter=True)
        retry.meta["backoff_attempt"] = attempt + 1
        return retry


def _header(response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
