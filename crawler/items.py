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


@dataclass
class UnreadableModel:
    """The listing named this model but its page failed: it is present, its content unknown this run."""

    model_id: str
    reason: str
