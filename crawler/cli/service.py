"""`storewatch schedule` (the scheduler service, in the foreground) and `storewatch status` (for people and monitors)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from crawler.cli.common import (
    DbOption,
    PlainFormatter,
    database,
    format_option,
    print_csv,
    print_json,
    print_line,
    print_table,
    short_instant,
    stderr,
)
from crawler.stores import known_stores
from crawler.schedule_config import ServiceConfig, config_path, load_config
from storage.db import display_url, open_database
from storage.lock import scheduler_holder, store_writer
from storage.runs import running_runs, store_health
from storage.timeutil import isoformat
from storage.wording import plural

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Config file [default: $STOREWATCH_CONFIG, ./storewatch.toml, or the shipped one]"),
]


def schedule(
    config: ConfigOption = None,
    db: DbOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also log APScheduler's own messages")] = False,
) -> None:
    """Run the scheduler in the foreground: crawl each store in the config file on its schedule.

    Each crawl runs in its own process; one log line per run goes to stderr. Runs missed while the
    scheduler was down happen once at start-up; failed runs are retried with backoff. SIGTERM or Ctrl-C
    stops it cleanly: no new crawls, running ones get the grace period, then are stopped (recorded
    partial); exit status 0. Only one scheduler may run on a database; one that loses its lock (its
    PostgreSQL connection terminated) dispatches nothing more, lets running crawls finish, and exits 3.

    Example:

    \b
        storewatch schedule --config storewatch.toml --db postgresql://localhost/storewatch
    """
    import scheduler  # the service; imported here so other commands stay light

    settings = load_config(config, known_stores=known_stores())
    open_database(db, writable=True).dispose()  # a read-only database fails now, not at the first crawl
    configure_logging(verbose)
    service = scheduler.Service(settings, db)
    service.run()
    if service.lost_lock:
        raise typer.Exit(3)  # a supervisor restarts it; the next start takes the lock or says who holds it


def status(
    config: ConfigOption = None,
    format: Annotated[str, format_option("text", "json", "csv")] = "text",
    fail_after: Annotated[
        int | None, typer.Option("--fail-after", min=1, help="Unhealthy when a store's last N runs all failed [default: fail_after in the config, 3]")
    ] = None,
    db: DbOption = None,
) -> None:
    """Show each configured store: its schedule, next run, last run (what it observed, when it ran, its
    outcome), models tracked.

    A store is unhealthy when its last N runs all failed, its latest run is suspect (a drop or a listing of
    the wrong shape: removals held until a good run or `storewatch accept`), most of its latest run's model
    pages could not be read, or a run was left `running` by a process that died. Exits with status 1 when
    any store is unhealthy, so a monitor can alert on it; `--format json` gives the reasons.

    Example:

    \b
        storewatch status --format json
        storewatch status --format csv --config storewatch.toml
    """
    import scheduler

    settings = load_config(config, known_stores=known_stores())
    engine = database(db)
    threshold = fail_after or settings.fail_after
    report = status_report(settings, engine, scheduler.next_run_times(engine), threshold)
    print_status(report, format)
    unhealthy = [store for store in report["stores"] if not store["healthy"]]
    for store in unhealthy:
        print_line(f"unhealthy: {store['store']}: {'; '.join(store['health_reasons'])}", console=stderr)
    if unhealthy:
        raise typer.Exit(1)


def status_report(settings: ServiceConfig, engine, next_runs: dict[str, dict[str, Any]], fail_after: int) -> dict[str, Any]:
    """What `status` shows: the scheduler holding the database, and one entry per configured store."""
    holder = scheduler_holder(engine)
    stores = []
    for store, schedule in settings.stores.items():
        health = store_health(engine, store)
        writer = store_writer(engine, store)
        reasons = health_reasons(health, fail_after, settings.health_policy(store).max_model_failures, writer)
        upcoming = next_runs.get(store, {})
        stores.append(
            {
                "store": store,
                "schedule": schedule.describe(),
                "next_run": isoformat(upcoming.get("at")),
                "next_run_is_retry": upcoming.get("retry", False),
                "last_run": health["last_run"],
                "last_status": health["last_run"]["status"] if health["last_run"] else None,
                "consecutive_failures": health["consecutive_failures"],
                "models_tracked": health["models_tracked"],
                "crawling": writer is not None,
                "crawling_on": crawling_on(engine, store) if writer is not None else None,
                "writer": writer,
                "healthy": not reasons,
                "health_reasons": reasons,
            }
        )
    return {
        "database": display_url(engine.url),
        "config": str(settings.path or config_path()),
        "scheduler": {"running": holder is not None, "holder": holder},
        "fail_after": fail_after,
        "healthy": all(store["healthy"] for store in stores),
        "stores": stores,
    }


def crawling_on(engine, store: str) -> str | None:
    """Where the store's crawl runs now: its Scrapyd node (and job), else its process and host."""
    running = running_runs(engine, store)
    if not running:
        return None
    run = running[-1]
    if run["node"]:
        return f"{run['node']} (job {run['job']}, run {run['id']})"
    return f"pid {run['pid']} on {run['host']} (run {run['id']})"


def health_reasons(health: dict[str, Any], fail_after: int, max_model_failures: float, writer: str | None) -> list[str]:
    """Why a store needs a person's attention (none: healthy), from its recent runs."""
    reasons = []
    last = health["last_run"]
    if health["consecutive_failures"] >= fail_after:
        reasons.append(f"its last {plural(health['consecutive_failures'], 'run')} failed")
    if last and last["status"] == "suspect":
        reasons.append(
            f"run {last['id']} is suspect ({last['error_summary'] or 'no reason recorded'}); once checked, "
            f"`storewatch accept {last['id']}`, or wait for a good run"
        )
    if last and last["status"] in ("partial", "complete") and last["models_seen"] and last["errors"] / last["models_seen"] > max_model_failures:
        reasons.append(f"run {last['id']}: {last['errors']} of {plural(last['models_seen'], 'model page')} could not be read")
    if health["running"] and writer is None:
        reasons.append("a run was left `running` by a crawl process that died (the next crawl of the store closes it)")
    return reasons


STATUS_COLUMNS = [  # CSV: a row per store, the last run's id and instants beside its status
    "store", "schedule", "next_run", "next_run_is_retry", "last_run", "last_observed_at", "last_started_at", "last_status",
    "consecutive_failures", "models_tracked", "crawling", "crawling_on", "writer", "healthy", "health_reasons",
]


def print_status(report: dict[str, Any], format: str) -> None:
    """The status report: as JSON; as CSV, a row per store; as text, a table and the scheduler's line."""
    if format == "json":
        print_json(report)
        return
    rows = [_status_row(store) for store in report["stores"]]
    if format == "csv":
        print_csv(rows, STATUS_COLUMNS)
        return
    table = []
    for row in rows:
        outcome = row["last_status"] or "never run"
        if row["last_status"] in ("failed", "suspect") and row["last_error_summary"]:
            outcome += f": {row['last_error_summary']}"
        table.append(
            {
                "store": row["store"],
                "schedule": row["schedule"],
                "next run": _to_second(row["next_run"]) + (" (retry)" if row["next_run_is_retry"] else ""),
                "last run": row["last_run"] or "-",
                "observed": short_instant(_to_second(row["last_observed_at"])),  # the store as of: a snapshot's date, a live crawl's start
                "ran at": _to_second(row["last_started_at"]),
                "outcome": outcome + (f" (crawling now{' on ' + row['crawling_on'] if row['crawling_on'] else ''})" if row["crawling"] else ""),
                "models": row["models_tracked"],
                "failures in a row": row["consecutive_failures"],
                "health": "ok" if row["healthy"] else row["health_reasons"],
            }
        )
    print_table(table, ["store", "schedule", "next run", "last run", "observed", "ran at", "outcome", "models", "failures in a row", "health"])
    running = report["scheduler"]
    line = f"scheduler: running ({running['holder']})" if running["running"] else "scheduler: not running"
    print_line(f"{line} on {report['database']}")


def _status_row(store: dict[str, Any]) -> dict[str, Any]:
    """One store of the report as a flat row: its last run by id, what it observed and when it ran."""
    last = store["last_run"] or {}
    return {
        **store,
        "last_run": last.get("id"),
        "last_observed_at": last.get("observed_at"),
        "last_started_at": last.get("started_at"),
        "last_error_summary": last.get("error_summary"),
        "health_reasons": "; ".join(store["health_reasons"]),
    }


def _to_second(instant: str | None) -> str:
    return f"{instant[:19]}Z" if instant else "-"


def configure_logging(verbose: bool) -> None:
    """Log lines on stderr with UTC timestamps; APScheduler's own chatter only with --verbose."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = PlainFormatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    for name in ("storewatch", "apscheduler"):
        logging.getLogger(name).addHandler(handler)
    logging.getLogger("storewatch").setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.INFO if verbose else logging.WARNING)
    if not verbose:  # the service's listener reports job errors and misses
        logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)

