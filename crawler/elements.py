"""The information-element taxonomy (docs/elements.md): the keys every spider maps a store's fields onto."""

from __future__ import annotations

# key -> dimension, in the order of the taxonomy table.
ELEMENTS: dict[str, str] = {
    "name": "product",
    "description": "product",
    "provider": "product",
    "task": "product",
    "input_domain": "product",
    "keywords": "product",
    "version": "product",
    "published_at": "product",
    "updated_at": "product",
    "size": "product",
    "demo": "product",
    "popularity": "popularity",
    "rating": "popularity",
    "usage": "technical",
    "architecture": "technical",
    "training_data": "technical",
    "evaluation": "technical",
    "io_format": "technical",
    "framework": "technical",
    "pricing": "delivery",
    "runtime": "delivery",
    "dependencies": "delivery",
    "access": "delivery",
    "license": "legal",
    "terms": "legal",
    "source_code": "development",
    "paper": "development",
    # Lineage: the models this one was derived from, [{"id": ..., "relation": "finetune"|"adapter"|"merge"|
    # "quantized"}] (relation absent when the store does not say); `json_extract(elements, '$.base_models')`.
    "base_models": "development",
    "support": "development",
    "release_notes": "release",
}


def element_order(keys) -> list[str]:
    """Taxonomy order first (docs/elements.md), then any other keys alphabetically."""
    keys = set(keys)
    return [key for key in ELEMENTS if key in keys] + sorted(keys - ELEMENTS.keys())
