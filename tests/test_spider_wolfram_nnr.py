"""Wolfram Neural Net Repository extraction, on the reconstructed replay pages (snapshots/wolfram_nnr)."""

from __future__ import annotations

import json

from conftest import snapshot_dir
from spiders.wolfram_nnr import RESOURCE_URL, SEARCH_URL, extract_model, listing_items, slug

RESOURCES = "resources.wolframcloud.com/NeuralNetRepository/resources"
SEARCH_FILE = SEARCH_URL.removeprefix("https://")


def listing(date: str) -> list[dict]:
    return listing_items(json.loads((snapshot_dir("wolfram_nnr", date) / SEARCH_FILE).read_text())).items


def record(date: str, short_name: str):
    item = next(item for item in listing(date) if item["ShortName"] == short_name)
    return extract_model(item, (snapshot_dir("wolfram_nnr", date) / RESOURCES / short_name).read_text())


def test_listing_names_every_resource_page_by_its_slug_not_its_name():
    items = listing("2024-06-01")
    assert len(items) == 12 and [slug(item) for item in items] == sorted(slug(item) for item in items)
    gpt2 = next(item for item in items if item["Name"].startswith("GPT-2"))
    assert slug(gpt2) == "GPT2-Transformer-Trained-on-WebText-Data"
    assert RESOURCE_URL.format(slug(gpt2)) == f"https://{RESOURCES}/GPT2-Transformer-Trained-on-WebText-Data"
    assert slug({"DocumentationLink": f"https://{RESOURCES}/LeNet-Trained-on-MNIST-Data/"}) == "LeNet-Trained-on-MNIST-Data"


def test_a_listing_as_long_as_the_count_asked_for_is_flagged_as_truncated():
    items = [{"ShortName": f"Net-{n:04}", "Name": f"Net {n}"} for n in range(1000)]
    listing = listing_items({"Resources": items})
    assert listing.truncated and len(listing.items) == 1000
    assert not listing_items({"Resources": items[:999]}).truncated


def test_resource_page_maps_onto_elements():
    vdsr = record("2019-03-01", "Very-Deep-Net-for-Super-Resolution")
    elements = vdsr.elements
    assert elements["name"] == "Very Deep Net for Super-Resolution"
    assert elements["version"] == "1.1.0" and elements["updated_at"] == "2018-07-26"
    assert elements["size"] == {"parameters": elements["size"]["parameters"], "layers": elements["size"]["layers"], "bytes": 2837896}
    assert elements["dependencies"] == "Wolfram Language 11.3 or above"
    assert elements["license"]["name"] == "MIT License"
    assert elements["release_notes"] == [{"version": "1.1.0", "date": "2018-07-26"}]
    assert elements["access"]["netmodel"] == 'NetModel["Very Deep Net for Super-Resolution"]'
    assert elements["input_domain"] == ["Image"] and elements["task"]
    assert "evaluation" in elements and "training_data" in elements
    for absent in ("provider", "pricing", "framework", "rating", "terms"):
        assert absent not in elements
    assert vdsr.raw["uuid"]


def test_missing_sections_leave_their_elements_absent():
    records = [record("2019-03-01", item["ShortName"]) for item in listing("2019-03-01")]
    without_evaluation = [r.model_id for r in records if "evaluation" not in r.elements]
    assert len(records) == 11 and len(without_evaluation) == 5
    assert sum("source_code" not in r.elements for r in records) == 2


def test_parameterised_family_keeps_its_variants_in_the_raw_record():
    gpt2 = record("2024-06-01", "GPT2-Transformer-Trained-on-WebText-Data")
    assert gpt2.raw["variants"] == ["124M", "355M", "774M", "1558M"]
    assert gpt2.elements["name"] == "GPT-2 Transformer Trained on WebText Data"
    assert [entry["version"] for entry in gpt2.elements["release_notes"]] == ["2.0.0", "1.0.0"]
