"""The `storewatch` entry point: registers the commands and turns user errors into one line on stderr."""

from __future__ import annotations

import sys

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer bundles click from 0.29 on

from crawler.cli import accept, admin, backfill, crawl, demo, diff, dump, export, query, report, serve, service
from crawler.cli.common import print_line, stderr
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
app.command("import")(dump.import_dump)
app.command()(query.runs)
app.command()(accept.accept)
app.command()(query.models)
app.command()(query.history)
app.command()(query.metrics)
app.command()(query.stores)
app.command()(export.export)
app.command()(diff.diff)
app.command()(diff.compare)
app.command()(report.report)
app.command()(demo.demo)
app.command()(service.schedule)
app.command()(service.status)
app.command()(serve.serve)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.replay_app, name="replay")


def main() -> None:
    try:
        status = app(prog_name="storewatch", standalone_mode=False)
    except StorewatchError as error:
        fail(str(error))
    except NoArgsIsHelpError as error:  # `storewatch` or `storewatch db` alone: the help, as before
        error.show()
        sys.exit(error.exit_code)
    except UsageError as error:  # an unknown option, a bad value: one line instead of click's usage box
        where = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
        fail(f"{error.format_message()}{where}")
    except KeyboardInterrupt:
        print_line("interrupted", console=stderr)
        sys.exit(130)
    sys.exit(status if isinstance(status, int) else 0)  # typer.Exit(N) comes back as N


def fail(message: str) -> None:
    """A user's mistake: one `error:` line on stderr, exit status 2, no traceback."""
    print_line(f"error: {' '.join(message.split())}", console=stderr)
    sys.exit(2)
