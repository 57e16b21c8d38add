"""Counters as metrics: the writer records moved counters apart from versions; the series, movers and CLI read them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from conftest import cli_json, run_cli
from storage import queries
from storage.diff import diff_store
from storage.errors import StorewatchError
from storage.metrics import metric_series, top_movers
from storage.models import ModelMetric, ModelVersion
from storage.writer import SnapshotWriter


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def record(engine, when: str, models: dict[str, tuple[dict, dict]], status: str = "complete", duplicates=()):
    """One run of `teststore`: model id -> (elements, counters); `duplicates` are added a second time."""
    writer = SnapshotWriter(engine, "teststore", day(when), "teststore/1", batch_size=2)
    writer.start()
    for model_id, (elements, counters) in models.items():
        writer.add(model_id, elements, {"id": model_id}, counters)
    for model_id in duplicates:
        elements, counters = models[model_id]
        writer.add(model_id, {**elements, "name": "a different record"}, {"id": model_id}, {name: -1 for name in counters})
    return writer.finish(status)


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


POPULAR = {"name": "Popular", "popularity": ["downloads", "likes"]}
QUIET = {"name": "Quiet", "popularity": ["downloads", "likes"]}


def day_one(engine):
    return record(engine, "2024-01-01", {"popular": (POPULAR, {"downloads": 1000, "likes": 10}), "quiet": (QUIET, {"downloads": 5, "likes": 0})})


def test_an_unchanged_rerun_writes_no_version_and_no_metric_rows(engine):
    first = day_one(engine)
    assert (first.added, first.metrics) == (2, 4)  # every counter is new to its model
    versions, metrics = count(engine, ModelVersion), count(engine, ModelMetric)
    again = record(engine, "2024-01-02", {"popular": (POPULAR, {"downloads": 1000, "likes": 10}), "quiet": (QUIET, {"downloads": 5, "likes": 0})})
    assert (again.changed, again.metrics) == (0, 0)
    assert (count(engine, ModelVersion), count(engine, ModelMetric)) == (versions, metrics)


def test_a_counter_only_day_opens_no_version_and_records_only_the_counters_that_moved(engine):
    day_one(engine)
    versions = count(engine, ModelVersion)
    summary = record(engine, "2024-01-02", {"popular": (POPULAR, {"downloads": 1500, "likes": 10}), "quiet": (QUIET, {"downloads": 5, "likes": 0})})
    assert (summary.changed, summary.metrics) == (0, 1)
    assert count(engine, ModelVersion) == versions
    assert [(row["metric"], row["value"], row["change"]) for row in metric_series(engine, "teststore", "popular")] == [
        ("downloads", 1000, None), ("downloads", 1500, 500), ("likes", 10, None),
    ]
    assert diff_store(engine, "teststore", day("2024-01-01"), day("2024-01-02")).changed == []


def test_an_element_change_opens_a_version_and_the_counters_still_count(engine):
    day_one(engine)
    summary = record(
        engine, "2024-01-02", {"popular": ({**POPULAR, "license": "MIT"}, {"downloads": 1000, "likes": 11}), "quiet": (QUIET, {"downloads": 5, "likes": 0})}
    )
    assert (summary.changed, summary.metrics) == (1, 1)
    assert queries.model_history(engine, "teststore", "popular")[-1]["changes"] == {"license": {"old": None, "new": "MIT"}}


@pytest.mark.parametrize("status", ["partial", "suspect"])
def test_a_partial_or_suspect_run_records_counters_but_closes_nothing(engine, status):
    day_one(engine)
    summary = record(engine, "2024-01-02", {"popular": ({**POPULAR, "license": "MIT"}, {"downloads": 2000, "likes": 10})}, status=status)
    assert (summary.status, summary.changed, summary.removed, summary.metrics) == (status, 0, 0, 1)
    assert {row["model_id"] for row in queries.models_as_of(engine, "teststore")} == {"popular", "quiet"}
    assert metric_series(engine, "teststore", "popular", "downloads")[-1]["value"] == 2000


def test_a_failed_run_records_no_counters(engine):
    day_one(engine)
    summary = record(engine, "2024-01-02", {"popular": (POPULAR, {"downloads": 2000, "likes": 10})}, status="failed")
    assert (summary.status, summary.metrics) == ("failed", 0)
    assert metric_series(engine, "teststore", "popular", "downloads")[-1]["value"] == 1000


def test_a_duplicate_id_is_counted_not_fatal_and_the_first_record_wins(engine):
    summary = record(engine, "2024-01-01", {"popular": (POPULAR, {"downloads": 1000}), "quiet": (QUIET, {"downloads": 5})}, duplicates=["popular"])
    assert (summary.status, summary.added, summary.models_seen, summary.errors) == ("complete", 2, 2, 1)
    assert "1 duplicate model id ignored" in summary.error_summary
    assert queries.models_as_of(engine, "teststore")[0]["name"] == "Popular"
    assert [row["value"] for row in metric_series(engine, "teststore", "popular")] == [1000]


def test_a_counter_may_be_a_score(engine):
    record(engine, "2024-01-01", {"m": (POPULAR, {"trending_score": 1.5})})
    record(engine, "2024-01-02", {"m": (POPULAR, {"trending_score": 0.25})})
    assert [(row["value"], row["change"]) for row in metric_series(engine, "teststore", "m")] == [(1.5, None), (0.25, -1.25)]


def test_top_movers_rank_by_absolute_or_relative_increase(engine):
    ids = {"big": 1_000_000, "small": 10, "flat": 50, "falling": 100}
    record(engine, "2024-01-01", {model: (POPULAR, {"downloads": n}) for model, n in ids.items()})
    record(engine, "2024-01-08", {model: (POPULAR, {"downloads": n}) for model, n in {**ids, "big": 1_100_000, "small": 40, "falling": 90, "new": 9999}.items()})
    window = (day("2024-01-01"), day("2024-01-08"))
    absolute = top_movers(engine, "teststore", *window, "downloads")
    assert [(row["model_id"], row["increase"]) for row in absolute] == [("big", 100_000), ("small", 30)]
    relative = top_movers(engine, "teststore", *window, "downloads", order="relative")
    assert [(row["model_id"], row["relative"]) for row in relative] == [("small", 3.0), ("big", 0.1)]
    assert top_movers(engine, "teststore", day("2024-01-08"), day("2024-01-09"), "downloads") == []
    with pytest.raises(StorewatchError, match="ends"):
        top_movers(engine, "teststore", window[1], window[0], "downloads")


def test_metrics_command_prints_the_series_and_refuses_an_unknown_model(db_url):
    from storage.db import open_database

    engine = open_database(db_url)
    try:
        writer = SnapshotWriter(engine, "modeldepot", day("2024-01-01"), "modeldepot/1")
        writer.start()
        writer.add("a/model", {"name": "A"}, {}, {"stars": 3})
        writer.finish("complete")
        writer = SnapshotWriter(engine, "modeldepot", day("2024-02-01"), "modeldepot/1")
        writer.start()
        writer.add("a/model", {"name": "A"}, {}, {"stars": 7})
        writer.finish("complete")
    finally:
        engine.dispose()
    assert [(row["observed_at"], row["value"]) for row in cli_json("metrics", "modeldepot", "a/model", "--metric", "stars", db=db_url)] == [
        ("2024-01-01T00:00:00Z", 3), ("2024-02-01T00:00:00Z", 7),
    ]
    csv = run_cli("metrics", "modeldepot", "a/model", "--format", "csv", db=db_url).stdout.splitlines()
    assert csv[0] == "metric,observed_at,run_id,value,change" and csv[2].endswith(",7,4")
    history = run_cli("history", "modeldepot", "a/model", db=db_url).stdout
    assert "counters" in history and "+4" in history
    for args, message in [
        (("metrics", "modeldepot", "no/such"), "no model 'no/such'"),
        (("metrics", "modeldepot", "a/model", "--metric", "likes"), "has no counter 'likes'; it has stars"),
    ]:
        result = run_cli(*args, db=db_url, check=False)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [result.stderr.strip()] and message in result.stderr
