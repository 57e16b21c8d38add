"""`storewatch serve`: the database in Datasette, a query UI in the browser (the optional extra `serve`)."""

from __future__ import annotations

from typing import Annotated

import typer

from crawler.cli.common import DbOption, database, print_line
from storage.db import database_url, display_url, parse_database_url, sqlite_file
from storage.errors import StorewatchError


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface, so your whole network can read it)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free port)")] = 8001,
    db: DbOption = None,
) -> None:
    """Browse and query the database in Datasette: every table explained, and canned queries for a store as
    of a date, the history of a model, the diff between two dates, models in several stores and the runs that
    failed. Read-only; SQLite only. Needs the extra: pip install 'storewatch[serve]'.

    Example:

    \b
        storewatch serve --port 8001
        curl 'http://127.0.0.1:8001/storewatch/store_as_of.json?store=pytorch_hub&date=2021-01-01&_shape=array'
    """
    try:
        import datasette  # noqa: F401 -- only to say what is missing before anything else
    except ImportError:
        raise StorewatchError("storewatch serve needs Datasette: pip install 'storewatch[serve]'") from None
    url = database_url(db)
    path = sqlite_file(parse_database_url(url))
    if path is None:
        raise StorewatchError(
            f"storewatch serve reads SQLite files only (Datasette cannot open {display_url(url)}); give --db a SQLite path"
        )
    database(db).dispose()  # as every read command: no such file, not a storewatch database, an old schema upgraded
    from queryui.server import serve as run_server

    run_server(path, host, port, announce=lambda url: print_line(f"Datasette on {url} (Ctrl-C stops it)"))
