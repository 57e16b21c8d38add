"""Element coverage kept by the snapshot writer: equal to counting the models as of any instant, on both databases."""

from __future__ import annotations

import importlib.util
from collections import Counter
from datetime import datetime, timezone

from sqlalchemy import delete, func, select

from conftest import ROOT
from storage import queries
from storage.coverage import coverage_at, coverage_series
from storage.models import StoreCoverage
from storage.writer import SnapshotWriter


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def record(engine, when: str, run_models: dict[str, dict], status: str = "complete"):
    writer = SnapshotWriter(engine, "teststore", day(when), "teststore/1", batch_size=2)
    writer.start()
    for model_id, elements in run_models.items():
        writer.add(model_id, elements, {"id": model_id})
    return writer.finish(status)


def counted(engine, when: str) -> tuple[int, dict[str, int]]:
    """The truth, the slow way: list the models as of the instant and count their element keys."""
    listed = queries.models_as_of(engine, "teststore", day(when))
    return len(listed), dict(Counter(key for model in listed for key in model if key != "model_id"))


def coverage_rows(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(StoreCoverage)).scalar_one()


HISTORY = [
    ("2020-01-01", "complete", {"a": {"name": "A", "license": "MIT"}, "b": {"name": "B"}, "c": {"name": "C", "paper": []}}),
    # b changes (gains a licence), c is removed, d is added
    ("2020-02-01", "complete", {"a": {"name": "A", "license": "MIT"}, "b": {"name": "B", "license": "GPL"}, "d": {"name": "D"}}),
    # partial: e appears, a's change is deferred, nothing is removed
    ("2020-03-01", "partial", {"a": {"name": "A"}, "e": {"name": "E", "demo": "x"}}),
    # c returns without its paper, the store stops showing licences
    ("2020-04-01", "complete", {"a": {"name": "A"}, "b": {"name": "B"}, "c": {"name": "C"}, "d": {"name": "D"}, "e": {"name": "E", "demo": "x"}}),
]


def test_coverage_equals_counting_the_models_after_every_kind_of_change(engine):
    for when, status, run_models in HISTORY:
        record(engine, when, run_models, status)
        coverage = coverage_at(engine, "teststore", day(when))
        assert (coverage.models, coverage.elements) == counted(engine, when), when
    between = coverage_at(engine, "teststore", day("2020-02-15"))
    assert (between.models, between.elements) == counted(engine, "2020-02-15") == (3, {"name": 3, "license": 2})
    assert coverage_at(engine, "teststore", day("2019-12-31")).models == 0
    latest = coverage_at(engine, "teststore")
    assert latest.elements == {"name": 5, "demo": 1} and "license" not in latest.shown()
    assert latest.share("demo") == 0.2


def test_a_run_that_changes_nothing_writes_no_coverage_row(engine):
    record(engine, "2020-01-01", HISTORY[0][2])
    rows = coverage_rows(engine)
    record(engine, "2020-01-02", HISTORY[0][2])
    assert coverage_rows(engine) == rows == 1
    assert coverage_at(engine, "teststore", day("2020-01-03")).models == 3


def test_upgrading_a_database_with_history_computes_its_coverage(engine):
    """Migration 0002 fills store_coverage for history recorded before it, as the writer would have."""
    for when, status, run_models in HISTORY:
        record(engine, when, run_models, status)
    kept = [(c.run_id, c.models, c.elements) for c in coverage_series(engine, "teststore")]
    path = ROOT / "migrations" / "versions" / "0002_store_coverage.py"
    spec = importlib.util.spec_from_file_location("migration_0002", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with engine.begin() as connection:
        connection.execute(delete(StoreCoverage))
        migration._backfill(connection)
    assert [(c.run_id, c.models, c.elements) for c in coverage_series(engine, "teststore")] == kept
