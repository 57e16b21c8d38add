"""The replay server: answers `GET /<host>/<path>?<query>` from a snapshot directory, as the live host did.

It speaks HTTP/1.1 with keep-alive on asyncio and runs in its own process (`python -m crawler.replay_server`),
so it gets its own core and starts fast: this module imports nothing but the standard library (a snapshot
read from WARC files, which holds an index instead of files, loads the WARC reader when first asked). Python's stock
`http.server` (one connection per request) manages only about 200 requests/s; this one serves a crawl at the
rate Scrapy can take it.

Fault rules (`--fail PATTERN=ACTION`) make it answer some requests as a failing store would, so tests and
users can rehearse outages (crawler/replay_faults.py).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import mimetypes
import os
import socket
import struct
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from crawler.replay_faults import FAULT_ACTIONS, BadFaultRule, FaultRule, parse_faults

SNAPSHOT_FILE = "SNAPSHOT.json"
# A snapshot served from WARC files (webarchive/reader.py): request target -> its recorded answers, each a
# status, headers and where its payload lies (file, offset), in the order they were received.
WARC_INDEX_FILE = "WARC_INDEX.json"
# A recorded answer's status and headers, beside its body file (snapshots/README.md, "Recorded headers").
META_SUFFIX = ".meta.json"
# A file name (last path segment plus query) longer than this is stored under a digest of its query: the Hub's
# listing URL with its expand[] fields passes the 255-byte limit of common file systems.
MAX_NAME_BYTES = 200
# Headers the server writes itself; a recorded value of these is not repeated.
_OWN_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "content-encoding"})
ERROR_PAGE = (  # what a CDN or a store's front end serves when the application behind it fails
    b"<!DOCTYPE html>\n<html><head><title>Something went wrong</title></head>\n"
    b"<body><h1>Something went wrong</h1>\n<p>The server is temporarily unable to service your request. "
    b"Please try again later.</p>\n<p>Reference: replay fault</p></body></html>\n"
)


def local_path(root: Path, target: str) -> Path | None:
    """The file that answers request target `/<host>/<path>?<query>`, or None if it would leave `root`."""
    parts = urlsplit(target)
    relative = unquote(parts.path).lstrip("/")
    if parts.query:
        relative += "?" + parts.query
        name = relative.rsplit("/", 1)[-1]
        # A name the file system took as it is (up to 255 bytes: the Wayback CDX resumption queries) stays so.
        if len(name.encode()) > MAX_NAME_BYTES and not _is_file(root / relative):
            relative = relative[: len(relative) - len(parts.query)] + query_digest(parts.query)
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    return candidate


def warc_index_key(target: str) -> str:
    """How a request target `/<host>/<path>?<query>` is looked up in a WARC index: its path unescaped, as
    `local_path` lays files out, so that either spelling of a URL finds its answer."""
    parts = urlsplit(target)
    return unquote(parts.path).lstrip("/") + (f"?{parts.query}" if parts.query else "")


def _is_file(path: Path) -> bool:
    """Path.is_file, False for a name too long for the file system (a long file's sidecar may be)."""
    try:
        return path.is_file()
    except OSError:
        return False


def query_digest(query: str) -> str:
    """The stored stand-in for a query string too long for a file name: `sha256-` and 16 hex digits of it."""
    return "sha256-" + hashlib.sha256(query.encode()).hexdigest()[:16]


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


@dataclass(frozen=True)
class Answer:
    """What the server does with one request: send this answer (after `delay` seconds), or reset the connection."""

    status: int
    body: bytes = b""
    kind: str = "text/plain"
    delay: float = 0.0
    reset: bool = False
    headers: tuple[tuple[str, str], ...] = ()  # recorded response headers (Link, RateLimit...), sent as they were


class ReplayHandler:
    """Answers requests from one snapshot directory, unless the first fault rule matching a request says otherwise."""

    def __init__(self, root: Path, faults: list[FaultRule] | None = None) -> None:
        self.root = root.resolve()
        self.faults = faults or []
        self.requests = 0
        # A file's (or, served from WARC files, a URL's) recorded answers served so far: a recorded refusal (a 429)
        # answers the first request(s), then the page.
        self.answered: dict[str, int] = {}
        index = self.root / WARC_INDEX_FILE
        self.warc_answers: dict[str, list[dict]] | None = json.loads(index.read_bytes()) if index.is_file() else None

    def respond(self, method: str, target: str) -> Answer:
        self.requests += 1
        rule = next((rule for rule in self.faults if rule.matches(target)), None)
        if rule is None:
            return self.snapshot_answer(target)
        if rule.action.isdigit():
            return Answer(int(rule.action), f"replay fault {rule.action}\n".encode())
        if rule.action == "json":
            return Answer(200, rule.argument.encode(), "application/json; charset=utf-8")
        if rule.action == "html":
            return Answer(200, ERROR_PAGE, "text/html; charset=utf-8")
        if rule.action == "reset":
            return Answer(0, reset=True)
        real = self.snapshot_answer(target)
        if rule.action == "slow":
            return replace(real, delay=float(rule.argument))
        if rule.action == "empty":  # labelled as the real answer would be: an empty JSON document, say
            return Answer(200, b"", real.kind if real.status == 200 else "text/plain")
        if real.status != 200:  # truncate: nothing to cut, the snapshot's own answer stands
            return real
        return replace(real, body=real.body[: int(rule.argument)])

    def snapshot_answer(self, target: str) -> Answer:
        if self.warc_answers is not None:
            return self.archived_answer(target)
        path = local_path(self.root, target)
        if path is None or not path.is_file() or path.name == SNAPSHOT_FILE or path.name.endswith(META_SUFFIX):
            return Answer(404, b"not in this snapshot\n")
        meta_file = path.with_name(path.name + META_SUFFIX)
        meta = json.loads(meta_file.read_bytes()) if _is_file(meta_file) else {}
        served = self.answered.get(str(path), 0)
        first = meta.get("first", [])
        if served < len(first):  # a recorded refusal (a 429, say) answers the first request(s), then the file
            self.answered[str(path)] = served + 1
            return recorded_answer(first[served], first[served].get("body", "").encode(), path)
        return recorded_answer(meta, path.read_bytes(), path)

    def archived_answer(self, target: str) -> Answer:
        """The answer recorded in a WARC file for `target`: as with `first` answers, a URL answered several times
        (a 429, then the page) gets them in turn, then the last one again."""
        from webarchive.warc_records import payload_at  # warcio, only for a snapshot read from WARC files

        key = warc_index_key(target)
        answers = self.warc_answers.get(key)
        if not answers:
            return Answer(404, b"not in this snapshot\n")
        served = self.answered.get(key, 0)
        self.answered[key] = served + 1
        answer = answers[min(served, len(answers) - 1)]
        return recorded_answer(answer, payload_at(answer["warc"], answer["offset"]), Path(key))

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
                answer = self.respond(method, target)
                if answer.delay:
                    await asyncio.sleep(answer.delay)  # this connection waits; the others are served meanwhile
                if answer.reset:
                    reset(writer)
                    return
                recorded = "".join(f"{name}: {value}\r\n" for name, value in answer.headers)
                head = (
                    f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Status')}\r\n"
                    f"Content-Type: {answer.kind}\r\nContent-Length: {len(answer.body)}\r\n{recorded}"
                    f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
                ).encode("latin-1")
                writer.write(head if method == "HEAD" else head + answer.body)
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def recorded_answer(meta: dict, body: bytes, path: Path) -> Answer:
    """An answer as recorded: `meta` holds its status (default 200) and headers (name -> value or list of values);
    a recorded Content-Type wins over the one guessed from the file."""
    headers = [
        (name, value)
        for name, values in meta.get("headers", {}).items()
        for value in (values if isinstance(values, list) else [values])
        if name.lower() not in _OWN_HEADERS
    ]
    kind = next((value for name, value in headers if name.lower() == "content-type"), None) or content_type(path, body)
    headers = tuple((name, value) for name, value in headers if name.lower() != "content-type")
    return Answer(meta.get("status", 200), body, kind, headers=headers)


def reset(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a TCP reset and no answer: SO_LINGER 0, then close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


_REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


async def _serve(handler: ReplayHandler, port: int) -> None:
    server = await asyncio.start_server(handler.serve_connection, "127.0.0.1", port, backlog=256)
    bound = server.sockets[0].getsockname()[1]
    print(f"replaying {handler.root} on http://127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


def serve(directory: str | os.PathLike, port: int = 8000, faults: list[FaultRule] | None = None) -> None:
    """Serve a snapshot in the foreground until interrupted."""
    handler = ReplayHandler(Path(directory), faults)
    try:
        asyncio.run(_serve(handler, port))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        raise SystemExit(f"error: cannot listen on 127.0.0.1:{port}: {error.strerror}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m crawler.replay_server", description="Serve one snapshot directory.")
    parser.add_argument("directory")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fail", action="append", default=[], metavar="PATTERN=ACTION", help=f"ACTION: {FAULT_ACTIONS}")
    parser.add_argument("--parent", type=int, default=0, help="end when this process (the crawl) ends")
    args = parser.parse_args(argv)
    if args.parent:
        _die_with(args.parent)
    try:
        faults = parse_faults(args.fail)
    except BadFaultRule as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    serve(args.directory, args.port, faults)


def _die_with(parent: int) -> None:
    """End with the crawl that started this server, however it ends: a Scrapyd job killed with SIGKILL leaves no
    one to stop its server, and Scrapyd counts the job running while the server holds the job's output open."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the crawl ended before the call above
        raise SystemExit(0)


if __name__ == "__main__":
    main()
