"""The diff module and `storewatch diff`: checked against the snapshot files, and against set differences."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone

import pytest
import yaml
from sqlalchemy import event

from conftest import cli_json, run_cli, snapshot_dir
from storage import queries
from storage.db import open_database
from storage.diff import diff_runs, diff_store
from storage.writer import SnapshotWriter

PYTORCH_RAW = "raw.githubusercontent.com/pytorch/hub/master"
ONNX_MANIFEST = "raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json"
NOT_MODELS = {"README.md", "CONTRIBUTING.md", "CODE_OF_CONDUCT.md"}
# front-matter key -> the element it is shown as (README's store table)
FRONT_MATTER_ELEMENTS = {
    "title": "name", "summary": "description", "author": "provider", "tags": "keywords",
    "github-link": "source_code", "demo-model-link": "demo", "accelerator": "runtime",
}


def replay(*directories) -> list[str]:
    return [arg for directory in directories for arg in ("--replay", str(directory))]


def trimmed(value):
    """Values as a reader compares them: surrounding whitespace does not count, dates are ISO text."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [trimmed(item) for item in value]
    if isinstance(value, dict):
        return {key: trimmed(item) for key, item in value.items() if item is not None}
    return value


def pytorch_pages(directory) -> dict[str, tuple[dict, str]]:
    """model id -> (front matter, body), read straight from the snapshot's markdown files."""
    pages = {}
    for path in (directory / PYTORCH_RAW).glob("*.md"):
        content = path.read_text()
        if path.name in NOT_MODELS or not content.startswith("---"):
            continue
        _, front, body = content.split("---", 2)
        pages[path.stem] = (trimmed(yaml.safe_load(front) or {}), body.strip())
    return pages


def test_pytorch_diff_lists_exactly_the_files_added_removed_and_changed(db_url):
    dates = ("2019-09-30", "2019-12-31", "2020-06-30", "2020-12-31", "2021-06-30", "2021-12-31")
    run_cli("crawl", "pytorch_hub", *replay(*(snapshot_dir("pytorch_hub", d) for d in dates)), db=db_url)
    result = cli_json("diff", "pytorch_hub", "--from", "2020-06-30", "--to", "2021-06-30", db=db_url)

    before, after = pytorch_pages(snapshot_dir("pytorch_hub", "2020-06-30")), pytorch_pages(snapshot_dir("pytorch_hub", "2021-06-30"))
    earlier = set().union(*(pytorch_pages(snapshot_dir("pytorch_hub", d)).keys() for d in dates[:2]))
    new = after.keys() - before.keys()
    assert (result["store"], result["from"][:10], result["to"][:10]) == ("pytorch_hub", "2020-06-30", "2021-06-30")
    assert set(result["added"]) == new - earlier and set(result["returned"]) == new & earlier
    assert len(result["added"]) > 0
    assert set(result["removed"]) == before.keys() - after.keys()

    changed = {change["model_id"]: change["elements"] for change in result["changed"]}
    assert changed.keys() == {model for model in before.keys() & after.keys() if before[model] != after[model]}
    front_matter_changes = 0
    for model in before.keys() & after.keys():
        old, new_ = before[model][0], after[model][0]
        for key, element in FRONT_MATTER_ELEMENTS.items():
            if old.get(key) != new_.get(key):
                front_matter_changes += 1
                as_list = (lambda v: v if v is None or isinstance(v, list) else [v]) if key == "tags" else (lambda v: v)
                assert changed[model][element] == {"old": as_list(old.get(key)), "new": as_list(new_.get(key))}, (model, key)
    assert front_matter_changes > 0
    assert result["models"] == {"from": len(before), "to": len(after)}


def test_onnx_path_moves_are_changes_with_no_model_added_or_removed(db_url):
    dates = ("2023-07-12", "2023-12-08", "2023-12-26")
    run_cli("crawl", "onnx_zoo", *replay(*(snapshot_dir("onnx_zoo", d) for d in dates)), db=db_url)
    result = cli_json("diff", "onnx_zoo", "--from", "2023-07-12", "--to", "2023-12-26", db=db_url)

    def paths(day: str) -> dict[str, str]:
        entries = json.loads((snapshot_dir("onnx_zoo", day) / ONNX_MANIFEST).read_text())
        return {entry["model_path"].removeprefix("archive/").removeprefix("validated/"): entry["model_path"] for entry in entries}

    old, new = paths("2023-07-12"), paths("2023-12-26")
    assert old.keys() == new.keys()
    assert (result["added"], result["removed"], result["returned"]) == ([], [], [])
    moved = {model_id for model_id in old if old[model_id] != new[model_id]}
    assert len(moved) == len(new)
    changed = {change["model_id"]: change["elements"] for change in result["changed"]}
    assert moved <= changed.keys()
    for model_id in moved:
        access = changed[model_id]["access"]
        assert (access["old"]["model_path"], access["new"]["model_path"]) == (old[model_id], new[model_id])
    text_output = run_cli("diff", "onnx_zoo", "--from", "2023-07-12", "--to", "2023-12-26", db=db_url).stdout
    assert "added (0)" in text_output and "removed (0)" in text_output and f"changed ({len(changed)})" in text_output


def day(n: int) -> datetime:
    return datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(days=n)


def record(engine, when: datetime, present: dict[str, dict], status: str = "complete") -> None:
    writer = SnapshotWriter(engine, "teststore", when, "teststore/1", batch_size=7)
    writer.start()
    for model_id, elements in present.items():
        writer.add(model_id, elements, {"id": model_id})
    writer.finish(status)


def test_diff_equals_the_set_difference_of_the_two_listings(engine):
    """Invariant 4 of the design notes, over a random history with changes, removals, returns and partial runs."""
    rng = random.Random(7)
    universe = [f"m{i:02d}" for i in range(40)]
    instants = [day(10 * n) for n in range(8)]
    for n, when in enumerate(instants):
        present = {m: {"name": m, "license": rng.choice(["MIT", "GPL"]), **({"paper": "x"} if rng.random() < 0.3 else {})} for m in universe if rng.random() < 0.75}
        record(engine, when, present, "partial" if n == 4 else "complete")
    listings = {when: {m["model_id"]: m for m in queries.models_as_of(engine, "teststore", when)} for when in instants}
    probes = sorted([day(-1), *instants, day(35), day(200)])
    for i, start in enumerate(probes):
        for end in probes[i:]:
            a, b = _listing(listings, start), _listing(listings, end)
            result = diff_store(engine, "teststore", start, end)
            seen_before = set().union(*(_listing(listings, t).keys() for t in probes if t <= start))
            assert set(result.removed) == a.keys() - b.keys()
            assert set(result.added) == b.keys() - a.keys() - seen_before
            assert set(result.returned) == (b.keys() - a.keys()) & seen_before
            expected = {m: {k: {"old": a[m].get(k), "new": b[m].get(k)} for k in a[m].keys() | b[m].keys() if a[m].get(k) != b[m].get(k)} for m in a.keys() & b.keys() if a[m] != b[m]}
            assert {c.model_id: c.elements for c in result.changed} == expected
            assert (result.coverage_from.models, result.coverage_to.models) == (len(a), len(b))


def _listing(listings: dict, at: datetime) -> dict:
    earlier = [when for when in listings if when <= at]
    return listings[max(earlier)] if earlier else {}


def test_diff_between_two_runs_is_the_diff_between_their_instants(engine):
    record(engine, day(0), {"a": {"name": "A"}, "b": {"name": "B"}})
    record(engine, day(1), {"a": {"name": "A2"}, "c": {"name": "C"}})
    ids = [run["id"] for run in queries.list_runs(engine, "teststore")]
    result = diff_runs(engine, ids[0], ids[1])
    assert (result.added, result.removed, [c.model_id for c in result.changed]) == (["c"], ["b"], ["a"])
    assert result.changed[0].elements == {"name": {"old": "A", "new": "A2"}}


def test_diff_reads_through_indexes_not_the_whole_table(tmp_path):
    """Every statement the diff runs is an index lookup on model_versions: its cost follows the changes."""
    engine = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    store = {f"m{i}": {"name": f"model {i}"} for i in range(500)}
    record(engine, day(0), store)
    store["m1"] = {"name": "renamed"}
    record(engine, day(1), store)
    statements = []

    def remember(conn, cursor, sql, params, *_):
        statements.append((sql, params))

    event.listen(engine, "before_cursor_execute", remember)
    result = diff_store(engine, "teststore", day(0), day(2))
    event.remove(engine, "before_cursor_execute", remember)
    assert [c.model_id for c in result.changed] == ["m1"]
    with engine.connect() as connection:
        for sql, params in statements:
            if "model_versions" not in sql:
                continue
            plan = " | ".join(row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
            assert "SCAN model_versions" not in plan and "SCAN earlier" not in plan, plan


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["diff", "nosuchstore", "--from", "2020-01-01"], "unknown store 'nosuchstore'"),
        (["diff", "pytorch_hub", "--from", "2020-13-01"], "not a date: '2020-13-01'"),
        (["diff", "pytorch_hub", "--from", "2021-01-01", "--to", "2020-01-01"], "is earlier than --from"),
        (["diff", "pytorch_hub", "--from", "run:x"], "not a run: 'run:x'"),
        (["diff", "pytorch_hub", "--from", "run:999"], "no run 999 in the database"),
        (["diff", "pytorch_hub", "--from", "2020-01-01"], "no pytorch_hub history recorded yet"),
        (["compare", "--store", "nosuchstore"], "unknown store 'nosuchstore'"),
    ],
)
def test_diff_mistakes_give_one_line(args, message, tmp_path):
    (tmp_path / "x.db").touch()  # an empty database: read commands do not create a missing one
    result = run_cli(*args, "--db", f"sqlite:///{tmp_path / 'x.db'}", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_a_run_still_being_recorded_is_listed_but_not_counted(engine):
    record(engine, day(0), {"a": {"name": "A"}})
    writer = SnapshotWriter(engine, "teststore", day(1), "teststore/1")
    writer.start()
    writer.add("b", {"name": "B"}, {})
    during = diff_store(engine, "teststore", day(0), day(2))
    assert [run["status"] for run in during.runs] == ["running"]
    assert (during.added, during.removed, during.coverage_to.models) == ([], [], 1)
    writer.finish("complete")
    after = diff_store(engine, "teststore", day(0), day(2))
    assert (after.added, after.removed, after.coverage_to.models) == (["b"], ["a"], 1)
    assert after.coverage_to.run_id == during.runs[0]["id"]
