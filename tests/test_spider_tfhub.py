"""TF Hub extraction and identity, on docs from the recorded snapshots."""

from __future__ import annotations

import json

from conftest import snapshot_dir
from spiders.tfhub import extract_model, model_versions

TREE = "api.github.com/repos/tensorflow/tfhub.dev/git/trees/master?recursive=1"
RAW = "raw.githubusercontent.com/tensorflow/tfhub.dev/master"


def listing(date: str) -> dict:
    return json.loads((snapshot_dir("tfhub", date) / TREE).read_text())


def test_handles_group_version_docs():
    handles = model_versions(listing("2021-06-30"))
    assert handles["google/imagenet/mobilenet_v2_100_224/classification"].keys() >= {1, 2, 3, 4}
    assert all("/models/" not in handle for handle in handles)


def test_identity_survives_the_g3doc_to_docs_move():
    renamed = listing("2020-12-31")
    renamed["tree"] = [{**entry, "path": entry["path"].replace("assets/docs/", "assets/g3doc/", 1)} for entry in renamed["tree"]]
    assert model_versions(renamed).keys() == model_versions(listing("2020-12-31")).keys()


def test_latest_doc_maps_onto_elements():
    handle = "google/imagenet/mobilenet_v2_100_224/classification"
    versions = model_versions(listing("2021-06-30"))[handle]
    record = extract_model(handle, versions, (snapshot_dir("tfhub", "2021-06-30") / RAW / versions[max(versions)]).read_text())
    elements = record.elements
    assert record.model_id == handle
    assert elements["provider"] == "google"
    assert elements["task"] == "image-classification" and elements["input_domain"] == "image"
    assert elements["version"] == str(max(versions))
    assert elements["release_notes"] == [str(v) for v in sorted(versions)]
    assert elements["training_data"] == ["imagenet-ilsvrc-2012-cls"]
    assert elements["architecture"] == ["mobilenet-v2"]
    assert elements["framework"] == "saved_model_2"
    assert record.raw["doc"] == f"google/models/imagenet/mobilenet_v2_100_224/classification/{max(versions)}.md"


def test_old_module_type_key_still_gives_the_task():
    handle = "google/imagenet/mobilenet_v2_100_224/classification"
    versions = model_versions(listing("2020-12-31"))[handle]
    text = (snapshot_dir("tfhub", "2020-12-31") / RAW / versions[max(versions)]).read_text()
    assert "module-type" in text
    assert extract_model(handle, versions, text).elements["task"] == "image-classification"
