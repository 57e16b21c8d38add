"""The `storewatch` entry point: registers the commands and turns user errors into one line on stderr."""

from __future__ import annotations

import sys

import typer

from crawler.cli import accept, admin, backfill, crawl, demo, diff, query, report, service
from crawler.cli.common import stderr
from storage.errors import StorewatchError

app = typer.Typer(
    name="storewatch",
    help="Track machine-learning model stores over time: crawl, keep every snapshot, see what changed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.command()(crawl.crawl)
app.command()(backfill.backfill)
app.command()(query.runs)
app.command()(accept.accept)
app.command()(query.models)
app.command()(query.history)
app.command()(query.stores)
app.command()(diff.diff)
app.command()(diff.compare)
app.command()(report.report)
app.command()(demo.demo)
app.command()(service.schedule)
app.command()(service.status)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.replay_app, name="replay")


def main() -> None:
    try:
        app()
    except StorewatchError as error:
        stderr.print(f"error: {error}", highlight=False, markup=False)
        sys.exit(2)
    except KeyboardInterrupt:
        stderr.print("interrupted", highlight=False)
        sys.exit(130)
