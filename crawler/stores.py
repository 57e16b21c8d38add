"""The stores storewatch can crawl, known without importing Scrapy (so read-only commands start fast)."""

from __future__ import annotations

import importlib

from storage.errors import StorewatchError

# One entry per spider in spiders/ (its `name`); tests/test_cli.py checks this against Scrapy's spider list.
STORES = ("aws_marketplace", "huggingface", "kaggle_models", "modeldepot", "onnx_zoo", "pytorch_hub", "replicate", "tfhub", "wolfram_nnr")


def known_stores() -> list[str]:
    return sorted(STORES)


def check_store(store: str) -> str:
    """`store`, or a one-line error naming the stores there are."""
    if store not in STORES:
        raise StorewatchError(f"unknown store {store!r}; known stores: {', '.join(known_stores())}")
    return store


class StoreSpiderLoader:
    """Scrapy's SPIDER_LOADER_CLASS: a store's spider is the one named after it in `spiders/<store>.py`.

    Only the crawled store's module is imported; Scrapy's default loader imports every spider module (with
    their parsers and browser glue) before each crawl, which cost a replayed crawl about 70 ms.
    """

    @classmethod
    def from_settings(cls, settings=None) -> "StoreSpiderLoader":
        return cls()

    def load(self, spider_name: str) -> type:
        if spider_name not in STORES:
            raise KeyError(f"Spider not found: {spider_name}")
        module = importlib.import_module(f"spiders.{spider_name}")
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__ and getattr(value, "name", None) == spider_name:
                return value
        raise KeyError(f"spiders/{spider_name}.py defines no spider named {spider_name!r}")

    def list(self) -> list[str]:
        return known_stores()

    def find_by_request(self, request) -> list[str]:
        return [name for name in known_stores() if self.load(name).handles_request(request)]
