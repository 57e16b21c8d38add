"""How long models stay listed: each model's first listing, and the Kaplan–Meier estimate over them.

A listing runs from the version that made a model appear through the versions that followed it without a
gap, to the instant it was removed (the `valid_to` no version continues). A model still listed at the store's
last recorded run is *censored* there: it was listed at least that long, and the estimate counts it as at
risk until then, never as removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any, Iterable

from sqlalchemy import Engine, func, select

from storage.models import RECORDED_STATUSES, CrawlRun, Model, ModelVersion
from storage.timeutil import isoformat

runs = CrawlRun.__table__
models = Model.__table__
versions = ModelVersion.__table__

DAY = 86400.0
YEAR = 365  # days: the share still listed after a year is in the summary


@dataclass(frozen=True)
class Listing:
    model_id: str
    start: datetime
    end: datetime | None  # removed at; None: still listed


def first_listings(engine: Engine, store: str, since: datetime | None = None) -> list[Listing]:
    """Each model's first listing, or with `since` its first listing that began after `since`."""
    query = (
        select(models.c.id, models.c.model_id, versions.c.valid_from, versions.c.valid_to)
        .join(versions, versions.c.model_pk == models.c.id)
        .where(models.c.store == store)
        .order_by(models.c.id, versions.c.valid_from, versions.c.id)
    )
    found = []
    with engine.connect() as connection:
        for (_, model_id), rows in groupby(connection.execute(query), key=lambda row: (row.id, row.model_id)):
            listing = _first_listing(rows, since)
            if listing is not None:
                found.append(Listing(model_id, *listing))
    return found


def _first_listing(rows, since: datetime | None) -> tuple[datetime, datetime | None] | None:
    """(start, end) of one model's first listing that began after `since` (its versions oldest first; versions
    back to back are one listing). A model already listed at `since` is left out: its listing began before the
    history asked for, and counting it from `since` would cut its time short."""
    listings: list[list] = []
    for row in rows:
        if listings and listings[-1][1] == row.valid_from:  # the next version continues the listing
            listings[-1][1] = row.valid_to
        else:
            listings.append([row.valid_from, row.valid_to])
    for start, end in listings:
        if since is None or start > since:
            return start, end
    return None


def last_recorded_at(engine: Engine, store: str) -> datetime | None:
    """The instant of the store's last run that recorded versions: where still-listed models are censored."""
    with engine.connect() as connection:
        return connection.execute(
            select(func.max(runs.c.observed_at)).where(runs.c.store == store, runs.c.status.in_(RECORDED_STATUSES))
        ).scalar()


def kaplan_meier(samples: Iterable[tuple[float, bool]]) -> list[tuple[float, float, int, int]]:
    """The Kaplan–Meier survival estimate from (time, removed) samples, removed False meaning censored then.

    Returns the steps (time, share surviving past it, number at risk at it, number removed at it) from
    (0, 1, n, 0), one per time with a removal. A model censored at the time of a removal counts as at risk at
    that time.
    """
    ordered = sorted(samples)
    at_risk = len(ordered)
    steps, survival, index = [(0.0, 1.0, at_risk, 0)], 1.0, 0
    while index < len(ordered):
        time, removed, censored = ordered[index][0], 0, 0
        while index < len(ordered) and ordered[index][0] == time:
            removed, censored = removed + ordered[index][1], censored + (not ordered[index][1])
            index += 1
        if removed:
            survival *= 1 - removed / at_risk
            steps.append((time, survival, at_risk, removed))
        at_risk -= removed + censored
    return steps


@dataclass
class SurvivalCurve:
    """How long a store's models stay listed (days since first seen), Kaplan–Meier, censored at its last run."""

    store: str
    censored_at: datetime | None
    models: int = 0
    removed: int = 0
    steps: list[tuple[float, float, int, int]] = field(default_factory=list)
    censored: dict[float, int] = field(default_factory=dict)  # days -> models still listed after that long

    def share_at(self, days: float) -> float:
        """The estimated share of models still listed `days` after they were first seen."""
        return [share for time, share, _, _ in self.steps if time <= days][-1]

    def median_days(self) -> float | None:
        """The time by which half the models were removed (None while more than half are listed)."""
        return next((time for time, share, _, _ in self.steps if share <= 0.5), None)

    def observed_days(self) -> float:
        """The longest time any model was followed: the curve says nothing beyond it."""
        return max([step[0] for step in self.steps] + list(self.censored), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        median = self.median_days()
        return {
            "store": self.store,
            "censored_at": isoformat(self.censored_at),
            "models": self.models,
            "removed": self.removed,
            "steps": [
                {"days": round(time, 2), "listed": round(share, 4), "at_risk": at_risk, "removed": removed}
                for time, share, at_risk, removed in self.steps
            ],
            "censored": [{"days": round(days, 2), "models": n, "listed": round(self.share_at(days), 4)} for days, n in sorted(self.censored.items())],
            "median_days": round(median, 2) if median is not None else None,
            "observed_days": round(self.observed_days(), 2),
            "listed_after_year": round(self.share_at(YEAR), 4) if self.observed_days() >= YEAR else None,
        }


def survival_curve(engine: Engine, store: str, since: datetime | None = None) -> SurvivalCurve:
    """The store's survival curve over the first listings still open after `since`."""
    end = last_recorded_at(engine, store)
    curve = SurvivalCurve(store, end)
    if end is None:
        return curve
    samples = []
    for listing in first_listings(engine, store, since):
        removed = listing.end is not None
        days = ((listing.end if removed else end) - listing.start).total_seconds() / DAY
        samples.append((days, removed))
        if not removed:
            curve.censored[days] = curve.censored.get(days, 0) + 1
    curve.models, curve.removed = len(samples), sum(removed for _, removed in samples)
    curve.steps = kaplan_meier(samples)
    return curve
