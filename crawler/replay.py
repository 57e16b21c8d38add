"""Snapshot directories and the replay server that serves one as if it were the live stores.

A snapshot maps `GET https://<host>/<path>?<query>` to the file `<snapshot>/<host>/<path>?<query>`; the server
takes requests of the form `GET /<host>/<path>?<query>` and answers from that file (404 when it is absent).
It speaks HTTP/1.1 with keep-alive on asyncio, and runs in its own process so that it gets its own core:
Python's stock `http.server` (one connection per request) manages only about 200 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import mimetypes
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from storage.errors import StorewatchError
from storage.timeutil import parse_instant

SNAPSHOT_FILE = "SNAPSHOT.json"


@dataclass(frozen=True)
class Snapshot:
    """A recorded snapshot directory and what its SNAPSHOT.json says about it."""

    path: Path
    store: str
    observed_at: datetime
    source: str

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Snapshot":
        path = Path(directory)
        meta_file = path / SNAPSHOT_FILE
        if not path.is_dir():
            raise StorewatchError(f"snapshot directory not found: {path}")
        try:
            meta = json.loads(meta_file.read_text())
            observed_at = parse_instant(meta["observed_at"], end_of_day=False)
            store = meta["store"]
        except FileNotFoundError:
            raise StorewatchError(f"not a snapshot directory (no {SNAPSHOT_FILE}): {path}") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise StorewatchError(f"unreadable {meta_file}: {error!r}") from None
        source = meta.get("source", {})
        described = source.get("repository", "") if isinstance(source, dict) else str(source)
        if isinstance(source, dict) and source.get("commit"):
            described += f"@{source['commit']}"
        return cls(path=path.resolve(), store=store, observed_at=observed_at, source=f"replay:{path.name} {described}".strip())


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
                keep_alive = True
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    if line.lower().startswith(b"connection:") and b"close" in line.lower():
                        keep_alive = False
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
        raise StorewatchError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from None


class ReplayServer:
    """A replay server in a child process, for the duration of a `with` block; `.url` is its base URL."""

    def __init__(self, directory: str | os.PathLike, faults: dict[str, int] | None = None) -> None:
        self.directory = Path(directory)
        self.faults = faults or {}
        self.url = ""
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "ReplayServer":
        command = [sys.executable, "-m", "crawler.replay", str(self.directory), "--port", "0"]
        for pattern, status in self.faults.items():
            command += ["--fail", f"{pattern}={status}"]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        first_line = self._process.stdout.readline()
        if " on " not in first_line:
            self.__exit__(None, None, None)
            raise StorewatchError(f"replay server for {self.directory} did not start")
        self.url = first_line.rsplit(" on ", 1)[1].strip()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process.stdout.close()
            self._process = None


def parse_faults(values: list[str]) -> dict[str, int]:
    """`PATTERN=STATUS` pairs, e.g. `/api.github.com/*=500`."""
    faults = {}
    for value in values:
        pattern, _, status = value.rpartition("=")
        if not pattern or not status.isdigit():
            raise StorewatchError(f"not a fault rule: {value!r} (expected PATTERN=STATUS, e.g. '/api.github.com/*=500')")
        faults[pattern] = int(status)
    return faults


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m crawler.replay", description="Serve one snapshot directory.")
    parser.add_argument("directory")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fail", action="append", default=[], metavar="PATTERN=STATUS")
    args = parser.parse_args(argv)
    serve(args.directory, args.port, parse_faults(args.fail))


if __name__ == "__main__":
    main()
