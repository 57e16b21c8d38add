"""What every command shares: the --db option, the --fail help, output formats and printing (store text always
as plain text)."""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crawler.safetext import csv_cell, json_line_with_id, json_text, strip_controls
from storage.db import open_database

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL or SQLite path [default: $STOREWATCH_DATABASE_URL or ./data/storewatch.db]"),
]

FAULT_HELP = (
    "requests whose /HOST/PATH?QUERY matches the glob PATTERN get ACTION instead: a status (503), empty, html,"
    " reset, truncate:BYTES, slow:SECONDS or json:BODY; repeat for more rules, the first match wins"
)

stdout = Console(soft_wrap=True)
if not stdout.is_terminal:  # piped output: do not fold tables to 80 columns
    stdout = Console(soft_wrap=True, width=200)
stderr = Console(stderr=True, soft_wrap=True)


FORMAT_ALIASES = {"table": "text"}  # `table` was the name of `text` before every command had both


def format_option(*choices: str) -> Any:
    """The `--format` option of a command that prints a table: one of `choices` (`table` is read as `text`).

    `text` is the table for a terminal, `json` the data with every field, `csv` one row per table row."""

    def parse(value: str) -> str:
        value = FORMAT_ALIASES.get(value, value)
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return typer.Option("--format", parser=parse, metavar=f"[{'|'.join(choices)}]", help="Output format", show_default=True)


def database(db: str | None):
    """The database a read command reads: a SQLite file that does not exist is an error, not created."""
    return open_database(db, create=False)


def plain(value: str) -> Text:
    """Text shown as it is: never read as rich markup or emoji codes, control characters stripped."""
    return Text(strip_controls(value))


def print_line(line: str, *, console: Console = stdout) -> None:
    """One line that may quote store text, printed as plain text."""
    console.out(strip_controls(line), highlight=False)


def print_lines(lines: Iterable[str]) -> None:
    """Many lines that may quote store text, as print_line prints them (controls stripped, tabs expanded),
    written straight to the output as they come: rich takes ~0.3 s to render the 800 kB of a diff of 5,000
    changed models, a write takes a few milliseconds."""
    output = stdout.file
    for line in lines:
        output.write(strip_controls(line).expandtabs(stdout.tab_size) + "\n")


def print_json(value: Any, *, plain: bool = False) -> None:
    """`value` as indented JSON; `plain`: made of JSON's own types, no NaN or infinity (written faster)."""
    sys.stdout.write(json_text(value, plain=plain) + "\n")


def print_json_stream(rows: Iterable[dict[str, Any]]) -> None:
    """The rows as one JSON array, exactly as print_json prints a list of them, written row by row."""
    empty = True
    for row in rows:
        sys.stdout.write(("[\n  " if empty else ",\n  ") + json_text(row).replace("\n", "\n  "))  # JSON strings hold no raw newline
        empty = False
    sys.stdout.write("[]\n" if empty else "\n]\n")


def print_jsonl(rows: Iterable[tuple[str, str]]) -> None:
    """(model_id, elements JSON text) rows as one JSON object a line, written as they come."""
    for model_id, elements_json in rows:
        sys.stdout.write(json_line_with_id(model_id, elements_json) + "\n")


def print_csv(rows: Iterable[dict[str, Any]], columns: list[str], *, raw: bool = False) -> None:
    """CSV on stdout; unless `raw`, cells a spreadsheet would run as formulas are quoted (see csv_cell)."""
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: cell_text(row.get(key)) if raw else csv_cell(cell_text(row.get(key))) for key in columns})


def print_table(rows: list[dict[str, Any]], columns: list[str], *, title: str | None = None, limit: int | None = 80) -> None:
    """A table for a terminal; each cell on one line, cut at `limit` characters (None: whole, folded)."""
    table = Table(title=plain(title) if title else None, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(plain(column), overflow="fold")
    for row in rows:
        table.add_row(*(plain(cell_text(row.get(column), limit=limit)) for column in columns))
    stdout.print(table)


def print_rows(
    format: str, rows: list[dict[str, Any]], columns: list[str], *, data: Any = None, raw: bool = False, limit: int | None = 80
) -> None:
    """A command's table in the chosen format: `text` (a table of `columns`), `csv` (the same columns, a line per
    row) or `json` (`data`, else the rows with every field they have)."""
    if format == "json":
        print_json(rows if data is None else data)
    elif format == "csv":
        print_csv(rows, columns, raw=raw)
    else:
        print_table(rows, columns, limit=limit)


def cell_text(value: Any, limit: int | None = None) -> str:
    """A value as table or CSV text; with a limit, folded onto one line and cut short."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if limit is None:
        return text
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_instant(value: str | None) -> str:
    """An ISO instant as a date when it falls at midnight UTC (snapshot dates do)."""
    return value.removesuffix("T00:00:00Z") if value else ""


class PlainFormatter(logging.Formatter):
    """Log lines quote store text (error summaries, URLs): control characters are stripped from them."""

    def format(self, record: logging.LogRecord) -> str:
        return strip_controls(super().format(record))


@contextmanager
def streamed_output() -> Iterator[None]:
    """Output piped into a reader that stops early (`| head`): end quietly, as `cat` does, not with a traceback."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the interpreter's final flush must not fail too
        raise typer.Exit(141) from None  # 128 + SIGPIPE, a shell's status for a pipe's writer


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C during a crawl: the runs were recorded partial (or closed) already; say so and exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        print_line("interrupted: the crawl stopped; its run is recorded partial and nothing was removed", console=stderr)
        raise typer.Exit(130) from None


class ProgressLine:
    """One stderr line, rewritten as a long command goes, on a terminal only (as a crawl's progress line)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.shown = False

    def show(self, text: str) -> None:
        if not stderr.is_terminal:
            return
        stderr.file.write(f"\r\033[K{self.label} {text}")
        stderr.file.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            stderr.file.write("\r\033[K")
            stderr.file.flush()
