"""The report's latest changes made readable (crawler/report/changes.py): values as text, word diffs, grouping.

The grouping is checked on the ONNX Model Zoo's real December 2023 manifests (every model moved to
`archive/`, then to `validated/`) and on small cases that pin down what "changed the same way" means.
"""

from __future__ import annotations

import json
import time

import pytest

from conftest import snapshot_dir
from crawler.report.changes import (
    CONTEXT_CHARS,
    DELETED,
    GAP,
    INSERTED,
    MAX_DIFF_TOKENS,
    SAME,
    edit_script,
    element_changes,
    group_changes,
    grouped_changes,
    readable,
    word_diff,
)

ONNX_MANIFEST = "raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json"


def onnx_models(date: str) -> dict[str, dict]:
    """The elements of each model of a recorded ONNX manifest, as the spider extracts them."""
    from spiders.onnx_zoo import extract_model, manifest_entries

    entries, _ = manifest_entries(json.loads((snapshot_dir("onnx_zoo", date) / ONNX_MANIFEST).read_text()))
    return {record.model_id: record.elements for record in map(extract_model, entries)}


def onnx_diff(before: str, after: str) -> dict:
    """The diff of two manifests in the diff module's shape (StoreDiff.as_dict)."""
    old, new = onnx_models(before), onnx_models(after)
    changed = [
        {"model_id": model_id, "elements": {key: {"old": old[model_id].get(key), "new": new[model_id].get(key)} for key in sorted(old[model_id].keys() | new[model_id].keys()) if old[model_id].get(key) != new[model_id].get(key)}}
        for model_id in sorted(old.keys() & new.keys())
        if old[model_id] != new[model_id]
    ]
    return {"changed": changed, "added": sorted(new.keys() - old.keys()), "removed": sorted(old.keys() - new.keys()), "returned": []}


def change(model_id: str, **elements) -> dict:
    return {"model_id": model_id, "elements": {key: {"old": old, "new": new} for key, (old, new) in elements.items()}}


def test_onnx_moves_of_december_2023_are_one_row_each():
    """184 models, each path different, each moved the same way: one row per move, naming what moved."""
    into_archive = grouped_changes(onnx_diff("2023-07-12", "2023-12-08"), lambda model_id: f"https://example.org/{model_id}")
    (pattern,) = into_archive["patterns"]
    changed = onnx_diff("2023-07-12", "2023-12-08")["changed"]
    assert into_archive["patterns_total"] == 1 and pattern["models"] == len(changed) == 184
    assert pattern["element"] == "access" and pattern["kind"] == "edit"
    assert [text for kind, text in pattern["segments"] if kind == INSERTED] == ["archive/", "archive/"]
    assert not [text for kind, text in pattern["segments"] if kind == DELETED]
    assert pattern["new"] == "model_path: archive/….onnx\nmodel_with_data_path: archive/….tar.gz"
    assert pattern["old"] == "model_path: ….onnx\nmodel_with_data_path: ….tar.gz"

    into_validated = grouped_changes(onnx_diff("2023-12-08", "2023-12-26"))
    (pattern,) = into_validated["patterns"]
    assert pattern["models"] == 184
    assert [text for kind, text in pattern["segments"] if kind in (DELETED, INSERTED)] == ["archive", "validated", "archive", "validated"]
    assert pattern["old"] == "model_path: archive/….onnx\nmodel_with_data_path: archive/….tar.gz"
    assert pattern["new"] == "model_path: validated/….onnx\nmodel_with_data_path: validated/….tar.gz"
    assert pattern["examples"] == sorted(change["model_id"] for change in onnx_diff("2023-12-08", "2023-12-26")["changed"])[:3]

    # every change stays in the table rows (the CSV), whole, with its pattern and link
    rows = into_archive["rows"]
    assert len(rows) == 184 and {row["pattern"] for row in rows} == {1} and {row["pattern_models"] for row in rows} == {184}
    row = next(row for row in rows if row["model_id"] == "vision/classification/resnet/model/resnet50-v1-7.onnx")
    assert row["old"].startswith("model_path: vision/classification/resnet/model/resnet50-v1-7.onnx\n")
    assert row["new"].startswith("model_path: archive/vision/classification/resnet/model/resnet50-v1-7.onnx\n")
    assert row["url"] == "https://example.org/vision/classification/resnet/model/resnet50-v1-7.onnx"


def test_a_change_groups_with_the_same_edit_of_the_same_element_only():
    diff = {
        "added": [], "removed": [], "returned": [],
        "changed": [
            change("a", access=("https://host/a/v1/model.onnx", "https://host/a/v2/model.onnx")),
            change("b", access=("https://other/b-model/v1/weights", "https://other/b-model/v2/weights")),
            change("c", access=("https://host/c/v1/model.onnx", "https://host/c/v3/model.onnx")),  # another edit
            change("d", source_code=("https://host/d/v1", "https://host/d/v2")),  # another element
            change("e", access=("v1", "v2"), version=("1.0", "2.0")),
        ],
    }
    patterns = group_changes(element_changes(diff["changed"]))
    assert [(p.element, p.model_ids) for p in patterns] == [("access", ["a", "b", "e"]), ("access", ["c"]), ("source_code", ["d"]), ("version", ["e"])]
    shared = patterns[0].segments()
    assert [(kind, text) for kind, text in shared if kind in (DELETED, INSERTED)] == [(DELETED, "1"), (INSERTED, "2")]
    assert shared[0] == (GAP, "…")  # what precedes the edit differs from model to model
    # a single change shows its own whole diff
    assert patterns[1].segments() == [(SAME, "https://host/c/v"), (DELETED, "1"), (INSERTED, "3"), (SAME, "/model.onnx")]


def test_values_that_appear_disappear_or_are_respelled_group_by_element():
    patterns = group_changes(
        element_changes(
            [
                change("a", demo=(None, "https://colab.example/a.ipynb"), architecture=("MobileNet V2", "mobilenet-v2")),
                change("b", demo=(None, "https://colab.example/b.ipynb"), architecture=("ResNet 50", "resnet-50")),
                change("c", demo=(None, "https://colab.example/b.ipynb"), architecture=("ResNet 50", "ResNet-101")),
                change("d", license=("MIT", None)),
                {"model_id": "e", "elements": {}},
            ]
        )
    )
    by_kind = {(p.element, p.kind): p for p in patterns}
    assert set(by_kind) == {("demo", "set"), ("architecture", "respelled"), ("architecture", "edit"), ("license", "cleared"), (None, "raw")}
    demo = by_kind[("demo", "set")]
    assert demo.model_ids == ["a", "b", "c"] and demo.values() == {"https://colab.example/a.ipynb": 1, "https://colab.example/b.ipynb": 2}
    assert demo.segments() == [(INSERTED, "https://colab.example/"), (GAP, "…"), (INSERTED, ".ipynb")]
    assert by_kind[("architecture", "respelled")].model_ids == ["a", "b"]  # ResNet 50 -> ResNet-101 is an edit
    assert by_kind[("license", "cleared")].segments() == [(DELETED, "MIT")]
    assert by_kind[(None, "raw")].model_ids == ["e"] and patterns[0] is demo  # the largest group first


def test_values_read_as_text_not_json():
    assert readable(None) == "" and readable("as is") == "as is"
    assert readable(["vision", "classification"]) == "vision, classification"
    assert readable({"average": 4.5, "count": 41, "verified": True}) == "average: 4.5\ncount: 41\nverified: true"
    assert readable([{"date": "2020-09-10", "version": "1.1.0"}, {"date": "2018-04-19", "version": "1.0.0"}]) == (
        "- date: 2020-09-10, version: 1.1.0\n- date: 2018-04-19, version: 1.0.0"
    )
    assert readable({"eula": [{"type": "Custom", "url": "https://x.example"}], "refund": None}) == "eula:\n  - type: Custom, url: https://x.example\nrefund: (none)"


def test_word_diff_marks_what_changed_and_keeps_the_context_short():
    assert word_diff("Identify the main object in an image", "Identify the main object in an image among 4,315 classes") == [
        (SAME, "Identify the main object in an image"),
        (INSERTED, " among 4,315 classes"),
    ]
    assert word_diff("price: 1.20000000, unit: HostHrs", "price: 0.95000000, unit: HostHrs") == [
        (SAME, "price: "), (DELETED, "1.20000000"), (INSERTED, "0.95000000"), (SAME, ", unit: HostHrs"),
    ]
    # a list item added on its own line is one insertion, not words spread over two items
    before = readable([{"date": "2018-04-19", "version": "1.0.0"}])
    after = readable([{"date": "2020-09-10", "version": "1.1.0"}, {"date": "2018-04-19", "version": "1.0.0"}])
    assert word_diff(before, after) == [(INSERTED, "- date: 2020-09-10, version: 1.1.0\n"), (SAME, before)]
    # separators between edits do not split a replacement
    assert word_diff("MobileNet V2", "mobilenet-v2") == [(DELETED, "MobileNet V"), (INSERTED, "mobilenet-v"), (SAME, "2")]
    # a long unchanged text shows only what is near the edit
    words = " ".join(f"word{n}" for n in range(400))
    segments = word_diff(words, words.replace("word200", "WORD"))
    assert [kind for kind, _ in segments] == [GAP, SAME, DELETED, INSERTED, SAME, GAP]
    assert sum(len(text) for _, text in segments) < 2 * CONTEXT_CHARS + 40


def test_a_value_too_long_to_diff_word_by_word_is_one_replacement_quickly():
    old = " ".join(f"a{n}" for n in range(MAX_DIFF_TOKENS))
    new = " ".join(f"b{n}" for n in range(MAX_DIFF_TOKENS))
    started = time.monotonic()
    ops = edit_script(f"start {old} end", f"start {new} end")
    assert time.monotonic() - started < 2
    assert [tag for tag, _, _ in ops] == ["equal", "replace", "equal"]


@pytest.mark.parametrize("hostile", ["<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "=HYPERLINK(\"https://x\")"])
def test_segments_keep_store_text_as_it_is(hostile):
    """Segments are text: escaping is the templates' (checked in test_report), so nothing is lost or altered here."""
    (pattern,) = grouped_changes({"added": [], "removed": [], "returned": [], "changed": [change("m", description=("Plain.", f"Plain. {hostile}"))]})["patterns"]
    assert pattern["segments"] == [[SAME, "Plain."], [INSERTED, f" {hostile}"]]
