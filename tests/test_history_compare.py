"""Comparing two histories of a store, and swapping a rebuilt one in: what `storewatch reextract` stands on."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from storage.db import open_database
from storage.history_compare import compare_histories
from storage.history_swap import replace_store_history
from storage.errors import StorewatchError
from storage.models import Model, ModelVersion
from storage import queries
from storage.timeutil import parse_instant
from tests.conftest import run_cli, snapshot_dirs


def replay(db: str, directories) -> None:
    args = []
    for directory in directories:
        args += ["--replay", str(directory)]
    run_cli("crawl", "pytorch_hub", *args, db=db)


@pytest.fixture
def two_histories(db_url, tmp_path):
    """The same four PyTorch Hub snapshots recorded twice: in the database under test and in a SQLite file."""
    directories = snapshot_dirs("pytorch_hub")[:4]
    rebuilt_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    replay(db_url, directories)
    replay(rebuilt_url, directories)
    original, rebuilt = open_database(db_url), open_database(rebuilt_url)
    yield original, rebuilt
    original.dispose()
    rebuilt.dispose()


def set_license(engine, model_id: str, license: str) -> int:
    """Give every version of one model another license, as a fixed extractor would have read it."""
    versions, models = ModelVersion.__table__, Model.__table__
    with engine.begin() as connection:
        rows = connection.execute(
            select(versions.c.id, versions.c.elements).join(models, models.c.id == versions.c.model_pk).where(models.c.model_id == model_id)
        ).all()
        for version_id, elements in rows:
            connection.execute(
                update(versions).where(versions.c.id == version_id).values(elements={**elements, "license": license}, content_hash="f" * 32)
            )
    return len(rows)


def test_identical_histories_compare_equal(two_histories):
    original, rebuilt = two_histories
    difference = compare_histories(original, rebuilt, "pytorch_hub")
    assert difference.identical, difference.as_dict()
    assert difference.original == difference.rebuilt > 0


def test_a_changed_element_is_counted_in_every_affected_version(two_histories):
    original, rebuilt = two_histories
    model_id = queries.models_as_of(original, "pytorch_hub")[0]["model_id"]
    affected = set_license(rebuilt, model_id, "Fixed-License-1.0")
    difference = compare_histories(original, rebuilt, "pytorch_hub")
    assert not difference.identical
    assert dict(difference.elements) == {"license": affected}
    assert difference.only_original == difference.only_rebuilt == 0
    assert all(example["model_id"] == model_id and "license" in example["difference"] for example in difference.examples)


def test_a_version_missing_from_one_side_is_reported(db_url, tmp_path):
    directories = snapshot_dirs("pytorch_hub")[:3]
    rebuilt_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    replay(db_url, directories)
    replay(rebuilt_url, directories[:1] + directories[2:])  # the middle snapshot left out
    original, rebuilt = open_database(db_url), open_database(rebuilt_url)
    difference = compare_histories(original, rebuilt, "pytorch_hub")
    assert difference.only_original > 0
    assert difference.original - difference.only_original == difference.rebuilt - difference.only_rebuilt


def test_swapping_in_a_rebuilt_history_keeps_run_numbers_and_takes_its_versions(two_histories):
    original, rebuilt = two_histories
    model_id = queries.models_as_of(original, "pytorch_hub")[0]["model_id"]
    set_license(rebuilt, model_id, "Fixed-License-1.0")
    run_ids = [run["id"] for run in queries.list_runs(original, "pytorch_hub")]
    replace_store_history(original, rebuilt, "pytorch_hub", run_ids)
    assert [run["id"] for run in queries.list_runs(original, "pytorch_hub")] == run_ids
    assert compare_histories(original, rebuilt, "pytorch_hub").identical
    history = queries.model_history(original, "pytorch_hub", model_id)
    assert {version["elements"]["license"] for version in history} == {"Fixed-License-1.0"}
    latest = {row["model_id"]: row for row in queries.models_as_of(original, "pytorch_hub")}
    assert latest[model_id]["license"] == "Fixed-License-1.0"


def test_a_swap_leaves_other_stores_alone_and_fails_whole(db_url, tmp_path, monkeypatch):
    from storage import history_swap

    run_cli("crawl", "onnx_zoo", "--replay", str(snapshot_dirs("onnx_zoo")[0]), db=db_url)
    directories = snapshot_dirs("pytorch_hub")[:2]
    rebuilt_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    replay(db_url, directories)
    replay(rebuilt_url, directories)
    original, rebuilt = open_database(db_url), open_database(rebuilt_url)
    onnx = queries.models_as_of(original, "onnx_zoo")
    model_id = queries.models_as_of(original, "pytorch_hub")[0]["model_id"]
    set_license(rebuilt, model_id, "Fixed-License-1.0")
    run_ids = [run["id"] for run in queries.list_runs(original, "pytorch_hub")]
    before = queries.model_history(original, "pytorch_hub", model_id)

    def broken(*args):
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(history_swap, "_copy_coverage", broken)  # fails after the versions were replaced
    with pytest.raises(RuntimeError):
        replace_store_history(original, rebuilt, "pytorch_hub", run_ids)
    assert queries.model_history(original, "pytorch_hub", model_id) == before  # rolled back whole
    monkeypatch.undo()
    replace_store_history(original, rebuilt, "pytorch_hub", run_ids)
    assert queries.model_history(original, "pytorch_hub", model_id)[0]["elements"]["license"] == "Fixed-License-1.0"
    assert queries.models_as_of(original, "onnx_zoo") == onnx
    original.dispose()
    rebuilt.dispose()


def test_a_swap_that_does_not_match_the_runs_changes_nothing(two_histories):
    original, rebuilt = two_histories
    before = queries.models_as_of(original, "pytorch_hub")
    run_ids = [run["id"] for run in queries.list_runs(original, "pytorch_hub")]
    with pytest.raises(StorewatchError, match="nothing was replaced"):
        replace_store_history(original, rebuilt, "pytorch_hub", run_ids[:-1])
    assert queries.models_as_of(original, "pytorch_hub") == before


def test_a_history_rebuilt_for_a_span_compares_equal_within_it(db_url, tmp_path):
    """Rebuilt from the second snapshot to the third, the history opens every model at the second: the versions
    current then and those closed after the third are seen within the span, and nothing differs."""
    directories = snapshot_dirs("pytorch_hub")[:4]
    rebuilt_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    replay(db_url, directories)
    replay(rebuilt_url, directories[1:3])
    original, rebuilt = open_database(db_url), open_database(rebuilt_url)
    observed = [parse_instant(run["observed_at"], end_of_day=False) for run in queries.list_runs(rebuilt, "pytorch_hub")]
    within = compare_histories(original, rebuilt, "pytorch_hub", observed[0], observed[-1])
    assert within.identical, within.as_dict()
    assert not compare_histories(original, rebuilt, "pytorch_hub").identical  # over the whole history it differs
