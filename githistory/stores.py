"""What each git-backed store's spider reads at one commit, and its records, through the spider's own functions.

A store here names its repository and branch, the files that make up its listing (`pathspecs`), and how one
commit is read: the listing the spider would request (the tree, or the manifest), then the files it would request
for each model, handed to the same extraction function the spider calls. Outcomes are cached by blob id (and by
what else the extraction reads: a tfhub model's list of versions), so a blob read once is never extracted again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crawler.accounting import MalformedListing, UnreadablePage
from crawler.items import ModelRecord, UnreadableModel
from crawler.pipelines import missing_elements, normalise_record
from githistory.repository import TreeEntry
from spiders import onnx_zoo, pytorch_hub, tfhub
from spiders.pages import check_readable
from storage.json_decode import decode_json

Outcome = tuple[ModelRecord | UnreadableModel, str | None]  # a model's record, and the failure to count (None: read)
BlobSource = Callable[[TreeEntry], bytes | None]  # a file's bytes; None when the repository lacks the blob


@dataclass
class Reading:
    """What the store showed at one commit: each model's outcome, and the failures a crawl would have counted."""

    outcomes: list[Outcome] = field(default_factory=list)
    listed: bool = True  # the listing was there to read (a missing manifest is a failed listing request)
    listing_failures: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)  # the listing was not the document the store serves
    missing_blobs: list[str] = field(default_factory=list)  # files the clone could not give: the run is partial
    files: list[TreeEntry] = field(default_factory=list)  # every file read, for the archive


@dataclass(frozen=True)
class GitStore:
    """A store built from a git repository: where it is, and how one commit of it is read."""

    name: str
    url: str
    branch: str
    pathspecs: tuple[str, ...]  # the files the store is made of: `--every commit` takes the commits touching them
    listed: tuple[str, ...]  # what `git ls-tree` lists as the spider's listing (nothing named: the top level)
    recursive: bool  # the listing is the named folders' whole subtrees
    read: Callable[["GitStore", list[TreeEntry], BlobSource, dict, tuple[str, ...]], Reading]
    spider: type  # the live spider: its config (required elements) and version, recorded with each run

    @property
    def config(self):
        return self.spider.store_config

    @property
    def spider_version(self) -> str:
        return f"{self.name}/{self.spider.version}"


def checked(record: ModelRecord | None, required: tuple[str, ...]) -> Outcome | None:
    """The record normalised as the crawl's pipeline does, or unreadable when it lacks a required element."""
    if record is None:
        return None
    normalise_record(record)
    missing = missing_elements(record, required)
    if missing:
        message = f"{record.model_id}: record lacks required elements {missing}"
        return UnreadableModel(record.model_id, message), message
    return record, None


def page_outcome(model_id: str, entry: TreeEntry, blobs: BlobSource, extract: Callable[[str], ModelRecord | None], required) -> Outcome | None:
    """One model page read as the spider reads it (the body checked, then its extraction); None: not a model."""
    body = blobs(entry)
    if body is None:
        message = f"blob {entry.sha} of {entry.path} is missing from the clone"
        return UnreadableModel(model_id, message), message
    try:
        check_readable(body, "markdown", UnreadablePage)
        return checked(extract(body.decode("utf-8-sig", errors="replace")), required)
    except UnreadablePage as error:
        message = f"UnreadablePage reading {entry.path}: {error}"
        return UnreadableModel(model_id, message), message


def tree_listing(entries: list[TreeEntry]) -> dict[str, Any]:
    """The entries in the shape of GitHub's `git/trees` answer, which the spiders' listing functions read."""
    return {"tree": [{"path": entry.path, "type": "blob"} for entry in entries], "truncated": False}


def read_pytorch_hub(store: GitStore, entries: list[TreeEntry], blobs: BlobSource, cache: dict, required) -> Reading:
    reading = Reading()
    by_path = {entry.path: entry for entry in entries}
    for path in pytorch_hub.model_files(tree_listing(entries)):
        entry = by_path[path]
        key = ("page", path, entry.sha)
        if key not in cache:
            cache[key] = page_outcome(path.removesuffix(".md"), entry, blobs, lambda text: pytorch_hub.extract_model(path, text), required)
        reading.files.append(entry)
        if cache[key] is not None:
            reading.outcomes.append(cache[key])
    return reading


def read_tfhub(store: GitStore, entries: list[TreeEntry], blobs: BlobSource, cache: dict, required) -> Reading:
    reading = Reading()
    by_path = {entry.path: entry for entry in entries}
    for handle, versions in tfhub.model_versions(tree_listing(entries)).items():
        entry = by_path[versions[max(versions)]]
        key = ("doc", handle, tuple(sorted(versions.items())), entry.sha)  # the record lists the model's versions
        if key not in cache:
            cache[key] = page_outcome(handle, entry, blobs, lambda text: tfhub.extract_model(handle, versions, text), required)
        reading.files.append(entry)
        if cache[key] is not None:
            reading.outcomes.append(cache[key])
    return reading


def read_onnx_zoo(store: GitStore, entries: list[TreeEntry], blobs: BlobSource, cache: dict, required) -> Reading:
    """The manifest is the whole store: its reading is cached by the manifest's blob id."""
    if not entries:
        return Reading(listed=False, listing_failures=[f"no {store.pathspecs[0]} at this commit"])
    entry = entries[0]
    key = ("manifest", entry.sha)
    if key not in cache:
        cache[key] = read_manifest(entry, blobs, required)
    return cache[key]


def read_manifest(entry: TreeEntry, blobs: BlobSource, required) -> Reading:
    reading = Reading(files=[entry])
    body = blobs(entry)
    if body is None:
        reading.missing_blobs.append(f"blob {entry.sha} of {entry.path}")
        return reading
    try:
        check_readable(body, "JSON", MalformedListing)
        try:
            manifest = decode_json(body.decode("utf-8-sig", errors="replace"))
        except ValueError as error:
            raise MalformedListing(f"not JSON: {error}") from None
        named, unnamed = onnx_zoo.manifest_entries(manifest)
    except MalformedListing as error:
        reading.malformed.append(f"MalformedListing reading {entry.path}: {error}")
        return reading
    if unnamed:
        reading.listing_failures.append(f"{unnamed} manifest entries name no model_path: nothing removed")
    for item in named:
        try:
            outcome = checked(onnx_zoo.extract_model(item), required)
        except UnreadablePage as error:
            outcome = UnreadableModel(onnx_zoo.model_id(item), str(error)), str(error)
        reading.outcomes.append(outcome)
    return reading


STORES = {
    store.name: store
    for store in (
        GitStore("pytorch_hub", "https://github.com/pytorch/hub", pytorch_hub.BRANCH, (":(glob)*.md",), (), False, read_pytorch_hub,
                 pytorch_hub.PytorchHubSpider),
        GitStore("tfhub", "https://github.com/tensorflow/tfhub.dev", tfhub.BRANCH, ("assets/docs", "assets/g3doc"), ("assets/docs", "assets/g3doc"), True, read_tfhub,
                 tfhub.TfhubSpider),
        GitStore("onnx_zoo", "https://github.com/onnx/models", "main", ("ONNX_HUB_MANIFEST.json",), ("ONNX_HUB_MANIFEST.json",), False, read_onnx_zoo,
                 onnx_zoo.OnnxZooSpider),
    )
}
