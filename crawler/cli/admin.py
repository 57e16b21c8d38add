"""Commands that look after the database and the replay server: `db upgrade`, `replay serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import FAULT_HELP, DbOption, stdout
from crawler.replay import Snapshot, parse_faults, serve
from storage.db import database_url, display_url, open_database

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
replay_app = typer.Typer(help="Serve recorded snapshots as if they were the live stores.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create or upgrade the schema to the latest migration.

    Example:

    \b
        storewatch db upgrade --db postgresql://localhost/storewatch
    """
    engine = open_database(db, writable=True)  # upgrades, or says in one line why it cannot
    stdout.print(f"schema up to date: {display_url(engine.url)}", highlight=False, markup=False)


@replay_app.command("serve")
def replay_serve(
    directory: Annotated[Path, typer.Argument(help="Snapshot directory (holds SNAPSHOT.json)")],
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)")] = 8000,
    fail: Annotated[list[str] | None, typer.Option("--fail", metavar="PATTERN=ACTION", help=f"Rehearse an outage: {FAULT_HELP}")] = None,
) -> None:
    """Serve a snapshot on 127.0.0.1: GET /<host>/<path>?<query> answers what https://<host>/<path>?<query> served.

    Example:

    \b
        storewatch replay serve snapshots/onnx_zoo/2023-12-26 --port 8000
        curl http://127.0.0.1:8000/raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json
        storewatch replay serve snapshots/onnx_zoo/2023-12-26 --fail 'raw.githubusercontent.com/onnx/*=html'
    """
    faults = parse_faults(fail or [])
    snapshot = Snapshot.load(directory)
    stdout.print(f"{snapshot.store} as observed {snapshot.observed_at:%Y-%m-%d}; Ctrl-C stops", highlight=False)
    serve(snapshot.path, port, faults)


__all__ = ["db_app", "replay_app", "database_url"]
