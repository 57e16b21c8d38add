"""Replicate: the models API `GET https://api.replicate.com/v1/models`, 25 models a page, followed by its `next`
cursor until it is null; every model object carries its latest version, whose OpenAPI schema is the model's
input and output.

Identity: `model_id` is `<owner>/<name>`, the model's path on replicate.com and in the API.

The listing is ordered by the latest version's creation, newest first, so a model that publishes a version
while the crawl walks the pages moves to the front: it may be missed (the drift `listing_can_drift` guards
against) or met twice (a repeat is counted in `storewatch/listing_repeats`, and only its first record is
kept). `run_count` ticks with every prediction: it is the store's counter, kept out of the elements and the
raw record so that it opens no version.

A page that is not a JSON object with a `results` list is not the listing (a suspect run). A result without
an owner and a name cannot be told apart from the others: the run is partial and removes nothing. A result
with both but a malformed field is an unreadable model.
"""

from __future__ import annotations

import re
from typing import Any

from crawler.accounting import MalformedListing, UnreadablePage, note_failure
from crawler.items import ModelBatch, ModelRecord, UnreadableModel
from spiders.base import StoreConfig, StoreSpider
from spiders.listing_guard import ListingGuard
from spiders.pages import readable_json

LISTING_URL = "https://api.replicate.com/v1/models"
LISTING_REPEATS = "storewatch/listing_repeats"

STORE = StoreConfig(
    name="replicate",
    title="Replicate",
    identity="`<owner>/<name>` of the model (= replicate.com/<model_id>)",
    live_urls=(LISTING_URL,),
    crawled_via="api",
    model_page="https://replicate.com/{model_id}",
    download_delay=0.25,  # the cursor makes the pages sequential; Replicate allows 3,000 API requests a minute
    obey_robots=False,  # an API for programs, answered only with a token
    auth_env="REPLICATE_API_TOKEN",
    auth_hosts=frozenset({"api.replicate.com"}),
    auth_required=True,  # every documented call sends one; a live crawl without it is refused before it starts
    elements=(
        "name", "description", "provider", "version", "published_at", "updated_at", "demo", "popularity",
        "io_format", "runtime", "access", "license", "source_code", "paper",
    ),
    required_elements=("name", "provider"),
    max_page_bytes=32 * 1024 * 1024,  # 25 models; a default example's logs alone can reach 1 MB
    listing_can_drift=True,
    counters={"run_count": "predictions run with the model, all versions, as the model object shows it"},
    backs_off=True,  # a 429 pauses the crawl for as long as the host asks, then asks again
)

# Where an OpenAPI schema points at another of the version's component schemas (Cog puts enums there).
_SCHEMA_REF = re.compile(r"^#/components/schemas/(.+)$")


def model_id(api_record: Any) -> str | None:
    """`<owner>/<name>`; None when the record does not name both."""
    if not isinstance(api_record, dict):
        return None
    owner, name = api_record.get("owner"), api_record.get("name")
    if isinstance(owner, str) and owner.strip() and isinstance(name, str) and name.strip():
        return f"{owner.strip()}/{name.strip()}"
    return None


def extract_record(api_record: dict[str, Any]) -> ModelRecord:
    """One model object of the API (a listing result, or `GET /v1/models/{owner}/{name}`) as a record.

    UnreadablePage when the object names no owner and name, or its latest version or default example is not
    an object. `run_count` goes to the counters and is removed from the raw record.
    """
    identity = model_id(api_record)
    if identity is None:
        raise UnreadablePage("a model object without an owner and a name")
    version = _object_or_none(api_record, "latest_version", identity)
    example = _object_or_none(api_record, "default_example", identity)
    raw = {key: value for key, value in api_record.items() if key not in STORE.counters}
    counters = {key: api_record[key] for key in STORE.counters if isinstance(api_record.get(key), (int, float))}
    elements = {
        "name": api_record.get("name"),
        "description": api_record.get("description"),
        "provider": api_record.get("owner"),
        "version": version.get("id"),
        "published_at": api_record.get("created_at"),  # the model object carries it from 2024 on
        "updated_at": version.get("created_at"),  # a model changes by publishing a version
        "demo": _example(example),
        "popularity": sorted(counters) or None,  # the counters shown, as every store names them
        "io_format": io_format(version.get("openapi_schema")),
        "runtime": {"cog_version": version["cog_version"]} if version.get("cog_version") else None,
        "access": _without_none({"visibility": api_record.get("visibility"), "weights_url": api_record.get("weights_url")}),
        "license": api_record.get("license_url"),
        "source_code": api_record.get("github_url"),
        "paper": api_record.get("paper_url"),
    }
    return ModelRecord(model_id=identity, elements=_without_none(elements), raw=raw, counters=counters)


def io_format(openapi_schema: Any) -> dict[str, Any] | None:
    """The version's `Input` and `Output` schemas, with the component schemas they refer to (enums: a
    scheduler's choices, say) under `definitions`; None without an OpenAPI schema that has them."""
    schemas = ((openapi_schema or {}).get("components") or {}).get("schemas") if isinstance(openapi_schema, dict) else None
    if not isinstance(schemas, dict) or not ({"Input", "Output"} & schemas.keys()):
        return None
    io = {"input": schemas.get("Input"), "output": schemas.get("Output")}
    referred = _referred_schemas(io, schemas)
    if referred:
        io["definitions"] = referred
    return _without_none(io)


def _referred_schemas(schema: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """Every component schema `schema` refers to through `$ref`, directly or through another one."""
    found: dict[str, Any] = {}
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            match = _SCHEMA_REF.match(node["$ref"]) if isinstance(node.get("$ref"), str) else None
            if match and match.group(1) in schemas and match.group(1) not in found:
                found[match.group(1)] = schemas[match.group(1)]
                pending.append(schemas[match.group(1)])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _example(example: dict[str, Any]) -> dict[str, Any] | None:
    """The default example prediction: what went in and what came out (its logs and timings are not the model's)."""
    return _without_none({"prediction": example.get("id"), "input": example.get("input"), "output": example.get("output")}) or None


def _object_or_none(api_record: dict[str, Any], key: str, identity: str) -> dict[str, Any]:
    value = api_record.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UnreadablePage(f"{identity}: {key} is a JSON {type(value).__name__}, not an object")
    return value


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def listing_page(page: Any) -> tuple[list[Any], str | None]:
    """The page's results and its `next` URL; MalformedListing when the page is not the listing's shape."""
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        raise MalformedListing("not a Replicate listing page: no `results` list")
    following = page.get("next")
    if following is not None and not (isinstance(following, str) and following.startswith("https://")):
        raise MalformedListing(f"not a Replicate listing page: `next` is {following!r}, not a URL")
    return page["results"], following


class ReplicateSpider(StoreSpider):
    """The listing's pages one after another (each names the next); one ModelBatch item per page."""

    name = STORE.name
    store_config = STORE
    version = "1"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # every id listed (a store of thousands) and every page followed: Scrapy's duplicate filter would drop a
        # repeated `next` silently
        self.guard = ListingGuard(LISTING_REPEATS)

    async def start(self):
        self.guard.follow(LISTING_URL, self.crawler.stats)
        yield self.listing_request(LISTING_URL, self.parse_listing)

    def parse_listing(self, response):
        results, following = listing_page(readable_json(response, MalformedListing))
        batch = ModelBatch()
        unnamed = 0
        self.guard.new_page()
        for api_record in results:
            identity = model_id(api_record)
            if identity is None:
                unnamed += 1
            elif self.guard.first_listing(identity, self.crawler.stats):
                batch.records.append(self.record(api_record, identity))
        if unnamed:
            note_failure(self.crawler.stats, "listing", f"{unnamed} results on {response.url} name no owner and name: nothing removed")
        yield batch
        if following and self.guard.follow(following, self.crawler.stats):
            yield self.listing_request(following, self.parse_listing)

    def record(self, api_record: dict[str, Any], identity: str) -> ModelRecord | UnreadableModel:
        try:
            return extract_record(api_record)
        except UnreadablePage as error:
            note_failure(self.crawler.stats, "model", str(error))
            return UnreadableModel(identity, str(error))
