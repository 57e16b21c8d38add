"""TensorFlow Hub (tfhub.dev): model docs in github.com/tensorflow/tfhub.dev, one markdown file per version.

Identity: a model is a model handle `<publisher>/<model path>` (tfhub.dev/<handle>/<version>); the docs of
its versions are its versions. The handle is read from the doc path after the docs folder, so identity
survives the `assets/g3doc/` -> `assets/docs/` move.

Not a model, because the store says so: a doc outside `<publisher>/models/` (publisher and collection pages),
and a doc whose first line calls it a `# Publisher` or `# Collection`. Unreadable, so the model is kept: a doc
whose first line is not the title tfhub.dev's own validator requires of a model doc (`# Module|Placeholder|
Lite|Tfjs|Coral <publisher>/<name>/<version>`), or that has no `<!-- key: value -->` metadata line (every doc
of the five recorded snapshots has both), an empty body, an HTML page.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from crawler.accounting import MalformedListing, UnreadablePage
from crawler.items import ModelRecord
from spiders.base import StoreConfig, StoreSpider
from spiders.github import GITHUB_HOSTS, first_code_block, paper_links, raw_url, tree_blob_paths, tree_url
from spiders.pages import readable_json, readable_text

REPO, BRANCH = "tensorflow/tfhub.dev", "master"
MODEL_DOC = re.compile(r"^assets/(?:docs|g3doc)/(?P<publisher>[^/]+)/models/(?P<model>.+)/(?P<version>\d+)\.md$")
METADATA_LINE = re.compile(r"^<!--\s*([\w-]+)\s*:\s*(.*?)\s*-->\s*$", re.MULTILINE)
MODALITIES = ("image", "text", "audio", "video")
TITLE_LINE = re.compile(r"^#\s+(\w+)\s+(\S+)")
MODEL_KINDS = frozenset({"Module", "Placeholder", "Lite", "Tfjs", "Coral"})  # tfhub.dev tools/validator.py
OTHER_KINDS = frozenset({"Publisher", "Collection"})

STORE = StoreConfig(
    name="tfhub",
    title="TensorFlow Hub",
    identity="model handle <publisher>/<model path> from assets/{docs,g3doc}/<publisher>/models/<model path>/<version>.md",
    live_urls=(tree_url(REPO, BRANCH, recursive=True), raw_url(REPO, BRANCH, "assets/docs/<publisher>/models/<model>/<version>.md")),
    crawled_via="api",
    # tfhub.dev has redirected each handle to its Kaggle Models page since November 2023; the Kaggle path
    # (framework, variation) cannot be derived from the handle, so the link is the handle's, which Google keeps.
    model_page="https://tfhub.dev/{model_id}",
    download_delay=0.1,
    concurrency=8,
    obey_robots=False,  # GitHub's API and raw hosts; their API terms apply
    auth_env="GITHUB_TOKEN",
    auth_hosts=GITHUB_HOSTS,
    elements=(
        "name", "description", "provider", "task", "input_domain", "keywords", "version", "demo", "usage",
        "architecture", "training_data", "framework", "access", "license", "paper", "release_notes",
    ),
    required_elements=("name", "description"),  # the handle, and the doc's first paragraph
    # The default 20 MB: GitHub cuts a recursive tree at 7 MB, the docs are under 20 KB.
    # No counters: the docs repository holds no download or usage counts (tfhub.dev never published them there).
)


def model_versions(listing: Any) -> dict[str, dict[int, str]]:
    """handle -> {version: doc path} for every model doc in a recursive tree listing."""
    handles: dict[str, dict[int, str]] = defaultdict(dict)
    for path in tree_blob_paths(listing):
        match = MODEL_DOC.match(path)
        if match:
            handles[f"{match['publisher']}/{match['model']}"][int(match["version"])] = path
    return dict(handles)


def parse_doc(text: str) -> tuple[str | None, dict[str, list[str]], str]:
    """(kind from the title line, metadata comments as key -> values, first paragraph of prose)."""
    title = re.search(r"^#\s+(\S+)", text, re.MULTILINE)
    metadata: dict[str, list[str]] = defaultdict(list)
    for key, value in METADATA_LINE.findall(text):
        metadata[key].append(value)
    paragraph = []
    for line in text.splitlines()[1:] if title else text.splitlines():
        stripped = line.strip()
        if stripped.startswith("##") or (paragraph and not stripped):
            break
        if stripped and not stripped.startswith("<!--"):
            paragraph.append(stripped)
    return (title.group(1) if title else None), dict(metadata), " ".join(paragraph)


def doc_kind(text: str) -> str:
    """What the doc's first line says it documents (`Module`, `Lite`, `Collection`...); UnreadablePage when
    the first line is not such a title."""
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    match = TITLE_LINE.match(first_line)
    kind = match.group(1) if match else None
    if kind in OTHER_KINDS or (kind in MODEL_KINDS and "/" in match.group(2)):
        return kind
    raise UnreadablePage(f"first line is not a tfhub.dev doc title: {first_line[:80]!r}")


def extract_model(handle: str, versions: dict[int, str], text: str) -> ModelRecord | None:
    """A model's record from its latest version's doc and the list of its versions; None for a doc that
    says it documents a publisher or a collection."""
    if doc_kind(text) in OTHER_KINDS:
        return None
    kind, metadata, description = parse_doc(text)
    if not metadata:
        raise UnreadablePage("no <!-- key: value --> metadata line")
    latest = max(versions)

    def first(*keys: str) -> str | None:
        for key in keys:
            if metadata.get(key):
                return metadata[key][0]
        return None

    def every(key: str) -> list[str] | None:
        return metadata.get(key) or None

    task = first("task", "module-type")
    demo = [value for key in ("colab", "demo", "interactive-visualizer") for value in metadata.get(key, [])]
    elements = {
        "name": handle,
        "description": description or None,
        "provider": handle.split("/", 1)[0],
        "task": task,
        "input_domain": task.split("-", 1)[0] if task and task.split("-", 1)[0] in MODALITIES else None,
        "keywords": every("language"),
        "version": str(latest),
        "release_notes": [str(version) for version in sorted(versions)],
        "architecture": every("network-architecture"),
        "training_data": every("dataset"),
        "framework": first("format"),
        "license": first("license"),
        "access": first("asset-path"),
        "usage": first_code_block(text),
        "demo": demo or None,
        "paper": paper_links(text) or None,
    }
    return ModelRecord(
        model_id=handle,
        elements={key: value for key, value in elements.items() if value is not None},
        raw={
            "handle": handle,
            "kind": kind,
            "versions": sorted(versions),
            # The doc path below the docs folder: the g3doc -> docs move is not a change of the model.
            "doc": "{publisher}/models/{model}/{version}.md".format_map(MODEL_DOC.match(versions[latest]).groupdict()),
            "metadata": metadata,
            "text": text,
        },
    )


class TfhubSpider(StoreSpider):
    """Lists the repository tree, then reads the latest version's doc of each model."""

    name = STORE.name
    store_config = STORE
    version = "1"

    async def start(self):
        yield self.listing_request(tree_url(REPO, BRANCH, recursive=True), self.parse_listing)

    def parse_listing(self, response):
        for handle, versions in model_versions(readable_json(response, MalformedListing)).items():
            url = raw_url(REPO, BRANCH, versions[max(versions)])
            yield self.model_request(url, handle, self.parse_model, cb_kwargs={"handle": handle, "versions": versions})

    def parse_model(self, response, handle, versions):
        record = extract_model(handle, versions, readable_text(response, "markdown", UnreadablePage))
        if record is not None:
            yield record
