"""Small helpers the HTML-reading spiders share: visible text of a selection, dicts without empty values."""

from __future__ import annotations

from typing import Any

from parsel import Selector, SelectorList


def text_of(selection: Selector | SelectorList) -> str | None:
    """The selection's text, whitespace collapsed; None when there is none."""
    value = " ".join(" ".join(selection.css("::text").getall()).split())
    return value or None


def without_none(values: dict[str, Any]) -> dict[str, Any] | None:
    """The dict without None values; None when nothing is left (the element is then absent)."""
    kept = {key: value for key, value in values.items() if value is not None}
    return kept or None
