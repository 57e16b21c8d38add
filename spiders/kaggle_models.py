"""Kaggle Models (tfhub.dev's successor since November 2023): the public API `GET
https://www.kaggle.com/api/v1/models/list`, 100 models a page through its `pageToken`, then each model's
`GET /api/v1/models/{owner}/{model}/get`, whose `instances` are the model's variations (framework, variation
slug, latest version number: `<owner>/<model>/<framework>/<variation>/<version>`, the parts a TF Hub handle
became).

Identity: `model_id` is the model's `ref`, `<owner>/<model slug>` (= kaggle.com/models/<model_id>).

The field names, types and defaults are those of Kaggle's own client, kagglesdk (`ApiListModelsResponse`,
`ApiModel`, `ApiModelInstance`). Its serialiser leaves out every field equal to its default and names enums
in full (`MODEL_FRAMEWORK_TENSOR_FLOW_2`); the one real answer published (kaggle-cli issue #586, 2024) sends
the defaults (`""`, `[]`, `false`, `null`) and short enum names (`tensorFlow2`, `tfLite`). Both forms read the
same: `canonical_model` drops defaults and shortens enums, so a change of form opens no version.

One query lists at most 10,000 models (`totalResults` stops there). A capped query is split: the whole store
is listed again under the other sort orders, to meet more owners, and every owner met gets a query of its
own. An owner whose own query is capped is listed under every sort order too, and the run is partial, as
some of that owner's models may be out of reach. An owner none of whose models is among the first 10,000 of
any sort order is not met at all: a known limit of the API (snapshots/kaggle_models/SOURCES.md).

Every call needs credentials (kaggle-cli docs): `KAGGLE_API_TOKEN` (sent as a Bearer token), else
`~/.kaggle/access_token` (Bearer), else `~/.kaggle/kaggle.json` (`username` and `key`, HTTP Basic); the folder
is `$KAGGLE_CONFIG_DIR` when set, as for Kaggle's client. They go to Kaggle's API hosts only.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode, urljoin

from crawler.accounting import MalformedListing, UnreadablePage, note_failure
from crawler.items import ModelRecord
from spiders.base import StoreConfig, StoreSpider
from spiders.github import paper_links
from spiders.pages import readable_json

SITE = "https://www.kaggle.com"
LISTING_URL = f"{SITE}/api/v1/models/list"
MODEL_URL = f"{SITE}/api/v1/models/{{model_id}}/get"
PAGE_SIZE = 100  # a live `kaggle models list --page-size 100` is on record (SOURCES.md); the CLI's default is 20
RESULT_CAP = 10_000  # no query lists more (`totalResults` is capped there)
SORT = "createTime"  # newest first: a model keeps its place, only new ones push the pages along
OTHER_SORTS = ("hotness", "downloadCount", "voteCount", "notebookCount")  # the CLI's other --sort-by values
LISTING_REPEATS = "storewatch/listing_repeats"
CAPPED_QUERIES = "storewatch/listing_capped_queries"  # kept with the run (STOREWATCH_KEPT_STATS)
# The answer's counters -> storewatch metric names. `downloadCount` left the public JSON around 2026-07.
COUNTER_FIELDS = {"voteCount": "votes", "downloadCount": "downloads"}
# Enum fields, by where they sit: an ApiModelInstance's, a ModelLink's, a BaseModelInstanceInformation's.
ENUM_PREFIXES = {"framework": "MODEL_FRAMEWORK_", "modelInstanceType": "MODEL_INSTANCE_TYPE_", "type": "MODEL_VERSION_LINK_TYPE_"}


def kaggle_credentials(environ: Mapping[str, str]) -> str | None:
    """The `Authorization` value from the sources Kaggle's client reads, in its order; None when none holds one."""
    token = (environ.get("KAGGLE_API_TOKEN") or "").strip()
    if token:
        return f"Bearer {token}"
    folder = Path(environ["KAGGLE_CONFIG_DIR"]) if environ.get("KAGGLE_CONFIG_DIR") else Path(environ.get("HOME") or Path.home()) / ".kaggle"
    try:
        token = (folder / "access_token").read_text().strip()
    except (OSError, UnicodeDecodeError):
        token = ""
    if token:
        return f"Bearer {token}"
    try:
        account = json.loads((folder / "kaggle.json").read_text())
    except (OSError, ValueError):
        return None
    username, key = (account.get("username"), account.get("key")) if isinstance(account, dict) else (None, None)
    if not (isinstance(username, str) and username and isinstance(key, str) and key):
        return None
    return "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode("ascii")


STORE = StoreConfig(
    name="kaggle_models",
    title="Kaggle Models",
    identity="the model's `ref` `<owner>/<model>` (= kaggle.com/models/<model_id>)",
    live_urls=(LISTING_URL, MODEL_URL),
    crawled_via="api",
    model_page=f"{SITE}/models/{{model_id}}",
    download_delay=1.0,  # Kaggle documents no limit; one request a second (storewatch's research notes)
    concurrency=1,
    obey_robots=False,  # an API for Kaggle's own client, answered only with credentials
    auth_env="KAGGLE_API_TOKEN",
    auth_hosts=frozenset({"www.kaggle.com", "api.kaggle.com"}),
    auth_required=True,  # Kaggle's client always authenticates; an anonymous call is not known to work
    credentials=kaggle_credentials,
    auth_where="set KAGGLE_API_TOKEN, or write ~/.kaggle/access_token or ~/.kaggle/kaggle.json",
    elements=(
        "name", "description", "provider", "keywords", "version", "published_at", "updated_at", "size", "popularity",
        "usage", "training_data", "framework", "access", "license", "source_code", "paper", "base_models",
    ),
    required_elements=("name", "provider"),
    max_page_bytes=32 * 1024 * 1024,  # a model's description and its variations' usage are Markdown
    listing_can_drift=True,
    counters={
        "votes": "votes (upvotes) of the model, from the API's `voteCount` (from 2025)",
        "downloads": "downloads of the model, from `downloadCount` while the public API carried it (until about 2026-07)",
    },
    backs_off=True,  # a 429 pauses the crawl for as long as the host asks, then asks again
)


class Query(NamedTuple):
    """One listing query: a sort order, perhaps one owner's models only."""

    sort: str
    owner: str | None = None


WHOLE_STORE = Query(SORT)


def listing_url(query: Query, page_token: str | None = None) -> str:
    parameters = [("sortBy", query.sort), ("owner", query.owner), ("pageSize", PAGE_SIZE), ("pageToken", page_token)]
    return f"{LISTING_URL}?{urlencode([(key, value) for key, value in parameters if value is not None])}"


def model_id(api_model: Any) -> str | None:
    """The model's `ref`, `<owner>/<slug>`; None when it names no such thing."""
    ref = api_model.get("ref") if isinstance(api_model, dict) else None
    if not isinstance(ref, str):
        return None
    owner, _, slug = ref.strip().partition("/")
    return f"{owner}/{slug}" if owner and slug and "/" not in slug else None


def listing_page(page: Any) -> tuple[list[Any], str | None, int]:
    """The page's models, its next page token (None on the last page) and `totalResults`.

    kagglesdk leaves out defaults, so `{}` is an empty last page; anything else without a `models` list is
    not the listing (an error object, a list)."""
    if not isinstance(page, dict) or (page and not isinstance(page.get("models"), list)):
        raise MalformedListing("not a Kaggle models listing page: no `models` list")
    token, total = page.get("nextPageToken") or None, page.get("totalResults") or 0
    if token is not None and not isinstance(token, str):
        raise MalformedListing(f"not a Kaggle models listing page: nextPageToken is {token!r}")
    if isinstance(total, bool) or not isinstance(total, int):
        raise MalformedListing(f"not a Kaggle models listing page: totalResults is {total!r}")
    return page.get("models") or [], token, total


# -- the two value forms --------------------------------------------------------------------------------------

_INSTANT = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$")


def short_enum(value: Any, prefix: str) -> Any:
    """`MODEL_FRAMEWORK_TENSOR_FLOW_2` -> `tensorFlow2`, the short form the server itself sent; a short form stays."""
    if not isinstance(value, str) or not value.startswith(prefix):
        return value
    first, *rest = value.removeprefix(prefix).lower().split("_")
    return first + "".join(word.capitalize() for word in rest)


def instant(value: Any) -> Any:
    """An RFC 3339 instant without trailing zero digits: the SDK writes milliseconds, a server may write more."""
    match = _INSTANT.match(value) if isinstance(value, str) else None
    if not match:
        return value
    fraction = (match.group(2) or "").rstrip("0")
    return f"{match.group(1)}{'.' + fraction if fraction else ''}Z"


def canonical_model(value: Any, key: str | None = None) -> Any:
    """The answer with every default (`""`, `0`, `false`, `[]`, `{}`, `null`) left out, enums in their short
    form and instants without trailing zeros: the SDK's form and the 2024 server's form give the same record."""
    if isinstance(value, dict):
        kept = {name: canonical_model(item, name) for name, item in value.items()}
        return {name: item for name, item in kept.items() if item not in ("", 0, False, None, [], {})}
    if isinstance(value, list):
        return [canonical_model(item) for item in value]
    if key in ENUM_PREFIXES:
        return short_enum(value, ENUM_PREFIXES[key])
    if key in ("publishTime", "updateTime", "creationDate"):
        return instant(value)
    return value


# -- a model's record ---------------------------------------------------------------------------------------


def variation(instance: dict[str, Any]) -> str:
    """`<framework>/<variation slug>`, the instance's place in the model's path."""
    return f"{instance.get('framework') or 'unspecified'}/{instance.get('slug') or ''}"


def version_text(by_variation: dict[str, dict[str, Any]]) -> str | None:
    """Each variation at its latest version, `tensorFlow2/singlepose-lightning 4, tfLite/singlepose-lightning 1`:
    text, as `version` is for every store (the export's typed column), which changes when any variation does."""
    return ", ".join(f"{key} {instance['versionNumber']}" for key, instance in by_variation.items() if instance.get("versionNumber")) or None


def extract_record(api_model: dict[str, Any], expected: str | None = None) -> ModelRecord:
    """One `get` answer (an ApiModel) as a record. UnreadablePage when it names no model, another model than
    the one asked for, or its instances are not objects."""
    identity = model_id(api_model)
    if identity is None:
        raise UnreadablePage("a model object without a `ref` <owner>/<slug>")
    if expected is not None and identity != expected:
        raise UnreadablePage(f"asked for {expected}, the answer is {identity}")
    counters = {}
    for field, metric in COUNTER_FIELDS.items():
        value = api_model.get(field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UnreadablePage(f"{identity}: {field} is {value!r}, not a number")
        counters[metric] = value
    model = canonical_model({key: value for key, value in api_model.items() if key not in COUNTER_FIELDS})
    instances = model.get("instances") or []
    tags = model.get("tags") or []
    if not all(isinstance(item, dict) for item in [*instances, *tags]):
        raise UnreadablePage(f"{identity}: an instance or tag is not an object")
    by_variation = {variation(instance): instance for instance in sorted(instances, key=variation)}

    def per_variation(field: str, convert=lambda value: value) -> dict[str, Any] | None:
        found = {key: convert(instance[field]) for key, instance in by_variation.items() if instance.get(field)}
        return found or None

    downloads = per_variation("downloadUrl", lambda url: urljoin(SITE, url))  # 2024: relative to the site
    licenses = sorted({instance["licenseName"] for instance in instances if isinstance(instance.get("licenseName"), str)})
    elements = {
        "name": model.get("title") or model.get("slug") or identity.split("/", 1)[1],
        "description": model.get("subtitle") or model.get("description"),
        "provider": model.get("author") or identity.split("/", 1)[0],
        "keywords": sorted({tag.get("name") or tag.get("ref") for tag in tags} - {None, ""}) or None,
        "version": version_text(by_variation),
        "published_at": model.get("publishTime"),
        "updated_at": model.get("updateTime"),
        "size": per_variation("totalUncompressedBytes"),
        "popularity": sorted(counters) or None,
        "usage": per_variation("usage"),
        "training_data": sorted({data for instance in instances for data in instance.get("trainingData") or ()}) or None,
        "framework": sorted({instance.get("framework") or "unspecified" for instance in instances}) or None,
        "access": {"private": bool(model.get("isPrivate")), **({"downloads": downloads} if downloads else {})},
        "license": licenses[0] if len(licenses) == 1 else licenses or None,
        "source_code": model.get("provenanceSources"),
        "paper": paper_links(model.get("description") or "") or None,
        "base_models": _base_models(by_variation),
    }
    return ModelRecord(model_id=identity, elements={key: value for key, value in elements.items() if value is not None}, raw=model, counters=counters)


def _base_models(by_variation: dict[str, dict[str, Any]]) -> list[dict[str, str]] | None:
    """The models the variations derive from: a Kaggle instance (`<owner>/<model>/<framework>/<variation>`) or
    an external URL, with the instance's type (`kaggleVariant`, `externalVariant`) as the relation."""
    bases = []
    for instance in by_variation.values():
        base, relation = instance.get("baseModelInstanceInformation"), instance.get("modelInstanceType")
        if isinstance(base, dict) and base.get("modelSlug"):
            owner = (base.get("owner") or {}).get("slug") if isinstance(base.get("owner"), dict) else None
            base_id = "/".join(str(part) for part in (owner, base["modelSlug"], base.get("framework"), base.get("instanceSlug")) if part)
            bases.append({"id": base_id, "relation": relation} if relation else {"id": base_id})
        elif instance.get("externalBaseModelUrl"):
            bases.append({"id": instance["externalBaseModelUrl"], "relation": relation} if relation else {"id": instance["externalBaseModelUrl"]})
    unique = {json.dumps(base, sort_keys=True): base for base in bases}
    return [unique[key] for key in sorted(unique)] or None


# -- the spider ---------------------------------------------------------------------------------------------


class KaggleModelsSpider(StoreSpider):
    """The listing's pages (each naming the next), one `get` request per model listed; a capped query split."""

    name = STORE.name
    store_config = STORE
    version = "1"
    result_cap = RESULT_CAP

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requested: set[str] = set()  # models whose `get` was asked for
        self.listed: dict[Query, set[str]] = {}  # each query's models so far: a repeat within one is drift
        self.queries: set[Query] = set()
        self.pages: set[tuple[Query, str]] = set()
        self.splitting = False  # the whole-store query was capped: every owner met gets a query of its own

    async def start(self):
        yield self.query(WHOLE_STORE)

    def query(self, query: Query):
        self.queries.add(query)
        return self.listing_request(listing_url(query), self.parse_listing, cb_kwargs={"query": query, "first": True})

    def parse_listing(self, response, query: Query = WHOLE_STORE, first: bool = True):
        models, following, total = listing_page(readable_json(response, MalformedListing))
        if first and total >= self.result_cap:
            yield from self.split(query)
        listed = self.listed.setdefault(query, set())
        unnamed = 0
        for api_model in models:
            identity = model_id(api_model)
            if identity is None:
                unnamed += 1
                continue
            if identity in listed:
                self.crawler.stats.inc_value(LISTING_REPEATS)
                continue
            listed.add(identity)
            owner_query = Query(SORT, identity.split("/", 1)[0])
            if self.splitting and owner_query not in self.queries:
                yield self.query(owner_query)
            if identity not in self.requested:
                self.requested.add(identity)
                yield self.model_request(MODEL_URL.format(model_id=identity), identity, self.parse_model, cb_kwargs={"expected": identity})
        if unnamed:
            note_failure(self.crawler.stats, "listing", f"{unnamed} models on {response.url} name no ref: nothing removed")
        if following is None:
            return
        if (query, following) in self.pages:  # the token led back: what follows is unknown, so nothing is removed
            note_failure(self.crawler.stats, "listing", f"the listing's next page token repeats an earlier one: {response.url}")
            return
        self.pages.add((query, following))
        yield self.listing_request(listing_url(query, following), self.parse_listing, cb_kwargs={"query": query, "first": False})

    def split(self, query: Query):
        """A query that reached the cap: list the same models under the other sort orders; for the whole store,
        also each owner's models on their own; for one owner, say the listing may be incomplete."""
        self.crawler.stats.inc_value(CAPPED_QUERIES)
        if query.sort != SORT:
            return
        if query.owner is None:
            self.splitting = True
            yield from (self.query(owner_query) for owner_query in sorted({Query(SORT, ref.split("/", 1)[0]) for ref in self.requested} - self.queries))
        else:
            note_failure(self.crawler.stats, "listing", f"owner {query.owner} has {self.result_cap:,} or more models, more than a query lists: some may be missed")
        for sort in OTHER_SORTS:
            if Query(sort, query.owner) not in self.queries:
                yield self.query(Query(sort, query.owner))

    def parse_model(self, response, expected: str):
        yield extract_record(readable_json(response, UnreadablePage), expected)
