"""The versioning rules of the snapshot writer, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from storage import queries
from storage import writer as writer_module
from storage.coverage import coverage_at
from storage.errors import StorewatchError
from storage.health import HealthPolicy
from storage.models import ModelVersion
from storage.writer import SnapshotWriter, accept_run


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def record(run_models: dict[str, dict], engine, when: str, status: str = "complete", unreadable=(), policy=None):
    writer = SnapshotWriter(engine, "teststore", day(when), "teststore/1", batch_size=2, policy=policy)
    writer.start()
    for model_id, elements in run_models.items():
        writer.add(model_id, elements, {"id": model_id, **elements})
    for model_id in unreadable:
        writer.add_unreadable(model_id)
    return writer.finish(status)


def version_rows(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(ModelVersion)).scalar_one()


def ids_as_of(engine, when: str) -> set[str]:
    return {row["model_id"] for row in queries.models_as_of(engine, "teststore", day(when))}


A = {"name": "Alpha", "license": "MIT"}
B = {"name": "Beta"}
C = {"name": "Gamma"}


def test_first_run_adds_every_model(engine):
    summary = record({"a": A, "b": B}, engine, "2020-01-01")
    assert (summary.status, summary.added, summary.models_seen) == ("complete", 2, 2)
    assert ids_as_of(engine, "2020-01-01") == {"a", "b"}


def test_replaying_an_equal_snapshot_writes_no_version_rows(engine):
    record({"a": A, "b": B}, engine, "2020-01-01")
    before = version_rows(engine)
    summary = record({"b": dict(B), "a": dict(reversed(list(A.items())))}, engine, "2020-02-01")
    assert (summary.added, summary.changed, summary.removed, summary.returned) == (0, 0, 0, 0)
    assert version_rows(engine) == before


def test_change_closes_the_old_version_and_names_the_changed_elements(engine):
    record({"a": A}, engine, "2020-01-01")
    summary = record({"a": {"name": "Alpha", "license": "Apache-2.0", "paper": "x"}}, engine, "2020-02-01")
    assert summary.changed == 1
    history = queries.model_history(engine, "teststore", "a")
    assert [version["ended_by"] for version in history] == ["changed", None]
    assert history[1]["changes"] == {"license": {"old": "MIT", "new": "Apache-2.0"}, "paper": {"old": None, "new": "x"}}
    assert history[0]["valid_to"] == history[1]["valid_from"] == "2020-02-01T00:00:00Z"


def test_removal_and_return(engine):
    record({"a": A, "b": B}, engine, "2020-01-01")
    removed = record({"a": A}, engine, "2020-02-01")
    returned = record({"a": A, "b": {"name": "Beta 2"}}, engine, "2020-03-01")
    assert removed.removed == 1 and returned.returned == 1
    assert ids_as_of(engine, "2020-01-15") == {"a", "b"}
    assert ids_as_of(engine, "2020-02-15") == {"a"}
    assert ids_as_of(engine, "2020-03-15") == {"a", "b"}
    history = queries.model_history(engine, "teststore", "b")
    assert [(v["change"], v["ended_by"]) for v in history] == [("added", "removed"), ("returned", None)]
    assert history[1]["changes"] == {"name": {"old": "Beta", "new": "Beta 2"}}


def test_a_capped_listing_removes_nothing_but_records_changes(engine):
    """The Hub's top N by downloads: a model missing from it may only have been overtaken."""
    record({"a": A, "b": B}, engine, "2020-01-01")
    writer = SnapshotWriter(engine, "teststore", day("2020-02-01"), "teststore/1", lists_whole_store=False)
    writer.start()
    writer.add("a", {"name": "Alpha 2"}, {"id": "a"})
    summary = writer.finish("complete")
    assert (summary.status, summary.changed, summary.removed, summary.absent) == ("complete", 1, 0, 0)
    assert "nothing removed" in summary.error_summary
    assert ids_as_of(engine, "2020-02-15") == {"a", "b"}


@pytest.mark.parametrize("status", ["partial", "suspect", "failed"])
def test_partial_suspect_or_failed_run_closes_nothing(engine, status):
    record({"a": A, "b": B}, engine, "2020-01-01")
    summary = record({"a": {"name": "Alpha changed"}, "c": C}, engine, "2020-02-01", status=status)
    assert summary.status == status
    added = 0 if status == "failed" else 1  # a failed run (no listing answered) records nothing at all
    assert (summary.removed, summary.changed, summary.added) == (0, 0, added)
    if status == "partial":
        assert "left for the next complete run" in summary.error_summary
    if status == "suspect":
        assert "held for `storewatch accept" in summary.error_summary
    assert ids_as_of(engine, "2020-02-15") == {"a", "b"} | ({"c"} if added else set())
    with engine.connect() as connection:
        closed = connection.execute(select(func.count()).where(ModelVersion.valid_to.is_not(None))).scalar_one()
    assert closed == 0
    # the next complete run continues the history: the deferred change and the removal happen then
    later = record({"a": {"name": "Alpha changed"}, "c": C}, engine, "2020-03-01")
    assert (later.changed, later.removed) == (1, 1)


def test_unreadable_model_stays_present_with_its_last_content(engine):
    record({"a": A, "b": B}, engine, "2020-01-01")
    summary = record({"a": A}, engine, "2020-02-01", unreadable=["b"])
    assert (summary.status, summary.removed, summary.models_seen) == ("complete", 0, 2)
    assert ids_as_of(engine, "2020-02-15") == {"a", "b"}


def test_snapshot_older_than_the_latest_run_is_refused(engine):
    record({"a": A}, engine, "2020-02-01")
    with pytest.raises(StorewatchError, match="older than the latest run"):
        record({"a": A}, engine, "2020-01-01")


def test_duplicate_model_ids_in_one_run_count_as_errors(engine):
    writer = SnapshotWriter(engine, "teststore", day("2020-01-01"), "teststore/1")
    writer.start()
    writer.add("a", A, {})
    writer.add("a", B, {})
    summary = writer.finish("complete")
    assert (summary.added, summary.errors) == (1, 1)
    assert queries.models_as_of(engine, "teststore")[0]["name"] == "Alpha"


def test_writes_grow_with_changes_not_store_size(engine):
    store = {f"m{i}": {"name": f"model {i}"} for i in range(3000)}
    record(store, engine, "2020-01-01")
    before = version_rows(engine)
    store["m7"] = {"name": "renamed"}
    del store["m8"]
    summary = record(store, engine, "2020-02-01")
    assert (summary.changed, summary.removed) == (1, 1)
    assert version_rows(engine) == before + 1


def test_accepted_and_confirmed_removals_are_applied_in_chunks_all_of_them(engine, monkeypatch):
    """A suspect run can hold most of a store, and a confirmed drop can remove most of it: both are read and
    applied a chunk at a time (here 2 models), and every held change and removal lands, with the coverage."""
    monkeypatch.setattr(writer_module, "CHANGED_CHUNK", 2)
    store = {name: {"name": name, "license": "MIT"} for name in "abcdefg"}
    record(store, engine, "2020-01-01")
    held = record({**{name: {"name": name} for name in "abc"}, "f": store["f"], "g": store["g"]}, engine, "2020-02-01", status="suspect")
    assert (held.changed, held.removed) == (0, 0)
    accepted = accept_run(engine, held.run_id)
    assert (accepted.changed, accepted.removed) == (3, 2)
    assert ids_as_of(engine, "2020-02-15") == set("abcfg")
    assert coverage_at(engine, "teststore").models == 5 and coverage_at(engine, "teststore").elements == {"license": 2, "name": 5}
    # removals confirmed by the second of two complete runs, dated at the first: four models, two chunks
    policy = HealthPolicy(confirm_removals=2, max_drop=1.0)
    first_absent = record({"a": {"name": "a"}}, engine, "2020-03-01", policy=policy)
    assert (first_absent.removed, first_absent.absent) == (0, 4)
    confirmed = record({"a": {"name": "a"}, "h": {"name": "h"}}, engine, "2020-04-01", policy=policy)
    assert (confirmed.removed, confirmed.absent) == (0, 0)  # removed as of 2020-03-01, counted there
    assert ids_as_of(engine, "2020-03-15") == {"a"} and ids_as_of(engine, "2020-04-15") == {"a", "h"}
    assert coverage_at(engine, "teststore").models == 2
