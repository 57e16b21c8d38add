"""Backing off when a host says "too many requests": pause the whole crawl, then try the request again.

The Wayback Machine allows about 60 CDX requests a minute and blocks an IP that keeps going after a 429, so
a 429 (or 503) pauses the engine -- no other request starts -- for as long as the host asked, or for
STOREWATCH_BACKOFF_SECONDS doubled on each further refusal of the same request, up to
STOREWATCH_BACKOFF_RETRIES attempts. The host asks through the IETF `RateLimit` header (`"api";r=0;t=123`:
the Hugging Face Hub says when its window resets) or `Retry-After`. No wait passes
STOREWATCH_BACKOFF_MAX_SECONDS (a replay caps it near zero). Spiders that need it add it to
DOWNLOADER_MIDDLEWARES themselves.

Before any refusal, the same header paces the crawl: `r` requests remain until the window resets in `t`
seconds, so requests are spread over what is left of the window (`t / r` apart when that is longer than the
download delay), and with none left (`r=0`) the crawl pauses until the reset instead of earning a 429. A
replay does not pace (STOREWATCH_RATELIMIT_PACING): recorded windows have no meaning for recorded answers.
"""

from __future__ import annotations

import asyncio
import logging
import re

logger = logging.getLogger(__name__)

BACKOFF_STATUSES = frozenset({429, 503})
# The reset parameter of an IETF RateLimit header (draft-ietf-httpapi-ratelimit-headers): `"api";r=0;t=123`.
_RATELIMIT_RESET = re.compile(r"(?:^|;)\s*t\s*=\s*(\d+)")
_RATELIMIT_REMAINING = re.compile(r"(?:^|;)\s*r\s*=\s*(\d+)")


def asked_wait(ratelimit: str | None, retry_after: str | None) -> float | None:
    """Seconds the host asked to wait: the RateLimit header's `t` (window reset), else a Retry-After in
    seconds; None when it said neither (a Retry-After date counts as not said)."""
    reset = _RATELIMIT_RESET.search(ratelimit or "")
    if reset:
        return float(reset.group(1))
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after.strip())
    return None


def pacing_wait(ratelimit: str | None, download_delay: float) -> float:
    """Seconds to wait, beyond the download delay, before the next request so that the requests the RateLimit
    header says remain (`r`) last until its window resets (`t`); 0 when the header says neither or the delay
    already spaces them enough."""
    remaining = _RATELIMIT_REMAINING.search(ratelimit or "")
    reset = _RATELIMIT_RESET.search(ratelimit or "")
    if not remaining or not reset:
        return 0.0
    left, seconds = int(remaining.group(1)), float(reset.group(1))
    if left == 0:  # the window is used up: the next request would be refused until it resets
        return seconds
    return max(seconds / left - download_delay, 0.0)


def backoff_delay(attempt: int, base: float, asked: float | None, ceiling: float) -> float:
    """Seconds to wait before attempt `attempt + 1`: what the host asked when it did, else base * 2**attempt."""
    if asked is not None:  # at least a second: `t=0` (the window resets now) must not make every retry instant
        return min(max(asked, 1.0), ceiling)
    return min(base * (2**attempt), ceiling)


class BackoffMiddleware:
    """Downloader middleware: on 429/503, pause the engine, wait, and send the same request again."""

    def __init__(self, crawler, base: float, retries: int, ceiling: float, pacing: bool = True) -> None:
        self.crawler = crawler
        self.base = base
        self.retries = retries
        self.ceiling = ceiling
        self.pacing = pacing

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(
            crawler,
            settings.getfloat("STOREWATCH_BACKOFF_SECONDS", 60.0),
            settings.getint("STOREWATCH_BACKOFF_RETRIES", 5),
            settings.getfloat("STOREWATCH_BACKOFF_MAX_SECONDS", 900.0),
            settings.getbool("STOREWATCH_RATELIMIT_PACING", True),
        )

    async def process_response(self, request, response, spider=None):
        if response.status not in BACKOFF_STATUSES:
            if self.pacing:
                await self._pace(response)
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
        await self._pause(delay)
        retry = request.replace(dont_filter=True)
        retry.meta["backoff_attempt"] = attempt + 1
        return retry


    async def _pace(self, response) -> None:
        """Hold the crawl while the host's rate-limit window has too few requests left for the download delay."""
        wait = min(pacing_wait(_header(response, "RateLimit"), self.crawler.settings.getfloat("DOWNLOAD_DELAY")), self.ceiling)
        if wait <= 0:
            return
        stats = self.crawler.stats
        stats.inc_value("storewatch/ratelimit_paced_count")
        stats.inc_value("storewatch/ratelimit_paced_seconds", wait)
        logger.info("%s: the host's rate-limit window is nearly used up, pausing the crawl for %.1f s", response.url, wait)
        await self._pause(wait)

    async def _pause(self, seconds: float) -> None:
        engine = self.crawler.engine
        engine.pause()
        try:
            await asyncio.sleep(seconds)
        finally:
            engine.unpause()


def _header(response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
