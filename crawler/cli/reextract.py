"""`storewatch reextract`: rebuild a store's history from its web archive with today's spider, and compare."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import DbOption, format_option, interruptible, print_line, stderr, stdout
from crawler.cli.crawl import HealthConfigOption, health_policy, print_summary
from crawler.schedule_config import load_config
from crawler.stores import known_stores
from crawler.stores import check_store
from storage import queries
from storage.db import open_database
from storage.errors import StorewatchError
from storage.timeutil import parse_instant


def reextract(
    store: Annotated[str, typer.Argument(help="Store whose archived runs to re-extract (see `storewatch stores`)")],
    into: Annotated[
        str | None,
        typer.Option("--into", help="Database URL or SQLite path to record the rebuilt history in (it must hold no run of STORE)"),
    ] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First run to re-extract: observed on or after this date (YYYY-MM-DD)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last run to re-extract: observed on or before this date")] = None,
    in_place: Annotated[
        bool,
        typer.Option("--in-place", help="Then replace STORE's history in --db with the rebuilt one (the whole history; atomic)"),
    ] = False,
    output: Annotated[str, format_option("text", "json")] = "text",
    config: HealthConfigOption = None,
    db: DbOption = None,
) -> None:
    """Replay STORE's archived runs (WARC files, revisits resolved) through today's spider, record each again at
    its original date into another database, and print how the rebuilt history differs: per element, how many
    versions differ, and versions found on one side only.

    With the extractor unchanged, nothing differs. With --in-place, the store's history in --db is replaced by
    the rebuilt one in one transaction (runs keep their numbers), holding the store's writer lock throughout, and
    only when every run was rebuilt as it ended the first time (no damaged archive, no run that failed, stopped
    short or was held where its original was not: otherwise one `error:` line says why, exit status 1); --into
    is then optional (a temporary file). Runs recorded without an archive cannot be re-extracted and are listed. Exit
    status 1 when an archive file was damaged (its run is rebuilt `partial`, from what could be read).

    Example:

    \b
        storewatch reextract pytorch_hub --into rebuilt.db
        storewatch reextract tfhub --from 2021-01-01 --into postgresql://localhost/rebuilt
        storewatch reextract onnx_zoo --in-place
    """
    from webarchive.reextract import reextract as run_reextract  # Scrapy is imported only by commands that crawl

    check_store(store)
    since = parse_instant(from_, end_of_day=False) if from_ else None
    until = parse_instant(to) if to else None
    if since and until and since > until:
        raise StorewatchError(f"--from {from_} is after --to {to}")
    if into is None and not in_place:
        raise StorewatchError("say where the rebuilt history goes: --into DATABASE (or --in-place)")
    settings = load_config(config, known_stores=known_stores())  # the crawl-health rules the runs were recorded under
    engine = open_database(db, writable=in_place, create=False)
    try:
        with tempfile.TemporaryDirectory(prefix="storewatch-rebuilt-") as scratch:
            target = into or f"sqlite:///{Path(scratch) / 'rebuilt.db'}"
            with interruptible():
                result = run_reextract(
                    engine, store, target, since=since, until=until, in_place=in_place,
                    on_result=RebuiltRuns(target, store).print_new if output == "text" else lambda summary: None,
                    progress=stderr.is_terminal,
                    policy=health_policy(settings, store), scope=settings.scopes.get(store, {}),
                )
    finally:
        engine.dispose()
    for line in result.skipped:
        print_line(f"skipped: {line}", console=stderr)
    for problem in result.damaged:
        print_line(f"error: {problem}", console=stderr)
    difference = result.difference
    if output == "json":
        report = {"store": store, "runs": len(result.runs), "skipped": result.skipped, "replaced": result.replaced, "refused": result.refused}
        stdout.out(json.dumps({**report, **difference.as_dict()}, indent=2))
    else:
        print_difference(store, len(result.runs), difference, result.replaced, in_place)
    if result.refused:
        print_line(f"error: {store}: --in-place replaced nothing: {result.refused}", console=stderr)
    if result.damaged or result.refused:
        raise typer.Exit(1)


class RebuiltRuns:
    """Prints each run as it is rebuilt: after each crawl, the runs it recorded (a backfill's crawl records several)."""

    def __init__(self, target: str, store: str) -> None:
        self.target, self.store, self.printed = target, store, 0

    def print_new(self, summary: dict) -> None:
        engine = open_database(self.target)
        try:
            runs = queries.list_runs(engine, self.store)
        finally:
            engine.dispose()
        for run in runs[self.printed :]:
            print_summary(run)
        self.printed = len(runs)


def print_difference(store: str, runs: int, difference, replaced: bool, in_place: bool) -> None:
    if difference.identical:
        print_line(f"{store}: {runs} runs re-extracted, {difference.original:,} versions: identical to the recorded history")
        if replaced:
            print_line(f"{store}: the recorded history was replaced by the rebuilt one (its counters and counts too)")
        return
    print_line(f"{store}: {runs} runs re-extracted: {difference.original:,} versions recorded, {difference.rebuilt:,} rebuilt")
    for element, count in sorted(difference.elements.items(), key=lambda item: (-item[1], item[0])):
        print_line(f"  {element:<20} {count:>8,} versions differ")
    for label, count in (
        ("only in the recorded history", difference.only_original),
        ("only in the rebuilt history", difference.only_rebuilt),
        ("ending differently", difference.ended_differently),
        ("raw record only", difference.raw_only),
    ):
        if count:
            print_line(f"  {label:<28} {count:>8,} versions")
    for example in difference.examples:
        print_line(f"  e.g. {example['model_id']} from {example['valid_from'][:10]}: {example['difference']}")
    if replaced:
        print_line(f"{store}: the recorded history was replaced by the rebuilt one")
    elif not in_place:
        print_line("the recorded history is unchanged (--in-place replaces it)")
