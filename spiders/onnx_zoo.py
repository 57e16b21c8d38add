"""ONNX Model Zoo: the manifest `ONNX_HUB_MANIFEST.json` that `onnx.hub` reads, one entry per model file.

Identity: `model_id` is the entry's `model_path` without the leading `archive/` or `validated/` folder that
the December 2023 reorganisations added, so those moves show as a change of `access`, not as new models.
(Neither `model` nor `model` + opset is unique: in 2021 five ResNet entries shared a name and opset.)
"""

from __future__ import annotations

import re
from typing import Any

from crawler.items import ModelRecord
from spiders.base import StoreConfig, StoreSpider

MANIFEST_URL = "https://raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json"
REORGANISED = re.compile(r"^(?:archive|validated)/")

STORE = StoreConfig(
    name="onnx_zoo",
    title="ONNX Model Zoo",
    identity="manifest model_path without a leading archive/ or validated/ folder",
    live_urls=(MANIFEST_URL,),
    crawled_via="api",
    obey_robots=False,  # the raw file onnx.hub itself reads
    required_elements=("name", "version", "access"),  # onnx.hub reads model, opset_version and model_path
    max_page_bytes=8 * 1024 * 1024,  # the manifest is 321 KB for 184 models
)


def model_id(entry: dict[str, Any]) -> str:
    return REORGANISED.sub("", entry["model_path"])


def extract_model(entry: dict[str, Any]) -> ModelRecord:
    """One manifest entry's record. Tags run domain, task, family (`["vision", "classification", "resnet"]`)."""
    metadata = entry.get("metadata") or {}
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
        for entry in response.json():
            yield extract_model(entry)
