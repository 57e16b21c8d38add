"""The events a finished run causes, judged from the run and the store's history in the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, or_, select

from notifications.settings import NotifySettings
from storage.coverage import coverage_before_run
from storage.diff import changes_by_run
from storage.events import mass_events
from storage.models import CrawlRun
from storage.runs import get_run
from storage.wording import plural

runs = CrawlRun.__table__


@dataclass(frozen=True)
class RunEvent:
    """One reason to tell a person about a run: what happened, why we think so, and where to look."""

    kind: str  # failed_streak | suspect | mass_change
    run: dict[str, Any]  # as storage.runs.get_run reads it
    headline: str  # what happened, in a few words: the message's title
    reason: str
    commands: tuple[str, ...]


def run_events(engine: Engine, run_id: int, settings: NotifySettings) -> list[RunEvent]:
    """The events run `run_id` causes, among those `settings.on` asks for, in the order of `settings.on`."""
    run = get_run(engine, run_id)
    store = run["store"]
    found: dict[str, RunEvent] = {}
    if "failed_streak" in settings.on:
        streak = failed_streak(engine, run, settings.fail_after)
        if streak:
            reason = (
                f"the last {plural(len(streak), 'run')} of {store} failed (runs {', '.join(map(str, streak))}); "
                f"the last one: {run['error_summary'] or 'no reason recorded'}"
            )
            commands = (f"storewatch runs --store {store}", "storewatch status")
            headline = f"{store}: the last {plural(len(streak), 'run')} failed"
            found["failed_streak"] = RunEvent("failed_streak", run, headline, reason, commands)
    previous = _previous_run(engine, run)
    diff = f"storewatch diff {store} --from run:{previous} --to run:{run_id}" if previous else None
    if "suspect" in settings.on and run["status"] == "suspect":
        commands = (
            f"storewatch runs --store {store} --status suspect",
            *([diff] if diff else []),
            f"storewatch accept {run_id}    (once you have checked that the drop is real)",
        )
        headline = f"{store}: run {run_id} is suspect"
        found["suspect"] = RunEvent("suspect", run, headline, run["error_summary"] or "no reason recorded", commands)
    if "mass_change" in settings.on:
        before = coverage_before_run(engine, store, run_id).models
        changed = changes_by_run(engine, store, run_id=run_id).get(run_id, {})
        texts = [text for _, text, _ in mass_events(run, before, changed, settings.mass_change)]
        if texts:
            commands = (*([diff] if diff else []), f"storewatch runs --store {store}")
            headline = f"{store}: run {run_id} changed a large share of the store"
            found["mass_change"] = RunEvent("mass_change", run, headline, "; ".join(texts), commands)
    return [found[kind] for kind in settings.on if kind in found]


def failed_streak(engine: Engine, run: dict[str, Any], fail_after: int) -> list[int]:
    """The ids of the failed runs that `run` makes exactly `fail_after` in a row, oldest first; else [].

    Exactly: the streak is announced once, by the run that makes it that long, not by every failure after it.
    Runs are taken in the order they were recorded, as `storewatch status` counts failures in a row.
    """
    if fail_after < 1 or run["status"] != "failed":
        return []
    up_to_run = or_(runs.c.started_at < run["started_at"], and_(runs.c.started_at == run["started_at"], runs.c.id <= run["id"]))
    query = (
        select(runs.c.id, runs.c.status)
        .where(runs.c.store == run["store"], runs.c.status != "running", up_to_run)
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(fail_after + 1)
    )
    with engine.connect() as connection:
        recent = connection.execute(query).all()
    streak = [row.id for row in recent[:fail_after] if row.status == "failed"]
    longer = len(recent) > fail_after and recent[fail_after].status == "failed"
    return sorted(streak) if len(streak) == fail_after and not longer else []


def _previous_run(engine: Engine, run: dict[str, Any]) -> int | None:
    """The store's latest run observed before this one: where a `diff` to this run starts."""
    query = (
        select(runs.c.id)
        .where(runs.c.store == run["store"], runs.c.status != "running", runs.c.observed_at < run["observed_at"])
        .order_by(runs.c.observed_at.desc(), runs.c.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar()
