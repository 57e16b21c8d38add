"""Datasette over one storewatch SQLite file, read-only, with the metadata and SQL functions of this package."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import uvicorn
from datasette import hookimpl
from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm

from queryui.functions import add_functions
from queryui.metadata import DATABASE_NAME, datasette_metadata
from storage.errors import StorewatchError

SETTINGS = {
    # A store as of a date is one row per model: show a store of a few thousand models whole. Larger answers
    # come back cut at this many rows, marked "truncated" (the tables' own pages have no such limit).
    "max_returned_rows": 10000,
    # The diff and same-name queries read every version of a store: 0.05 s on the demo's 1,300 TF Hub models,
    # past Datasette's default 1 s on a store a hundred times larger.
    "sql_time_limit_ms": 10000,
}


@hookimpl
def prepare_connection(conn) -> None:
    add_functions(conn)


def build(path: Path) -> Datasette:
    """Datasette over the file at `path`, opened read-only (not immutable: a crawl may be writing it)."""
    datasette = Datasette(metadata=datasette_metadata(), settings=SETTINGS)
    datasette.remove_database("_memory")  # Datasette adds it when started without files; it holds nothing
    datasette.add_database(Database(datasette, path=str(path), is_mutable=True), name=DATABASE_NAME)
    if not pm.is_registered(sys.modules[__name__]):
        pm.register(sys.modules[__name__], name="storewatch")
    return datasette


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (port 0: any free port); a one-line error when it cannot."""
    sock = None
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, protocol)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: restart while old connections linger
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        if sock is not None:
            sock.close()
        raise StorewatchError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def serve(path: Path, host: str, port: int, announce) -> None:
    """Serve until Ctrl-C (then return, as `replay serve` does); `announce(url)` is called once the server listens."""
    sock = listen(host, port)
    try:
        datasette = build(path)
        asyncio.run(datasette.invoke_startup())
        server = uvicorn.Server(uvicorn.Config(datasette.app(), log_level="warning", lifespan="on"))
        url_host = f"[{host}]" if ":" in host else host
        announce(f"http://{url_host}:{sock.getsockname()[1]}/{DATABASE_NAME}")
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C while starting, or after uvicorn's own shutdown (which raises it again)
        pass
    finally:
        sock.close()
