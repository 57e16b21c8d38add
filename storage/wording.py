"""Counted nouns in what storewatch prints and records: "1 run", "2 runs"."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`count` and the noun, singular for exactly one: `plural(1, "run")` is "1 run", `plural(0, "run")` "0 runs"."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
