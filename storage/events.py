"""Notable events in a store's history, found in the data: reorganisations, elements started or stopped,
large additions or removals, runs that did not complete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from storage.coverage import coverage_series
from storage.diff import changes_by_run
from storage.queries import list_runs
from storage.wording import plural

MASS_CHANGE_MIN = 10  # models one element must change for, whatever the share, to be a mass change
COUNT_MIN = 5  # models that must arrive or go, whatever the share, for growth or removals
LOCATION_ELEMENTS = frozenset({"access", "source_code", "demo"})  # a mass change of these is a reorganisation


@dataclass(frozen=True)
class MassThresholds:
    """The share of a store's models one run must touch to be notable (reports and notifications share it)."""

    changed: float = 0.5  # one element changed for at least this share of the store's models
    arrived: float = 0.25  # added or returned
    removed: float = 0.1

    @classmethod
    def uniform(cls, share: float) -> MassThresholds:
        return cls(changed=share, arrived=share, removed=share)


def notable_events(engine: Engine, store: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """The store's notable events after `since`, oldest first: `{observed_at, run_id, kind, element, text}`."""
    changed = changes_by_run(engine, store, since)
    events: list[dict[str, Any]] = []

    def event(observed_at: str, run_id: int, kind: str, text: str, element: str | None = None) -> None:
        events.append({"observed_at": observed_at, "run_id": run_id, "kind": kind, "element": element, "text": text})

    by_run = {coverage.run_id: coverage for coverage in coverage_series(engine, store)}
    current = None  # the coverage before the run at hand
    for run in list_runs(engine, store):
        after_since = since is None or datetime.fromisoformat(run["observed_at"]) > since  # instants, not their text
        after = by_run.get(run["id"])
        started_or_stopped = set()
        if after_since and after is not None and current is not None:
            started_or_stopped = _coverage_events(current, after, run, event)
        if after_since:
            # an element every model gained or lost at once is an element started or stopped, not a mass change
            mass = {key: n for key, n in changed.get(run["id"], {}).items() if key not in started_or_stopped}
            _run_events(run, current.models if current else 0, mass, event)
        current = after or current
    events.sort(key=lambda e: (datetime.fromisoformat(e["observed_at"]), e["run_id"]))  # instants, not their text
    return events


def _run_events(run: dict[str, Any], models_before: int, changed: dict[str, int], event) -> None:
    when, run_id = run["observed_at"], run["id"]
    if run["status"] in ("suspect", "partial", "failed"):
        event(when, run_id, f"{run['status']} run", f"run {run_id} was {run['status']}: {run['error_summary'] or 'no reason recorded'}")
    for kind, text, element in mass_events(run, models_before, changed):
        event(when, run_id, kind, text, element)


def mass_events(
    run: dict[str, Any], models_before: int, changed: dict[str, int], thresholds: MassThresholds = MassThresholds()
) -> list[tuple[str, str, str | None]]:
    """What one run did to a large share of the store's models: `(kind, text, element)` for each mass change
    or reorganisation (element by element, `changed`: element -> models), growth and removals."""
    found: list[tuple[str, str, str | None]] = []
    for element, count in sorted(changed.items(), key=lambda item: -item[1]):
        if count >= MASS_CHANGE_MIN and count >= thresholds.changed * models_before:
            kind = "reorganisation" if element in LOCATION_ELEMENTS else "mass change"
            found.append((kind, f"{element} changed for {count} of {models_before} models in one run", element))
    arrived = run["added"] + run["returned"]
    if models_before and arrived >= max(COUNT_MIN, thresholds.arrived * models_before):
        found.append(("growth", f"{arrived} models arrived ({arrived / models_before:.0%} of {models_before})", None))
    if models_before and run["removed"] >= max(COUNT_MIN, thresholds.removed * models_before):
        found.append(("removals", f"{run['removed']} models removed ({run['removed'] / models_before:.0%} of {models_before})", None))
    return found


def _coverage_events(before, after, run: dict[str, Any], event) -> set[str]:
    """Elements the run made the store start or stop showing (recorded as events); returns them."""
    for element in sorted(after.shown() - before.shown()):
        event(run["observed_at"], run["id"], "element started", f"started showing {element} ({after.elements[element]} of {plural(after.models, 'model')})", element)
    for element in sorted(before.shown() - after.shown()):
        event(run["observed_at"], run["id"], "element stopped", f"stopped showing {element} (shown for {plural(before.elements[element], 'model')} before)", element)
    return after.shown() ^ before.shown()
