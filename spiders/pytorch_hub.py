"""PyTorch Hub (pytorch.org/hub): one markdown page per model in github.com/pytorch/hub.

Identity: `model_id` is the page's file name without `.md`, which is also the path of its page
(`pytorch.org/hub/<model_id>/`).

Not a model, because the store says so: a top-level markdown file whose name is upper case (README,
CONTRIBUTING, CODE_OF_CONDUCT, SECURITY, LICENSE...: the repository's own documents; no model page in the
repository's history has an upper-case name), and a page whose front matter names a layout other than the
model page's (`hub_detail`, `pytorch_hub_detail` before June 2019; the store's sanity check requires it).
Unreadable, so the model is kept: an empty page, an HTML page, a page without front matter (or cut short
before its closing `---`), front matter that is not a YAML mapping or names no layout.
"""

from __future__ import annotations

from typing import Any

from crawler.accounting import MalformedListing, UnreadablePage
from crawler.items import ModelRecord
from spiders.base import StoreConfig, StoreSpider
from spiders.github import GITHUB_HOSTS, first_code_block, paper_links, raw_url, split_front_matter, tree_blob_paths, tree_url
from spiders.pages import readable_json, readable_text

REPO, BRANCH = "pytorch/hub", "master"
MODEL_LAYOUTS = frozenset({"hub_detail", "pytorch_hub_detail"})  # the second until the June 2019 rename

STORE = StoreConfig(
    name="pytorch_hub",
    title="PyTorch Hub",
    identity="page file name without .md (= the pytorch.org/hub/<model_id>/ path)",
    live_urls=(tree_url(REPO, BRANCH), raw_url(REPO, BRANCH, "<model_id>.md")),
    crawled_via="api",
    model_page="https://pytorch.org/hub/{model_id}/",
    download_delay=0.25,
    obey_robots=False,  # GitHub's API and raw hosts are read as torch.hub reads them; their API terms apply
    auth_env="GITHUB_TOKEN",
    auth_hosts=GITHUB_HOSTS,
    # scripts/sanity_check.py of pytorch/hub requires title, summary, author, tags and github-link
    elements=(
        "name", "description", "provider", "keywords", "demo", "usage", "framework", "runtime", "access",
        "source_code", "paper",
    ),
    required_elements=("name", "description", "provider", "keywords", "source_code"),
    max_page_bytes=2 * 1024 * 1024,  # pages and the tree are under 20 KB: a hundred times that
    # No counters: a hub page's markdown shows no downloads, stars or ratings (its repository's GitHub stars are
    # not read), so `counters` stays empty.
)


def model_files(listing: Any) -> list[str]:
    """The top-level markdown files that may be model pages: not the repository's upper-case documents."""
    return [path for path in tree_blob_paths(listing) if "/" not in path and path.endswith(".md") and not is_repository_doc(path)]


def is_repository_doc(path: str) -> bool:
    return path.removesuffix(".md").isupper()


def extract_model(path: str, text: str) -> ModelRecord | None:
    """A model page's record; None for a page whose layout says it is another kind of page.

    Raises UnreadablePage for text that is not a Jekyll page with front matter naming a layout.
    """
    if not text.strip():
        raise UnreadablePage("empty page")
    front_matter, body = split_front_matter(text)
    if front_matter is None:
        raise UnreadablePage("no Jekyll front matter")
    layout = front_matter.get("layout")
    if not isinstance(layout, str):
        raise UnreadablePage("front matter names no layout")
    if layout not in MODEL_LAYOUTS:
        return None
    get = front_matter.get
    elements = {
        "name": get("title"),
        "description": get("summary"),
        "provider": get("author"),
        "keywords": _as_list(get("tags")),
        "source_code": get("github-link"),
        "demo": get("demo-model-link"),
        "runtime": get("accelerator"),
        "usage": first_code_block(body),
        "access": f"torch.hub.load('{get('github-id')}', ...)" if get("github-id") else None,
        "paper": paper_links(body) or None,
        "framework": "PyTorch",
    }
    return ModelRecord(
        model_id=path.removesuffix(".md"),
        elements={key: value for key, value in elements.items() if value is not None},
        raw={"file": path, "front_matter": front_matter, "body": body},
    )


def _as_list(value: Any) -> list | None:
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


class PytorchHubSpider(StoreSpider):
    """Lists the repository tree, then reads each model page."""

    name = STORE.name
    store_config = STORE
    version = "1"

    async def start(self):
        yield self.listing_request(tree_url(REPO, BRANCH), self.parse_listing)

    def parse_listing(self, response):
        for path in model_files(readable_json(response, MalformedListing)):
            yield self.model_request(raw_url(REPO, BRANCH, path), path.removesuffix(".md"), self.parse_model, cb_kwargs={"path": path})

    def parse_model(self, response, path):
        record = extract_model(path, readable_text(response, "markdown", UnreadablePage))
        if record is not None:
            yield record
