"""Rendering pages in a browser: scrapy-playwright on the system's Chromium, for the spiders that need it.

Only a spider that renders pages applies `playwright_settings` (from its `update_settings`), so every other
spider keeps Scrapy's plain HTTP download handlers. Within such a spider only requests built with
`render_meta` go through the browser; the rest stay plain HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from pathlib import Path

from scrapy_playwright.page import PageMethod

CHROMIUM_ENV = "STOREWATCH_CHROMIUM"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LAUNCH_ARGS = [
    "--no-sandbox",  # needed as root (CI containers)
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HEAVY_RESOURCES = frozenset({"image", "font", "media"})
_CONTEXT_SEQUENCE = itertools.count(1)


class ChromiumMissing(RuntimeError):
    """A page must be rendered in a browser and no Chromium is installed: the model is kept, counted as an error."""

    def __init__(self) -> None:
        configured = os.environ.get(CHROMIUM_ENV)
        where = f"{CHROMIUM_ENV}={configured} is not an executable" if configured else f"install Debian's chromium (apt-get install chromium), or set {CHROMIUM_ENV}"
        super().__init__(f"needs Chromium to render this page: {where}")


def find_chromium(configured: str | None = None) -> str | None:
    """The Chromium to drive: the STOREWATCH_CHROMIUM setting, else $STOREWATCH_CHROMIUM, else Debian's chromium.

    None when none is installed (storewatch never downloads a browser: `apt-get install chromium`).
    """
    explicit = configured or os.environ.get(CHROMIUM_ENV)
    if explicit:
        path = shutil.which(explicit) or explicit
        return path if Path(path).is_file() and os.access(path, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def playwright_settings(executable: str, *, max_contexts: int = 2) -> dict:
    """Scrapy settings that route `playwright` requests through Chromium at `executable`.

    Each rendered page gets its own browser context, closed with the page (see `close_page`), and at most
    `max_contexts` render at once: a long crawl's memory stays flat. Images, fonts and media are aborted.
    """
    handler = "crawler.browser.BoundedPlaywrightHandler"
    return {
        "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": executable, "headless": True, "args": LAUNCH_ARGS},
        "PLAYWRIGHT_ABORT_REQUEST": "crawler.browser.abort_heavy_resources",
        "PLAYWRIGHT_MAX_CONTEXTS": max_contexts,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 1,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 30_000,
    }


def abort_heavy_resources(request) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: a rendered page never loads images, fonts or media."""
    return request.resource_type in HEAVY_RESOURCES


def _bounded_playwright_handler():
    """scrapy-playwright's handler, with Scrapy's DOWNLOAD_TIMEOUT and DOWNLOAD_MAXSIZE / DOWNLOAD_WARNSIZE (or
    their meta keys) enforced on rendered pages.

    Scrapy applies them only in its HTTP handlers (scrapy-playwright 0.0.48 applies neither to a render). A
    browser download could otherwise wait forever (for a page slot, a context, a request that never
    settles) and the crawl would never close; a render past the timeout fails like a timed-out HTTP
    request: the errback closes the page and counts the model. A rendered page over the maximum size fails
    as an HTTP answer over it does: it never reaches the spider, and the errback counts the model.
    """
    from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
    from twisted.internet.error import TimeoutError as DownloadTimeoutError

    from crawler.replay_transport import check_page_size, download_via_replay, replay_base_url

    class BoundedPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
        __doc__ = _bounded_playwright_handler.__doc__

        def __init__(self, crawler) -> None:
            super().__init__(crawler)
            self.replay_base_url = replay_base_url(crawler.settings)
            self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
            self.warnsize = crawler.settings.getint("DOWNLOAD_WARNSIZE")

        async def download_request(self, request):
            if self.replay_base_url:  # a replay: browser and plain requests both go to the replay server
                response = await download_via_replay(super().download_request, request, self.replay_base_url)
            else:
                response = await super().download_request(request)
            if request.meta.get("playwright"):  # a plain request's size was checked by Scrapy's HTTP handler
                check_page_size(request, len(response.body), self.maxsize, self.warnsize, expected=False)
            return response

        async def _download_request(self, request, spider=None):
            timeout = request.meta.get("download_timeout") or self._crawler.settings.getfloat("DOWNLOAD_TIMEOUT")
            try:
                return await asyncio.wait_for(super()._download_request(request, spider), timeout=timeout or None)
            except asyncio.TimeoutError:
                raise DownloadTimeoutError(f"rendering took longer than {timeout:g} s") from None

    BoundedPlaywrightHandler.__module__, BoundedPlaywrightHandler.__qualname__ = __name__, "BoundedPlaywrightHandler"
    return BoundedPlaywrightHandler


def __getattr__(name: str):
    # The handler class imports Playwright itself: built on first use, so merely loading a spider stays fast.
    if name == "BoundedPlaywrightHandler":
        globals()[name] = handler = _bounded_playwright_handler()
        return handler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def render_meta(context: str, wait_for: str, timeout_ms: int = 5000) -> dict:
    """Request meta that renders the page in a context of its own and waits until `wait_for` matches.

    The context name gets a sequence number: the same page rendered twice in one crawl (a backfill reads each
    capture day) must not share a context, or the second render waits for a page slot in a context the first
    one's callback closes -- a wait that never ends.
    """
    return {
        "playwright": True,
        "playwright_include_page": True,  # so the callback can close the page and its context
        "playwright_context": f"{context}-{next(_CONTEXT_SEQUENCE)}",
        "playwright_page_methods": [PageMethod("wait_for_selector", wait_for, timeout=timeout_ms)],
    }


async def close_page(meta: dict) -> None:
    """Close a rendered page and its context (call from the callback and the errback)."""
    page = meta.pop("playwright_page", None)
    if page is not None:
        await page.close()
        await page.context.close()
