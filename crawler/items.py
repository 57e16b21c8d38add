"""What spiders yield: a model's record, or word that a listed model's record could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelRecord:
    """One model as the store showed it: information elements (crawler.elements keys) and the raw record."""

    model_id: str
    elements: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    # The store's volatile counters (StoreConfig.counters: downloads, likes...), kept out of `elements` and
    # `raw` so that a counter tick opens no version: the writer records them as metrics when they move.
    counters: dict[str, int | float] = field(default_factory=dict)


@dataclass
class UnreadableModel:
    """The listing named this model but its page failed: it is present, its content unknown this run."""

    model_id: str
    reason: str


@dataclass
class ModelBatch:
    """The models of one listing page, yielded as one item: at two million models, an item per model would
    cost the crawl more than the store's answers do."""

    records: list[ModelRecord | UnreadableModel] = field(default_factory=list)
