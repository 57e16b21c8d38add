"""`storewatch import`: record a run from a published dump of a store's API records (JSONL or Parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crawler.cli.common import DbOption, ProgressLine, print_line, stderr
from crawler.cli.crawl import HealthConfigOption, run_notifier, health_policy, print_summary
from crawler.schedule_config import load_config
from crawler.stores import check_store, known_stores
from storage.db import open_database
from storage.timeutil import parse_instant
from storage.wording import plural


def import_dump(
    store: Annotated[str, typer.Argument(help="Store the records belong to (see `storewatch stores`)")],
    file: Annotated[Path, typer.Argument(help="The dump: .jsonl or .jsonl.gz (one API record a line) or .parquet")],
    observed_at: Annotated[
        str, typer.Option("--observed-at", help="When the dump was taken: a date (its midnight, UTC) or an ISO 8601 instant")
    ],
    db: DbOption = None,
    config: HealthConfigOption = None,
) -> None:
    """Record one run of STORE from a dump of its API records, as if the store had been crawled at --observed-at.

    The records go through the store's own extraction and the same writer as a crawl; a line that is not a JSON
    object is counted and makes the run partial (nothing removed). Dumps are imported oldest first: one observed
    before the store's latest run is refused. Exit status 1 when the run is failed or suspect.

    Example:

    \b
        storewatch import onnx_zoo manifest-2023-12-26.jsonl --observed-at 2023-12-26
        storewatch import huggingface models.parquet --observed-at 2025-03-02T06:00:00Z
    """
    from crawler import settings as default_settings
    from crawler.dump_import import ImportJob, check_dump, import_dump as record_dump, importer_for
    from crawler.runner import spider_class
    from storage.writer import check_time_order

    check_store(store)
    at = parse_instant(observed_at, end_of_day=False)
    importer_for(store)
    check_dump(file)  # a missing or unreadable file fails here, before the database is touched
    settings = load_config(config, known_stores=known_stores())
    spider = spider_class(store)
    job = ImportJob(
        store,
        file,
        at,
        spider_version=f"{store}/{spider.version}",
        required=spider.store_config.required_elements,
        policy=health_policy(settings, store),
        max_raw_bytes=default_settings.STOREWATCH_MAX_RAW_BYTES,
    )
    engine = open_database(db, writable=True)
    check_time_order(engine, store, at, what=f"dump {file.name}")  # the writer checks again under the store's lock
    progress = ProgressLine(f"{store} {file.name}:")

    def show(records: int, models: int, failures: int) -> None:
        progress.show(f"{plural(records, 'record')}, {plural(models, 'model')}, {plural(failures, 'failure')}")

    try:
        summary = record_dump(engine, job, on_progress=show)
    except KeyboardInterrupt:
        progress.clear()
        print_line("interrupted: the import stopped; its run is recorded partial and nothing was removed", console=stderr)
        raise typer.Exit(130) from None
    progress.clear()
    print_summary(summary.as_dict())
    notifier = run_notifier(settings)
    if notifier is not None:
        notifier.run_finished(engine, summary.run_id)
    if summary.status in ("failed", "suspect"):
        raise typer.Exit(1)

