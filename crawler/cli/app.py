"""The `storewatch` entry point: registers the commands and turns user errors into one line on stderr."""

from __future__ import annotations

import sys
from importlib import import_module

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer bundles click from 0.29 on

from crawler.cli.common import print_line, stderr
from storage.errors import StorewatchError

# Each command: (name, module in crawler/cli, function), in the order `storewatch --help` lists them. A command's
# module is imported only when it runs (all of them for the list): `diff` need not load the crawler, the
# scheduler or the report's templates, a fifth of its start-up.
COMMANDS = (
    ("crawl", "crawl", "crawl"),
    ("backfill", "backfill", "backfill"),
    ("reextract", "reextract", "reextract"),
    ("import", "dump", "import_dump"),
    ("runs", "query", "runs"),
    ("accept", "accept", "accept"),
    ("models", "query", "models"),
    ("history", "query", "history"),
    ("metrics", "query", "metrics"),
    ("stores", "query", "stores"),
    ("export", "export", "export"),
    ("diff", "diff", "diff"),
    ("compare", "diff", "compare"),
    ("report", "report", "report"),
    ("demo", "demo", "demo"),
    ("schedule", "service", "schedule"),
    ("status", "service", "status"),
    ("serve", "serve", "serve"),
)
GROUPS = (("db", "admin", "db_app"), ("replay", "admin", "replay_app"), ("archive", "archive", "archive_app"))


def build_app(command: str | None = None) -> typer.Typer:
    """The storewatch command with every command registered, or only `command` when it names one."""
    app = typer.Typer(
        name="storewatch",
        help="Track machine-learning model stores over time: crawl, keep every snapshot, see what changed.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
    )
    known = {name for name, _, _ in COMMANDS + GROUPS}
    wanted = command if command in known else None
    if wanted:  # one command registered: still a group, so that its name is read as the command's
        app.callback()(_no_options)
    for name, module, function in COMMANDS:
        if wanted in (None, name):
            app.command(name)(getattr(import_module(f"crawler.cli.{module}"), function))
    for name, module, group in GROUPS:
        if wanted in (None, name):
            app.add_typer(getattr(import_module(f"crawler.cli.{module}"), group), name=name)
    return app


def _no_options() -> None:
    """Track machine-learning model stores over time: crawl, keep every snapshot, see what changed."""


def __getattr__(name: str):
    if name == "app":  # the whole command, for whoever inspects it (tests/test_cli.py)
        return build_app()
    raise AttributeError(name)


def main() -> None:
    try:
        app = build_app(sys.argv[1] if len(sys.argv) > 1 else None)
        status = app(args=optional_values(sys.argv[1:]), prog_name="storewatch", standalone_mode=False)
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


# Options whose value may be left out, and what they take then: Typer cannot declare such an option (it drops
# click's flag_value), so the command line is given that value here before it is parsed.
OPTIONAL_VALUES = {("backfill", "--git"): "@store"}  # = crawler.cli.backfill.OWN_REPOSITORY: the store's own repository


def optional_values(argv: list[str]) -> list[str]:
    """`argv` with the implied value after each option of OPTIONAL_VALUES given without one."""
    filled = list(argv)
    for (command, option), implied in OPTIONAL_VALUES.items():
        if filled[:1] != [command]:
            continue
        for at in reversed([i for i, arg in enumerate(filled) if arg == option]):
            if at + 1 == len(filled) or filled[at + 1].startswith("-"):
                filled.insert(at + 1, implied)
    return filled


def fail(message: str) -> None:
    """A user's mistake: one `error:` line on stderr, exit status 2, no traceback."""
    print_line(f"error: {' '.join(message.split())}", console=stderr)
    sys.exit(2)
