"""The stores storewatch can crawl, known without importing Scrapy (so read-only commands start fast)."""

from __future__ import annotations

from storage.errors import StorewatchError

# One entry per spider in spiders/ (its `name`); tests/test_cli.py checks this against Scrapy's spider list.
STORES = ("aws_marketplace", "modeldepot", "onnx_zoo", "pytorch_hub", "tfhub", "wolfram_nnr")


def known_stores() -> list[str]:
    return sorted(STORES)


def check_store(store: str) -> str:
    """`store`, or a one-line error naming the stores there are."""
    if store not in STORES:
        raise StorewatchError(f"unknown store {store!r}; known stores: {', '.join(known_stores())}")
    return store
