"""`storewatch schedule` (the scheduler service, in the foreground) and `storewatch status` (for people and monitors)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from crawler.cli.common import DbOption, PlainFormatter, TableOrJson, database, print_json, print_line, print_table, stderr
from crawler.stores import known_stores
from crawler.schedule_config import ServiceConfig, config_path, load_config
from storage.db import display_url, open_database
from storage.lock import scheduler_holder, store_writer
from storage.runs import store_health
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
    format: Annotated[TableOrJson, typer.Option("--format", help="Output format")] = TableOrJson.table,
    fail_after: Annotated[
        int | None, typer.Option("--fail-after", min=1, help="Unhealthy when a store's last N runs all failed [default: fail_after in the config, 3]")
    ] = None,
    db: DbOption = None,
) -> None:
    """Show each configured store: its schedule, next run, last run and its outcome, models tracked.

    A store is unhealthy when its last N runs all failed, its latest run is suspect (a drop or a listing of
    the wrong shape: removals held until a good run or `storewatch accept`), most of its latest run's model
    pages could not be read, or a run was left `running` by a process that died. Exits with status 1 when
    any store is unhealthy, so a monitor can alert on it; `--format json` gives the reasons.

    Example:

    \b
        storewatch status --format json
    """
    import scheduler

    settings = load_config(config, known_stores=known_stores())
    engine = database(db)
    threshold = fail_after or settings.fail_after
    report = status_report(settings, engine, scheduler.next_run_times(engine), threshold)
    if format is TableOrJson.json:
        print_json(report)
    else:
        print_status_table(report)
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


def print_status_table(report: dict[str, Any]) -> None:
    rows = []
    for store in report["stores"]:
        last = store["last_run"] or {}
        outcome = last.get("status", "never run")
        if last.get("status") in ("failed", "suspect") and last.get("error_summary"):
            outcome += f": {last['error_summary']}"
        rows.append(
            {
                "store": store["store"],
                "schedule": store["schedule"],
                "next run": _to_second(store["next_run"]) + (" (retry)" if store["next_run_is_retry"] else ""),
                "last run": _to_second(last.get("started_at")),
                "outcome": outcome + (" (crawling now)" if store["crawling"] else ""),
                "models": store["models_tracked"],
                "failures in a row": store["consecutive_failures"],
                "health": "ok" if store["healthy"] else "; ".join(store["health_reasons"]),
            }
        )
    print_table(rows, ["store", "schedule", "next run", "last run", "outcome", "models", "failures in a row", "health"])
    running = report["scheduler"]
    line = f"scheduler: running ({running['holder']})" if running["running"] else "scheduler: not running"
    print_line(f"{line} on {report['database']}")


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

