"""Wolfram Neural Net Repository (resources.wolframcloud.com/NeuralNetRepository): search JSON, then resource pages.

Identity: `model_id` is the resource's `ShortName`, the slug of its page (`.../resources/<ShortName>`). It is
taken from the listing, never computed from the display name: "GPT-2 Transformer Trained on WebText Data"
lives at `GPT2-Transformer-Trained-on-WebText-Data`. The resource UUID stays in the raw record.

Not a model, because the store says so: a search item whose `ResourceType` names another type than
`NeuralNet`. Unreadable, so the model is kept: a resource page without the lead line (`p.lead`, as on the
Function Repository's pages) or without the `NetModel[...]` retrieval cell every NNR page documents, an empty
page. A search answer that is not an object with a `Resources` list is not the listing (a suspect run); a
listed item naming no page (no `ShortName`, no `DocumentationLink`) makes the run partial.

The page markup was reconstructed (snapshots/wolfram_nnr/SOURCES.md): check the selectors on a live page.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from parsel import Selector

from crawler.accounting import MalformedListing, UnreadablePage, note_failure
from crawler.items import ModelRecord
from crawler.timetravel import TimeTravel
from spiders.base import StoreConfig, StoreSpider
from spiders.html import text_of, without_none
from spiders.pages import is_whole_document, readable_json, readable_text

SEARCH_URL = (
    "https://www.wolframcloud.com/obj/resourcesystem/api/1.0/SearchResources"
    "?ResourceTypes=NeuralNet&Format=json&Count=1000&WebFiltering=True"
)
RESOURCE_URL = "https://resources.wolframcloud.com/NeuralNetRepository/resources/{}"
SEARCH_COUNT = 1000  # the `Count` above: a listing this long was probably cut short

STORE = StoreConfig(
    name="wolfram_nnr",
    title="Wolfram Neural Net Repository",
    identity="resource ShortName from the listing (= the .../resources/<ShortName> page slug), never derived from the name",
    live_urls=(SEARCH_URL, RESOURCE_URL.format("<ShortName>")),
    crawled_via="html",
    model_page=RESOURCE_URL.format("{model_id}"),
    download_delay=1.0,  # no published limit: about one request a second
    concurrency=1,
    elements=(
        "name", "description", "task", "input_domain", "keywords", "version", "published_at", "updated_at", "size",
        "usage", "architecture", "training_data", "evaluation", "dependencies", "access", "license", "source_code",
        "paper", "release_notes",
    ),
    required_elements=("name", "description", "access"),
    # No counters: a resource page shows no download, evaluation-count or rating figures.
)

LISTING_KEYS = ("Name", "ShortName", "UUID", "Description", "ReleaseDate", "LatestUpdate", "Version", "DocumentationLink")


class SearchListing(NamedTuple):
    """What the search answer lists: the models by page slug, and what keeps it from being the whole list."""

    items: list[dict[str, Any]]
    unidentified: int  # NeuralNet items naming no page
    truncated: bool  # as many resources as asked for: some are probably missing


def listing_items(data: Any) -> SearchListing:
    """The listed NeuralNet resources, sorted by slug; MalformedListing when `data` is not a search answer."""
    resources = data.get("Resources") if isinstance(data, dict) else None
    if not isinstance(resources, list) or not all(isinstance(item, dict) for item in resources):
        raise MalformedListing("the search answer is not an object with a `Resources` list of objects")
    nets = [item for item in resources if item.get("ResourceType", "NeuralNet") == "NeuralNet"]
    items = sorted((item for item in nets if slug(item)), key=slug)
    if nets and not items:
        raise MalformedListing("no listed resource names its page (ShortName or DocumentationLink)")
    return SearchListing(items, len(nets) - len(items), len(resources) >= SEARCH_COUNT)


def slug(item: dict[str, Any]) -> str | None:
    """The page slug: `ShortName`, else the last path segment of `DocumentationLink`."""
    if item.get("ShortName"):
        return item["ShortName"]
    link = (item.get("DocumentationLink") or "").rstrip("/")
    return link.rsplit("/", 1)[-1] if "/resources/" in link else None


def extract_model(item: dict[str, Any], html: str) -> ModelRecord:
    """A resource page's record; listing fields fill what the page does not show.

    UnreadablePage when the page lacks the lead line or the NetModel retrieval cell of a resource page, or is
    cut short (no closing </html>)."""
    page = Selector(text=html, type="html")
    if not page.css("p.lead") or not any("NetModel[" in cell for cell in page.css("pre.wl-input::text").getall()):
        raise UnreadablePage("not a resource page: no p.lead line or no NetModel[...] cell")
    if not is_whole_document(html):
        raise UnreadablePage("resource page cut short (no closing </html>)")

    def row(key: str) -> Selector:
        return page.css(f'.metadata-row[data-key="{key}"] dd')

    def stat(key: str) -> Selector:
        return page.css(f'.net-stat[data-key="{key}"] dd')

    retrieval = page.css("#resource-retrieval pre.wl-input::text").getall()
    rights = row("Rights").css("a.rights")
    elements: dict[str, Any] = {
        "name": text_of(page.css("h1.resource-title")) or item.get("Name"),
        "description": text_of(page.css("p.lead")) or item.get("Description"),
        "task": row("TaskType").css("a::text").getall() or None,
        "input_domain": row("InputDomains").css("a::text").getall() or None,
        "keywords": row("Keywords").css(".keyword::text").getall() or None,
        "version": text_of(row("Version")) or item.get("Version"),
        "published_at": row("ReleaseDate").css("time::attr(datetime)").get() or item.get("ReleaseDate"),
        "updated_at": row("LatestUpdate").css("time::attr(datetime)").get() or item.get("LatestUpdate"),
        "size": _size(_count(text_of(stat("ParameterCount"))), _count(text_of(stat("LayerCount"))), _count(stat("ByteCount").attrib.get("data-bytes"))),
        "architecture": text_of(page.css("p.details")),
        "training_data": text_of(row("TrainingSetInformation")),
        "evaluation": text_of(row("Performance")),
        "usage": retrieval + page.css("#basic-usage pre.wl-input::text").getall() or None,
        "access": without_none({"netmodel": retrieval[0] if retrieval else None, "notebook": page.css("a.notebook-download::attr(href)").get()}),
        "dependencies": text_of(row("WolframLanguageVersionRequired")),
        "license": without_none({"name": text_of(rights), "url": rights.attrib.get("href")}),
        "source_code": row("Source").css("a.source-link::attr(href)").get(),
        "paper": text_of(row("Citation").css(".citation")),
        "release_notes": [
            {"version": entry.attrib.get("data-version"), "date": entry.css("time::attr(datetime)").get()}
            for entry in page.css("#resource-history li.version-entry")
        ]
        or None,
    }
    raw = {
        "listing": {key: item[key] for key in LISTING_KEYS if key in item},
        "uuid": page.css("main#resource::attr(data-resource-uuid)").get() or item.get("UUID"),
        "variants": [value.strip('"') for value in page.css("#netmodel-parameters .parameter-values code::text").getall()] or None,
    }
    return ModelRecord(model_id=slug(item), elements=without_none(elements), raw=without_none(raw))


def _count(value: str | None) -> int | None:
    digits = re.sub(r"[,\s]", "", value or "")
    return int(digits) if digits.isdigit() else None


def _size(parameters: int | None, layers: int | None, bytes_: int | None) -> dict[str, int] | None:
    return without_none({"parameters": parameters, "layers": layers, "bytes": bytes_})



class WolframNnrSpider(TimeTravel, StoreSpider):
    """Lists every NeuralNet resource through the search JSON, then reads each resource page."""

    name = STORE.name
    store_config = STORE
    version = "1"

    async def start(self):
        yield self.listing_request(SEARCH_URL, self.parse_listing)

    def parse_listing(self, response):
        listing = listing_items(readable_json(response, MalformedListing))
        if listing.truncated:
            note_failure(self.crawler.stats, "listing", f"search listing holds {SEARCH_COUNT} resources or more: probably truncated")
        if listing.unidentified:
            note_failure(self.crawler.stats, "listing", f"{listing.unidentified} listed resources name no page: nothing removed")
        for item in listing.items:
            yield self.model_request(RESOURCE_URL.format(slug(item)), slug(item), self.parse_model, cb_kwargs={"item": item})

    def parse_model(self, response, item):
        yield extract_model(item, readable_text(response, "HTML", UnreadablePage))
