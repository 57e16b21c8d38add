"""Element coverage: how many of a store's models show each information element, at an instant or over time.

Read from `store_coverage`, which the snapshot writer keeps per run that changed the store; a lookup is one
indexed row, never a scan over the store's models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, or_, select

from storage.models import CrawlRun, StoreCoverage
from storage.timeutil import isoformat

runs = CrawlRun.__table__
coverage = StoreCoverage.__table__


@dataclass
class Coverage:
    """A store's model count and per-element counts as they stood at one instant (after run `run_id`)."""

    store: str
    models: int = 0
    elements: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None
    observed_at: datetime | None = None

    def share(self, element: str) -> float:
        """The fraction of the store's models that show `element` (0 when the store has no models)."""
        return self.elements.get(element, 0) / self.models if self.models else 0.0

    def shown(self) -> set[str]:
        return {key for key, count in self.elements.items() if count > 0}

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "observed_at": isoformat(self.observed_at),
            "models": self.models,
            "elements": {key: {"models": count, "share": round(self.share(key), 4)} for key, count in sorted(self.elements.items())},
        }


def _rows(store: str):
    return (
        select(coverage.c.run_id, coverage.c.models, coverage.c.elements, runs.c.observed_at)
        .join(runs, runs.c.id == coverage.c.run_id)
        .where(runs.c.store == store)
    )


def coverage_at(engine: Engine, store: str, at: datetime | None = None) -> Coverage:
    """The store's coverage at instant `at` (latest when None); empty before its first recorded change."""
    query = _rows(store)
    if at is not None:
        query = query.where(runs.c.observed_at <= at)
    return _latest(engine, store, query)


def coverage_before_run(engine: Engine, store: str, run_id: int) -> Coverage:
    """The store's coverage just before run `run_id` recorded anything (after the latest earlier run that changed it)."""
    with engine.connect() as connection:
        at = connection.execute(select(runs.c.observed_at).where(runs.c.id == run_id)).scalar_one()
    earlier = or_(runs.c.observed_at < at, and_(runs.c.observed_at == at, runs.c.id < run_id))
    return _latest(engine, store, _rows(store).where(earlier))


def _latest(engine: Engine, store: str, query) -> Coverage:
    with engine.connect() as connection:
        row = connection.execute(query.order_by(runs.c.observed_at.desc(), runs.c.id.desc()).limit(1)).first()
    if row is None:
        return Coverage(store)
    return Coverage(store, row.models, dict(row.elements), row.run_id, row.observed_at)


def coverage_series(engine: Engine, store: str) -> list[Coverage]:
    """The store's coverage after each run that changed it, oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(_rows(store).order_by(runs.c.observed_at, runs.c.id)).all()
    return [Coverage(store, row.models, dict(row.elements), row.run_id, row.observed_at) for row in rows]


def stores_with_history(engine: Engine) -> list[str]:
    """The stores that have recorded models (a coverage row), by name."""
    with engine.connect() as connection:
        return sorted(connection.execute(select(runs.c.store).join(coverage, coverage.c.run_id == runs.c.id).distinct()).scalars())
