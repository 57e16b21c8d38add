"""The replay server: answers `GET /<host>/<path>?<query>` from a snapshot directory, as the live host did.

It speaks HTTP/1.1 with keep-alive on asyncio and runs in its own process (`python -m crawler.replay_server`),
so it gets its own core and starts fast: this module imports nothing but the standard library. Python's stock
`http.server` (one connection per request) manages only about 200 requests/s; this one serves a crawl at the
rate Scrapy can take it.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import mimetypes
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

SNAPSHOT_FILE = "SNAPSHOT.json"


class BadFaultRule(ValueError):
    """A --fail rule that is not PATTERN=STATUS."""


def local_path(root: Path, target: str) -> Path | None:
    """The file that answers request target `/<host>/<path>?<query>`, or None if it would leave `root`."""
    parts = urlsplit(target)
    relative = unquote(parts.path).lstrip("/")
    if parts.query:
        relative += "?" + parts.query
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    return candidate


def content_type(path: Path, body: bytes) -> str:
    guessed, _ = mimetypes.guess_type(path.name.split("?")[0])
    if guessed:
        return guessed if not guessed.startswith("text/") else f"{guessed}; charset=utf-8"
    head = body[:64].lstrip()
    if head[:1] in (b"{", b"["):
        return "application/json; charset=utf-8"
    if head[:1] == b"<":
        return "text/html; charset=utf-8" if b"<?xml" not in head else "application/xml"
    return "text/plain; charset=utf-8"


class ReplayHandler:
    """Answers requests from one snapshot directory; `faults` maps a path glob to the status it must return."""

    def __init__(self, root: Path, faults: dict[str, int] | None = None) -> None:
        self.root = root.resolve()
        self.faults = faults or {}
        self.requests = 0

    def respond(self, method: str, target: str) -> tuple[int, bytes, str]:
        self.requests += 1
        for pattern, status in self.faults.items():
            if fnmatch.fnmatchcase(target, pattern):
                return status, f"replay fault {status}\n".encode(), "text/plain"
        path = local_path(self.root, target)
        if path is None or not path.is_file() or path.name == SNAPSHOT_FILE:
            return 404, b"not in this snapshot\n", "text/plain"
        body = path.read_bytes()
        return 200, body, content_type(path, body)

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                keep_alive, body_length = True, 0
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"connection" and b"close" in value.lower():
                        keep_alive = False
                    elif name == b"content-length" and value.strip().isdigit():
                        body_length = int(value)
                if body_length:
                    await reader.readexactly(body_length)  # unread, it would be taken for the next request
                try:
                    method, target, _version = request_line.decode("latin-1").split()
                except ValueError:
                    break
                status, body, kind = self.respond(method, target)
                head = (
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
                    f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                    f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
                ).encode("latin-1")
                writer.write(head if method == "HEAD" else head + body)
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


_REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


async def _serve(handler: ReplayHandler, port: int) -> None:
    server = await asyncio.start_server(handler.serve_connection, "127.0.0.1", port, backlog=256)
    bound = server.sockets[0].getsockname()[1]
    print(f"replaying {handler.root} on http://127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


def serve(directory: str | os.PathLike, port: int = 8000, faults: dict[str, int] | None = None) -> None:
    """Serve a snapshot in the foreground until interrupted."""
    handler = ReplayHandler(Path(directory), faults)
    try:
        asyncio.run(_serve(handler, port))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        raise SystemExit(f"error: cannot listen on 127.0.0.1:{port}: {error.strerror}") from None


def parse_faults(values: list[str]) -> dict[str, int]:
    """`PATTERN=STATUS` pairs, e.g. `/api.github.com/*=500`."""
    faults = {}
    for value in values:
        pattern, _, status = value.rpartition("=")
        if not pattern or not status.isdigit():
            raise BadFaultRule(f"not a fault rule: {value!r} (expected PATTERN=STATUS, e.g. '/api.github.com/*=500')")
        faults[pattern] = int(status)
    return faults


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m crawler.replay_server", description="Serve one snapshot directory.")
    parser.add_argument("directory")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fail", action="append", default=[], metavar="PATTERN=STATUS")
    args = parser.parse_args(argv)
    serve(args.directory, args.port, parse_faults(args.fail))


if __name__ == "__main__":
    main()
