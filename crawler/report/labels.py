"""How the report names a store: with a mark when its data is reconstructed, wherever the name appears.

A store is marked when runs of its recorded history replayed reconstructed snapshots (rebuilt from public
evidence, not recorded: their run `source` says so, see storage/runs.py). That is a property of the data,
not of the store: a live crawl of the same store records real runs. The content lists the marked stores
(`report["reconstructed"]`); tables, headings and chart legends all name stores through here.
"""

from __future__ import annotations

import re
from typing import Any, Collection

RECONSTRUCTED_LABEL = "reconstructed"
RECONSTRUCTED_NOTE = (
    "These runs replay snapshots rebuilt from public evidence (snapshots/<store>/SOURCES.md), not "
    "recordings of the store: they do not show what the store served on those dates. Some model ids are real, others "
    "synthetic (see each SOURCES.md), so a link to such a model's live page may lead nowhere."
)


def reconstructed_stores(report: dict[str, Any]) -> frozenset[str]:
    """The stores of a report's content whose history holds reconstructed runs."""
    return frozenset(report.get("reconstructed", {}))


def store_label(store: str, reconstructed: Collection[str]) -> str:
    """A store's name as plain text (chart legends, Markdown, CSV): `wolfram_nnr (reconstructed)`."""
    return f"{store} ({RECONSTRUCTED_LABEL})" if store in reconstructed else store


def file_safe(name: str) -> str:
    """A store name as part of a file name or an HTML id: runs of other characters as `-`."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
