"""ONNX Model Zoo: the manifest `ONNX_HUB_MANIFEST.json` that `onnx.hub` reads, one entry per model file.

Identity: `model_id` is the entry's `model_path` without the leading `archive/` or `validated/` folder that
the December 2023 reorganisations added, so those moves show as a change of `access`, not as new models.
(Neither `model` nor `model` + opset is unique: in 2021 five ResNet entries shared a name and opset.)

Every entry of the manifest is a model: nothing in it says otherwise. A manifest that is not a JSON list, or
whose entries are not objects naming a `model_path`, is not the manifest (a suspect run). One bad entry in a
good manifest: with a `model_path` but a `metadata` that is not an object, it is an unreadable model (kept,
counted as an error); without a `model_path` nobody can tell which model it is, so the run is partial and
removes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from crawler.accounting import MalformedListing, UnreadablePage, note_failure
from crawler.items import ModelRecord, UnreadableModel
from spiders.base import StoreConfig, StoreSpider
from spiders.pages import readable_json

MANIFEST_URL = "https://raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json"
REORGANISED = re.compile(r"^(?:archive|validated)/")

STORE = StoreConfig(
    name="onnx_zoo",
    title="ONNX Model Zoo",
    identity="manifest model_path without a leading archive/ or validated/ folder",
    live_urls=(MANIFEST_URL,),
    crawled_via="api",
    model_page="https://github.com/onnx/models/blob/main/validated/{model_id}",  # where the December 2023 moves left them
    obey_robots=False,  # the raw file onnx.hub itself reads
    elements=("name", "task", "input_domain", "keywords", "version", "size", "io_format", "framework", "access"),
    required_elements=("name", "version", "access"),  # onnx.hub reads model, opset_version and model_path
    max_page_bytes=8 * 1024 * 1024,  # the manifest is 321 KB for 184 models
    # No counters: the manifest lists files, hashes and opsets, no download or usage counts.
)


def model_id(entry: dict[str, Any]) -> str:
    return REORGANISED.sub("", entry["model_path"])


def manifest_entries(manifest: Any) -> tuple[list[dict[str, Any]], int]:
    """The entries that name a model_path, and how many do not; MalformedListing when the manifest is not a
    list, or holds entries and none of them names a model_path."""
    if not isinstance(manifest, list):
        raise MalformedListing(f"the manifest is a JSON {type(manifest).__name__}, not a list")
    named = [entry for entry in manifest if isinstance(entry, dict) and isinstance(entry.get("model_path"), str) and entry["model_path"]]
    if manifest and not named:
        raise MalformedListing("no manifest entry is an object naming a model_path")
    return named, len(manifest) - len(named)


def extract_model(entry: dict[str, Any]) -> ModelRecord:
    """One manifest entry's record. Tags run domain, task, family (`["vision", "classification", "resnet"]`)."""
    metadata = entry.get("metadata") or {}
    if not isinstance(metadata, dict) or not isinstance(metadata.get("tags") or [], list):
        raise UnreadablePage(f"manifest entry {entry['model_path']}: metadata is not an object with a tags list")
    tags = metadata.get("tags") or []
    elements = {
        "name": entry.get("model"),
        "keywords": tags,
        "input_domain": tags[0] if tags else None,
        "task": tags[1] if len(tags) > 1 else None,
        "version": f"opset {entry['opset_version']}" if entry.get("opset_version") is not None else None,
        "framework": {"format": "ONNX", "onnx_version": entry.get("onnx_version"), "opset_version": entry.get("opset_version")},
        "size": {"bytes": metadata["model_bytes"]} if metadata.get("model_bytes") else None,
        "io_format": metadata.get("io_ports"),
        "access": {"model_path": entry["model_path"], "model_with_data_path": metadata.get("model_with_data_path")},
    }
    return ModelRecord(
        model_id=model_id(entry),
        elements={key: value for key, value in elements.items() if value is not None},
        raw=entry,
    )


class OnnxZooSpider(StoreSpider):
    """One listing request: the manifest holds every model's record."""

    name = STORE.name
    store_config = STORE
    version = "1"

    async def start(self):
        yield self.listing_request(MANIFEST_URL, self.parse_manifest)

    def parse_manifest(self, response):
        entries, unnamed = manifest_entries(readable_json(response, MalformedListing))
        if unnamed:
            note_failure(self.crawler.stats, "listing", f"{unnamed} manifest entries name no model_path: nothing removed")
        for entry in entries:
            try:
                yield extract_model(entry)
            except UnreadablePage as error:
                note_failure(self.crawler.stats, "model", str(error))
                yield UnreadableModel(model_id(entry), str(error))
