"""Replay at the transport: only the download handler ever sees the replay server's URL.

Spiders, middlewares, the duplicate filter, logs and errors all see the store's live URLs; when a crawl
replays a snapshot, the download handler swaps the base URL on the way out and gives the response its live
URL back. A spider that renders pages keeps its browser handler, which swaps the base URL the same way
(crawler.browser).

The replay server is storewatch's own (crawler/replay_server.py): plain HTTP/1.1 on 127.0.0.1, keep-alive,
every answer with a Content-Length, no redirects, cookies, compression or TLS. So its client here is a few
lines on asyncio streams with a pool of kept-alive connections: a general HTTP client costs more per request
than the replay server does, and more to import than a small crawl takes.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import DownloadCancelledError, DownloadConnectionRefusedError, DownloadFailedError, DownloadTimeoutError
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from scrapy.utils.misc import build_from_crawler, load_object

LIVE_HTTP_HANDLER = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
logger = logging.getLogger(__name__)


def replay_url(live_url: str, base_url: str) -> str:
    """Where a live URL is served by the replay server: `https://host/p?q` -> `<base_url>/host/p?q`."""
    parts = urlsplit(live_url)
    return f"{base_url}/{parts.netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


def replay_base_url(settings) -> str | None:
    base_url = settings.get("STOREWATCH_REPLAY_URL")
    return base_url.rstrip("/") if base_url else None


async def download_via_replay(download, request, base_url: str):
    """Let `download` fetch `request` from the replay server; the response keeps the live URL."""
    replayed = request.replace(url=replay_url(request.url, base_url))
    try:
        response = await download(replayed)
    finally:
        # What the handler left in the meta belongs to the crawl's request, failed or not: scrapy-playwright
        # leaves the page there, and an errback must find it to close it.
        request.meta.update(replayed.meta)
    return response.replace(url=request.url, request=request)


class PageTooLarge(Exception):
    """The replay server announced a body larger than DOWNLOAD_MAXSIZE."""


class HttpDownloadHandler:
    """storewatch's http/https download handler (DOWNLOAD_HANDLERS): the replay client below when the crawl
    replays a snapshot, else Scrapy's own. The replay URL alone decides, however the crawl was started."""

    lazy = True

    @classmethod
    def from_crawler(cls, crawler):
        return build_from_crawler(http_handler_class(crawler.settings), crawler)


def http_handler_class(settings) -> type:
    return ReplayDownloadHandler if replay_base_url(settings) else load_object(LIVE_HTTP_HANDLER)


class ReplayDownloadHandler(BaseDownloadHandler):
    """The http/https download handler of a replayed crawl: talks to the replay server."""

    lazy = True  # built on the first request: a crawl that never downloads never connects

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self.base_url = replay_base_url(crawler.settings)
        if not self.base_url:
            raise ValueError("ReplayDownloadHandler needs STOREWATCH_REPLAY_URL")
        server = urlsplit(self.base_url)
        self.host, self.port = server.hostname, server.port or 80
        self.prefix = server.path.rstrip("/")
        self.timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT")
        # Scrapy's own limits, as its HTTP handler applies them live: a larger answer is refused unread.
        self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.warnsize = crawler.settings.getint("DOWNLOAD_WARNSIZE")
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def download_request(self, request):
        timeout = request.meta.get("download_timeout") or self.timeout
        message = self._message(request, replay_url(request.url, self.prefix))
        maxsize = request.meta.get("download_maxsize", self.maxsize)
        try:
            async with asyncio.timeout(timeout or None):
                status, headers, body = await self._exchange(message, with_body=request.method != "HEAD", maxsize=maxsize)
        except TimeoutError:
            raise DownloadTimeoutError(f"replay server took longer than {timeout:g} s for {request.url}") from None
        except ConnectionRefusedError:
            raise DownloadConnectionRefusedError(f"replay server at {self.base_url} refused the connection") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as error:
            raise DownloadFailedError(f"replay server at {self.base_url}: {error!r}") from None
        except PageTooLarge as error:
            message = f"Expected to receive {error.args[0]} bytes which is larger than download max size ({maxsize}) in request {request}."
            logger.warning(message)
            raise DownloadCancelledError(message) from None
        warnsize = request.meta.get("download_warnsize", self.warnsize)
        if warnsize and len(body) > warnsize:
            logger.warning("Received %d bytes which is larger than download warn size (%d) in request %s.", len(body), warnsize, request)
        response_class = responsetypes.from_args(headers=headers, url=request.url, body=body)
        return response_class(
            url=request.url, status=status, headers=headers, body=body, request=request, protocol="HTTP/1.1"
        )

    def _message(self, request, target: str) -> bytes:
        lines = [f"{request.method} {target} HTTP/1.1".encode(), f"Host: {self.host}:{self.port}".encode()]
        for name, values in request.headers.items():
            lines.extend(name + b": " + value for value in values)
        if request.body:
            lines.append(f"Content-Length: {len(request.body)}".encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + request.body

    async def _exchange(self, message: bytes, *, with_body: bool, maxsize: int) -> tuple[int, Headers, bytes]:
        """Send one request; a kept-alive connection the server closed meanwhile is retried on a new one."""
        while self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._send(reader, writer, message, with_body, maxsize)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._send(reader, writer, message, with_body, maxsize)

    async def _send(self, reader, writer, message: bytes, with_body: bool, maxsize: int) -> tuple[int, Headers, bytes]:
        try:
            writer.write(message)
            status_line, _, head = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
            headers = Headers()
            for line in head.split(b"\r\n"):
                if line:
                    name, _, value = line.partition(b":")
                    headers.appendlist(name.strip(), value.strip())
            status = int(status_line.split(b" ", 2)[1])
            length = int(headers.get(b"Content-Length") or 0) if with_body else 0  # a HEAD answer has no body
            if maxsize and length > maxsize:
                raise PageTooLarge(length)  # the connection is closed below, its body never read
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if (headers.get(b"Connection") or b"").lower() == b"close":
            writer.close()
        else:
            self.idle.append((reader, writer))
        return status, headers, body

    async def close(self) -> None:
        for _reader, writer in self.idle:
            writer.close()
        self.idle.clear()
