"""`storewatch accept`: a person vouches for a suspect run, and the changes and removals it held are applied."""

from __future__ import annotations

from typing import Annotated

import typer

from crawler.cli.common import DbOption, print_line
from crawler.cli.crawl import print_summary
from storage.db import open_database
from storage.writer import accept_run


def accept(
    run: Annotated[int, typer.Argument(help="The suspect run (see `storewatch runs --status suspect`)")],
    db: DbOption = None,
) -> None:
    """Accept a suspect run: its drop is real, so apply the removals and changes it held, as of the run.

    A run is suspect when its listing named far fewer models than the store's recent complete runs (or
    none, or a document of the wrong shape); it recorded only additions and returns. Check the store
    first (`storewatch diff STORE --from run:PREVIOUS --to run:RUN` shows what it saw), then accept it.
    Only the store's latest run can be accepted: a later good run settles a suspect one by itself.

    Example:

    \b
        storewatch runs --status suspect
        storewatch accept 42
    """
    engine = open_database(db, create=False, writable=True)
    summary = accept_run(engine, run)
    print_line(f"run {run} accepted: now complete")
    print_summary(summary.as_dict())
