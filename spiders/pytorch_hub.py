"""PyTorch Hub (pytorch.org/hub): one markdown page per model in github.com/pytorch/hub.

Identity: `model_id` is the page's file name without `.md`, which is also the path of its page
(`pytorch.org/hub/<model_id>/`). Top-level markdown files without Jekyll front matter, and README,
CONTRIBUTING and CODE_OF_CONDUCT, are not models.
"""

from __future__ import annotations

from typing import Any

from crawler.items import ModelRecord
from spiders.base import StoreConfig, StoreSpider
from spiders.github import GITHUB_HOSTS, first_code_block, paper_links, raw_url, split_front_matter, tree_blob_paths, tree_url

REPO, BRANCH = "pytorch/hub", "master"
NOT_MODELS = frozenset({"README.md", "CONTRIBUTING.md", "CODE_OF_CONDUCT.md"})

STORE = StoreConfig(
    name="pytorch_hub",
    title="PyTorch Hub",
    identity="page file name without .md (= the pytorch.org/hub/<model_id>/ path)",
    live_urls=(tree_url(REPO, BRANCH), raw_url(REPO, BRANCH, "<model_id>.md")),
    crawled_via="api",
    download_delay=0.25,
    obey_robots=False,  # GitHub's API and raw hosts are read as torch.hub reads them; their API terms apply
    auth_env="GITHUB_TOKEN",
    auth_hosts=GITHUB_HOSTS,
    # scripts/sanity_check.py of pytorch/hub requires title, summary, author, tags and github-link
    required_elements=("name", "description", "provider", "keywords", "source_code"),
    max_page_bytes=2 * 1024 * 1024,  # pages and the tree are under 20 KB: a hundred times that
)


def model_files(listing: dict[str, Any]) -> list[str]:
    """The top-level markdown files that may be model pages."""
    return [path for path in tree_blob_paths(listing) if "/" not in path and path.endswith(".md") and path not in NOT_MODELS]


def extract_model(path: str, text: str) -> ModelRecord | None:
    """A model page's record, or None for a markdown file that is not a model page (no front matter)."""
    front_matter, body = split_front_matter(text)
    if front_matter is None:
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
        for path in model_files(response.json()):
            yield self.model_request(raw_url(REPO, BRANCH, path), path.removesuffix(".md"), self.parse_model, cb_kwargs={"path": path})

    def parse_model(self, response, path):
        record = extract_model(path, response.text)
        if record is not None:
            yield record
