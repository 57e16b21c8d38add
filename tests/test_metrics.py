"""Counters as metrics: the writer records moved counters apart from versions; the series, movers and CLI read them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from conftest import cli_json, run_cli, snapshot_dir
from storage import queries
from storage.diff import diff_store
from storage.errors import StorewatchError
from storage.metrics import metric_series, top_movers
from storage.db import open_database
from storage.models import LatestMetric, ModelMetric, ModelVersion, model_key
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


def test_a_counter_that_moves_back_is_recorded_each_time_against_its_latest_value(engine):
    day_one(engine)
    for when, downloads in (("2024-01-02", 1500), ("2024-01-03", 1000), ("2024-01-04", 1000)):
        record(engine, when, {"popular": (POPULAR, {"downloads": downloads, "likes": 10}), "quiet": (QUIET, {"downloads": 5, "likes": 0})})
    series = [(row["metric"], row["value"]) for row in metric_series(engine, "teststore", "popular")]
    assert series == [("downloads", 1000), ("downloads", 1500), ("downloads", 1000), ("likes", 10)]
    with engine.connect() as connection:
        latest = connection.execute(select(LatestMetric.metric, LatestMetric.value).order_by(LatestMetric.model_pk, LatestMetric.metric)).all()
    assert [tuple(row) for row in latest] == [("downloads", 1000), ("likes", 10), ("downloads", 5), ("likes", 0)]


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
    ids = {"big": 1_000_000, "small": 10, "flat": 50, "falling": 100, "from_zero": 0}
    record(engine, "2024-01-01", {model: (POPULAR, {"downloads": n}) for model, n in ids.items()})
    record(engine, "2024-01-08", {model: (POPULAR, {"downloads": n}) for model, n in {**ids, "big": 1_100_000, "small": 40, "falling": 90, "from_zero": 5, "new": 9999}.items()})
    window = (day("2024-01-01"), day("2024-01-08"))
    absolute = top_movers(engine, "teststore", *window, "downloads")
    # A rise from zero has no relative size (PostgreSQL would refuse the division), but it is a mover.
    assert [(row["model_id"], row["increase"], row["relative"]) for row in absolute] == [("big", 100_000, 0.1), ("small", 30, 3.0), ("from_zero", 5, None)]
    relative = top_movers(engine, "teststore", *window, "downloads", order="relative")
    assert [(row["model_id"], row["relative"]) for row in relative] == [("small", 3.0), ("big", 0.1)]
    assert top_movers(engine, "teststore", day("2024-01-08"), day("2024-01-09"), "downloads") == []
    with pytest.raises(StorewatchError, match="ends"):
        top_movers(engine, "teststore", window[1], window[0], "downloads")


def test_metrics_command_prints_the_series_and_refuses_an_unknown_model(db_url):
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


# -- the migration: counters out of the versions recorded before 0006 ------------------------------------------


def old_aws_record(date: str, product_id: str):
    """A listing as the AWS Marketplace spider recorded it before 0006: the counters inside the record."""
    from crawler.pipelines import normalise_record
    from spiders.aws_marketplace import extract_listing, listing_queries, page_context

    context = page_context((snapshot_dir("aws_marketplace", date) / "aws.amazon.com/marketplace/pp" / product_id).read_text())
    new = normalise_record(extract_listing(product_id, context))
    reviews = listing_queries(context).get("Reviews") or {}
    count = reviews.get("TotalReviews")
    elements = {key: value for key, value in new.elements.items() if key != "rating"}
    if count is not None:
        elements["rating"] = {"average": float(reviews["AverageCustomerRating"]) if count else None, "count": int(count)}
    raw = {**new.raw, "reviews": {key: reviews.get(key) for key in ("ProviderSummaries", "SyndicatedReviews", "ExternalReviewsCount")}}
    return elements, raw, new


def test_the_migration_moves_counters_out_of_versions_and_merges_what_becomes_identical(db_url):
    from sqlalchemy import create_engine, insert

    from storage.db import upgrade_to
    from storage.models import CrawlRun, Model
    from storage.writer import canonical_json, record_hash

    old = create_engine(db_url)
    upgrade_to(old, "0005")
    runs, models, versions = CrawlRun.__table__, Model.__table__, ModelVersion.__table__
    icnet = [({"name": "ICNet", "popularity": 21, "framework": "TF 1.4"}, "added", []),
             ({"name": "ICNet", "popularity": 34, "framework": "TF 1.4"}, "changed", ["popularity"]),  # stars only
             ({"name": "ICNet", "popularity": 34, "framework": "TF 1.12"}, "changed", ["framework"])]
    aws = [old_aws_record(date, "prodview-r4y8ne2kv6dzq") for date in ("2025-09-01", "2026-08-20")]
    dates = ["2018-06-15", "2019-03-20", "2020-01-10"]
    with old.begin() as connection:
        for run_id, (store, when) in enumerate([("modeldepot", d) for d in dates] + [("aws_marketplace", "2025-09-01"), ("aws_marketplace", "2026-08-20")], 1):
            connection.execute(insert(runs).values(
                id=run_id, store=store, observed_at=day(when), started_at=day(when), status="complete", models_seen=1,
                added=int(run_id in (1, 4)), changed=int(run_id not in (1, 4)), removed=0, returned=0, errors=0, spider_version="x",
            ))
        connection.execute(insert(models).values(id=1, store="modeldepot", model_id="hellochick/icnet", model_key=model_key("hellochick/icnet")))
        connection.execute(insert(models).values(id=2, store="aws_marketplace", model_id="prodview-r4y8ne2kv6dzq", model_key=model_key("prodview-r4y8ne2kv6dzq")))
        captures = ["20180615", "20180615", "20200110"]  # the first two days read one capture of the page
        history = [(1, run, dates[run - 1], elements, {"capture": captures[run - 1]}, change, changed) for run, (elements, change, changed) in enumerate(icnet, 1)]
        history += [(2, run, when, elements, raw, change, ["rating"] if change == "changed" else [])
                    for run, when, (elements, raw, _), change in ((4, "2025-09-01", aws[0], "added"), (5, "2026-08-20", aws[1], "changed"))]
        for index, (model_pk, run, when, elements, raw, change, changed) in enumerate(history):
            following = history[index + 1] if index + 1 < len(history) and history[index + 1][0] == model_pk else None
            connection.execute(insert(versions).values(
                model_pk=model_pk, valid_from=day(when), valid_to=day(following[2]) if following else None, opened_by_run=run,
                closed_by_run=following[1] if following else None, change=change, changed_elements=changed,
                content_hash=record_hash(canonical_json(elements), canonical_json(raw)), elements=elements, raw=raw,
            ))
    old.dispose()
    engine = open_database(db_url)  # upgrades on first use
    try:
        icnet_history = queries.model_history(engine, "modeldepot", "hellochick/icnet")
        assert [(v["valid_from"][:10], v["valid_to"] and v["valid_to"][:10], v["change"], list(v["changes"])) for v in icnet_history] == [
            ("2018-06-15", "2020-01-10", "added", []), ("2020-01-10", None, "changed", ["framework"]),
        ]
        assert icnet_history[0]["elements"]["popularity"] == ["stars"]
        assert [(m["observed_at"][:10], m["value"]) for m in metric_series(engine, "modeldepot", "hellochick/icnet")] == [("2018-06-15", 21), ("2019-03-20", 34)]
        assert [run["changed"] for run in queries.list_runs(engine, "modeldepot")] == [0, 0, 1]
        # The real listing's reviews moved and nothing else: one version, as the spider records it now.
        new = aws[1][2]
        listing = queries.model_history(engine, "aws_marketplace", "prodview-r4y8ne2kv6dzq")
        assert len(listing) == 1 and listing[0]["elements"] == new.elements
        assert listing[0]["content_hash"] == record_hash(canonical_json(new.elements), canonical_json(new.raw))
        reviews = metric_series(engine, "aws_marketplace", "prodview-r4y8ne2kv6dzq", "reviews")
        assert [(m["value"], m["change"]) for m in reviews] == [(35, None), (41, 6)]
        assert diff_store(engine, "aws_marketplace", day("2025-09-01"), day("2026-08-20")).changed == []
    finally:
        engine.dispose()
