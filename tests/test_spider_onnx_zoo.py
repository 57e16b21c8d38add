"""ONNX Model Zoo extraction and identity, on the recorded manifests."""

from __future__ import annotations

import json

from conftest import snapshot_dir
from spiders.onnx_zoo import extract_model

MANIFEST = "raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json"


def manifest(date: str) -> list[dict]:
    return json.loads((snapshot_dir("onnx_zoo", date) / MANIFEST).read_text())


def test_identity_is_unique_although_names_and_opsets_repeat():
    entries = manifest("2021-08-20")
    assert len({(entry["model"], entry["opset_version"]) for entry in entries}) < len(entries)
    assert len({extract_model(entry).model_id for entry in entries}) == len(entries)


def test_identity_survives_the_december_2023_moves():
    ids = [{extract_model(entry).model_id for entry in manifest(date)} for date in ("2023-07-12", "2023-12-08", "2023-12-26")]
    assert ids[0] == ids[1] == ids[2]
    paths = {entry["model_path"].split("/")[0] for entry in manifest("2023-12-26")}
    assert paths == {"validated"}


def test_entry_maps_onto_elements():
    entry = next(e for e in manifest("2023-12-26") if e["model"] == "BERT-Squad")
    record = extract_model(entry)
    assert record.model_id == "text/machine_comprehension/bert-squad/model/bertsquad-10.onnx"
    elements = record.elements
    assert (elements["name"], elements["input_domain"], elements["task"]) == ("BERT-Squad", "text", "machine comprehension")
    assert elements["framework"] == {"format": "ONNX", "onnx_version": "1.5", "opset_version": 10}
    assert elements["size"] == {"bytes": 435852734}
    assert elements["access"]["model_path"] == entry["model_path"]
    assert elements["io_format"]["inputs"][0]["name"] == "unique_ids_raw_output___9:0"
    assert record.raw == entry
