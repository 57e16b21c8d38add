"""Hugging Face Hub: the `/api/models` listing, 1,000 models a page, every field the elements need on the page.

Identity: `model_id` is the repository id (`owner/name`), as the Hub lists it. A renamed repository is a new id
(the Hub redirects the old one, the listing shows only the new).

The listing is keyset-paginated: each answer's `Link: <...>; rel="next"` header holds the next page's cursor,
a key on the sort field and the repository's `_id`. The default sort (`trendingScore`) moves while a crawl
runs, so pages would skip or repeat models; `createdAt` does not move, so the whole Hub is listed by creation
date. A model listed twice anyway (drift: a model moving across the cursor shows again on the next page) is counted
(`storewatch/duplicate_ids`) and kept once; the spider remembers the ids of the page before only, as the ids of
two million models would cost it 140 MB. A repeat further apart reaches the writer, which keeps the first and
counts the rest as duplicates (spiders/listing_guard.py).

Every page is one ModelBatch item. A page that is not a JSON list is not the listing (a suspect run); an
entry without an id leaves a model nobody can name (a partial run: nothing removed); an entry whose fields
cannot be read is an unreadable model.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import urlencode

from crawler.accounting import MalformedListing, UnreadablePage, note_failure
from crawler.items import ModelBatch, ModelRecord, UnreadableModel
from spiders.base import StoreConfig, StoreSpider
from spiders.listing_guard import ListingGuard
from spiders.pages import readable_json

LISTING_URL = "https://huggingface.co/api/models"
PAGE_SIZE = 1000  # the largest page the Hub serves
# The fields asked for with expand[] (with expand[], only those come back). Each one carries an element:
# author (provider), pipeline_tag (task), tags (keywords, licence, datasets, arXiv papers, base-model tags),
# library_name (framework), cardData (licence, datasets and evaluation as the card states them), config
# (architectures, model type), createdAt/lastModified (dates), sha (version), gated (access),
# transformersInfo (how transformers loads it), safetensors (parameter count), baseModels (lineage with its
# relation), model-index (evaluation), and the three counters. Left out on purpose: siblings and spaces
# (file and Space lists that grow without changing the model), inference (warm/cold, flips by the hour),
# widgetData, usedStorage, downloadsAllTime.
EXPAND = (
    "author", "baseModels", "cardData", "config", "createdAt", "downloads", "gated", "lastModified",
    "library_name", "likes", "model-index", "pipeline_tag", "safetensors", "sha", "tags", "transformersInfo",
    "trendingScore",
)
# The Hub API's counter fields -> storewatch metric names (StoreConfig.counters).
# `downloadsAllTime` is in the dumps (from 2025-02-26) and an expand[] field the listing does not ask for.
COUNTER_FIELDS = {"downloads": "downloads", "downloadsAllTime": "downloads_all_time", "likes": "likes", "trendingScore": "trending_score"}
# Repositories older than the Hub's creation dates all carry this createdAt (hub-docs docs/hub/api.md); the
# recorded answers show it as 23:29:04 and 23:29:05 (bert-base-uncased, gpt2...): not a publication date.
PLACEHOLDER_CREATED = "2022-03-02T23:29:0"
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
# storewatch.toml [stores.huggingface] scope -> the listing's query parameters. `library=` can be ignored
# silently by the Hub; `filter=<library>` is what its own client sends.
SCOPE_PARAMETERS = {"author": "author", "search": "search", "library": "filter", "pipeline_tag": "pipeline_tag"}

STORE = StoreConfig(
    name="huggingface",
    title="Hugging Face Hub",
    identity="repository id `owner/name` as the listing gives it",
    live_urls=(LISTING_URL,),
    crawled_via="api",
    model_page="https://huggingface.co/{model_id}",
    # The Hub allows 500 API calls per 5-minute window anonymously, 1,000 with a token: one call every 0.75 s
    # (400 a window) or 0.375 s (800) stays below either (`HuggingfaceSpider.update_settings`).
    download_delay=0.75,
    concurrency=1,  # each page's cursor comes from the page before
    obey_robots=False,  # robots.txt is `Allow: /`; the API is meant for clients
    auth_env="HF_TOKEN",
    auth_hosts=frozenset({"huggingface.co"}),
    elements=(
        "name", "provider", "task", "keywords", "version", "published_at", "updated_at", "size", "popularity",
        "architecture", "training_data", "evaluation", "framework", "access", "license", "paper", "base_models",
    ),
    required_elements=("name", "provider"),
    max_page_bytes=64 * 1024 * 1024,  # 1,000 entries with their cards and configs
    listing_can_drift=True,
    counters={
        "downloads": "downloads in the last 30 days, as the Hub counts them",
        "likes": "likes",
        "trending_score": "the Hub's trending score (recent likes and downloads)",
        "downloads_all_time": "downloads since the repository was created (the dumps carry it from 2025-02-26)",
    },
    backs_off=True,  # a 429 pauses the crawl for as long as the host asks, then asks again
)
TOKEN_DELAY = 0.375


def listing_url(scope: dict[str, Any]) -> str:
    """The first listing page for a scope: the whole Hub by creation date, or with `max_models` the top N by downloads."""
    query: list[tuple[str, Any]] = [("limit", min(PAGE_SIZE, scope.get("max_models") or PAGE_SIZE))]
    query.append(("sort", "downloads" if scope.get("max_models") else "createdAt"))
    query += [(parameter, scope[key]) for key, parameter in SCOPE_PARAMETERS.items() if scope.get(key)]
    query += [("expand[]", field) for field in EXPAND]
    return f"{LISTING_URL}?{urlencode(query)}"  # expand%5B%5D=, as Scrapy sends it


def next_page(link_header: str | None) -> str | None:
    """The `rel="next"` URL of a Link header, None on the last page."""
    match = _NEXT_LINK.search(link_header or "")
    return match.group(1) if match else None


def extract_record(api_record: dict[str, Any]) -> ModelRecord:
    """One listing entry (or a Hub-statistics dump row: fewer fields, `cardData` as JSON text) as a record.

    Counters go to `record.counters` and out of `raw`, so a counter tick changes neither raw nor elements;
    `popularity` names the counters the store shows.
    """
    model_id = api_record["id"]
    card = api_record.get("cardData")
    if isinstance(card, str):  # the dumps serialise the card as JSON text
        try:
            card = json.loads(card)
        except ValueError:
            raise UnreadablePage(f"{model_id}: cardData is not JSON") from None
    card = card if isinstance(card, dict) else {}
    raw = dict(api_record)
    for key in COUNTER_FIELDS:
        raw.pop(key, None)
    if "cardData" in raw:
        raw["cardData"] = card
    counters = {}
    for key, metric in COUNTER_FIELDS.items():
        value = api_record.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):  # a count that is not a number is no count
            raise UnreadablePage(f"{model_id}: {key} is {value!r}, not a number")
        counters[metric] = value

    keywords, datasets, papers, licenses, base_tags = [], [], [], [], []
    sorted_tags = {"dataset": datasets, "arxiv": papers, "doi": papers, "license": licenses, "base_model": base_tags}
    for tag in api_record.get("tags") or ():
        if ":" not in tag:  # most tags: checked first, as two million records pass here
            keywords.append(tag)
            continue
        prefix, _, value = tag.partition(":")
        target = sorted_tags.get(prefix)
        if target is papers:
            papers.append(tag)
        elif target is not None:
            target.append(value)
        elif prefix != "region":
            keywords.append(tag)

    config = api_record.get("config") or {}
    transformers = api_record.get("transformersInfo") or {}
    safetensors = api_record.get("safetensors") or {}
    created = _instant(api_record.get("createdAt"))
    gated = api_record.get("gated")
    elements = {
        "name": model_id.rsplit("/", 1)[-1],
        "provider": api_record.get("author") or (model_id.split("/", 1)[0] if "/" in model_id else None),
        "task": api_record.get("pipeline_tag"),
        "keywords": keywords or None,
        "version": api_record.get("sha"),
        "published_at": None if created is None or created.startswith(PLACEHOLDER_CREATED) else created,
        "updated_at": _instant(api_record.get("lastModified")),
        "size": {"parameters": safetensors["total"]} if safetensors.get("total") else None,
        "popularity": sorted(counters) or None,
        "architecture": _architecture(config),
        "training_data": datasets or _as_list(card.get("datasets")),
        "evaluation": api_record.get("model-index") or card.get("model-index"),
        "framework": api_record.get("library_name") or card.get("library_name"),
        "access": _access(gated, transformers),
        "license": card.get("license") or (licenses[0] if len(licenses) == 1 else licenses or None),
        "paper": papers or None,
        "base_models": _base_models(api_record.get("baseModels"), base_tags, card.get("base_model")),
    }
    return ModelRecord(
        model_id=model_id,
        elements={key: value for key, value in elements.items() if value is not None},
        raw=raw,
        counters=counters,
    )


def _instant(value: Any) -> Any:
    """An instant to the second: the API's `2023-10-26T11:25:49.000Z` and a dump's `2023-10-26T11:25:49Z` are the
    same (else an import and a crawl would differ); a dump's timestamp object is left to normalise()."""
    if isinstance(value, str) and len(value) > 20 and value[19] == "." and value.endswith("Z"):
        return value[:19] + "Z"
    return value or None


def _as_list(value: Any) -> list | None:
    if not value:
        return None
    return value if isinstance(value, list) else [value]


def _architecture(config: dict[str, Any]) -> dict[str, Any] | None:
    architecture = {"architectures": config.get("architectures"), "model_type": config.get("model_type")}
    architecture = {key: value for key, value in architecture.items() if value}
    return architecture or None


def _access(gated: Any, transformers: dict[str, Any]) -> dict[str, Any] | None:
    """Whether a user must ask for access (`manual`, `auto` or false), and how transformers loads the model."""
    access = {"gated": gated, "auto_model": transformers.get("auto_model"), "processor": transformers.get("processor")}
    access = {key: value for key, value in access.items() if value is not None}
    return access or None


def _base_models(listed: Any, tags: list[str], card_base: Any) -> list[dict[str, str]] | None:
    """The models this one derives from: the Hub's model tree (`baseModels`), else its `base_model:` tags
    (`base_model:<relation>:<id>` or `base_model:<id>`), else the card's `base_model`."""
    if isinstance(listed, dict) and listed.get("models"):
        relation = listed.get("relation")
        return [{"id": model["id"], "relation": relation} for model in listed["models"] if model.get("id")]
    if tags:
        related = {}
        for tag in tags:
            relation, _, base = tag.rpartition(":")  # a repository id has no colon
            if relation or base not in related:
                related[base] = relation or None
        return [{"id": base, "relation": relation} for base, relation in related.items()]
    bases = _as_list(card_base)
    return [{"id": base} for base in bases if isinstance(base, str)] if bases else None


class HuggingfaceSpider(StoreSpider):
    """Listing pages, each followed to the next through its Link header; one batch item per page."""

    name = STORE.name
    store_config = STORE
    version = "1"

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        if os.environ.get(STORE.auth_env):  # a token doubles the quota
            settings.set("DOWNLOAD_DELAY", TOKEN_DELAY, priority="spider")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.guard = ListingGuard("storewatch/duplicate_ids", remembered_pages=1)
        self.listed = 0

    @property
    def lists_whole_store(self) -> bool:
        """False with `max_models`: a model missing from the top N may only have been overtaken, not removed."""
        return not self.settings.getdict("STOREWATCH_SCOPE").get("max_models")

    async def start(self):
        self.scope = self.settings.getdict("STOREWATCH_SCOPE")
        first = listing_url(self.scope)
        self.guard.follow(first, self.crawler.stats)
        yield self.listing_request(first, self.parse_listing)

    def parse_listing(self, response):
        entries = readable_json(response, MalformedListing)
        if not isinstance(entries, list):
            raise MalformedListing(f"the listing is a JSON {type(entries).__name__}, not a list")
        records = self.page_records(entries)
        cap = self.scope.get("max_models")
        if cap:
            records = records[: max(cap - self.listed, 0)]
        self.listed += len(records)
        yield ModelBatch(records=records)
        following = next_page(response.headers.get("Link", b"").decode("latin-1"))
        if following is None or (cap and self.listed >= cap):
            return
        if self.guard.follow(following, self.crawler.stats):
            yield self.listing_request(following, self.parse_listing)

    def page_records(self, entries: list[Any]) -> list[ModelRecord | UnreadableModel]:
        stats = self.crawler.stats
        records: list[ModelRecord | UnreadableModel] = []
        self.guard.new_page()
        for entry in entries:
            model_id = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(model_id, str) or not model_id:
                note_failure(stats, "listing", f"a listing entry names no model id: {str(entry)[:100]}")
                continue
            if not self.guard.first_listing(model_id, stats):
                continue
            try:
                records.append(extract_record(entry))
            except (UnreadablePage, AttributeError, KeyError, TypeError, ValueError) as error:
                message = f"{model_id}: {error}" if isinstance(error, UnreadablePage) else f"{model_id}: unreadable entry ({type(error).__name__}: {error})"
                note_failure(stats, "model", message)
                records.append(UnreadableModel(model_id, message))
        return records
