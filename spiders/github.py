"""Reading stores whose source is a GitHub repository: tree listings, raw file URLs, markdown front matter."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import yaml

from crawler.accounting import IncompleteListing, MalformedListing, UnreadablePage

GITHUB_HOSTS = frozenset({"api.github.com"})  # a GITHUB_TOKEN raises the API's 60 requests/hour limit


class TruncatedListing(IncompleteListing):
    """GitHub cut the tree listing short: the model list is incomplete, so the run cannot be complete."""


def tree_url(repo: str, branch: str, *, recursive: bool = False) -> str:
    return f"https://api.github.com/repos/{repo}/git/trees/{branch}" + ("?recursive=1" if recursive else "")


def raw_url(repo: str, branch: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{branch}/{quote(path)}"


def tree_blob_paths(listing: Any) -> list[str]:
    """File paths of a `git/trees` response: MalformedListing when it is not one, TruncatedListing when cut short."""
    entries = listing.get("tree") if isinstance(listing, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) and isinstance(entry.get("path"), str) for entry in entries):
        raise MalformedListing("not a GitHub tree listing: no `tree` list of entries with a path")
    if listing.get("truncated"):
        raise TruncatedListing(f"GitHub truncated the tree listing {listing.get('url', '')}")
    return [entry["path"] for entry in entries if entry.get("type") == "blob"]


_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """(front matter, body) of a Jekyll-style markdown file; (None, text) when it has none.

    Front matter that is not a YAML mapping (malformed YAML, a list, a bare string) raises UnreadablePage.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, text
    try:
        front_matter = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        raise UnreadablePage(f"front matter is not YAML: {' '.join(str(error).split())}") from None
    if front_matter is None:
        front_matter = {}
    if not isinstance(front_matter, dict):
        raise UnreadablePage(f"front matter is a {type(front_matter).__name__}, not a mapping")
    return front_matter, text[match.end():]


_CODE_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
_PAPER_LINK = re.compile(r"https?://(?:arxiv\.org/(?:abs|pdf)/[\w.\-/]+|(?:dx\.)?doi\.org/[^\s)\]>\"']+)")


def first_code_block(markdown: str) -> str | None:
    match = _CODE_BLOCK.search(markdown)
    return match.group(1).strip() if match else None


def paper_links(markdown: str) -> list[str]:
    """arXiv and DOI links, in order of appearance, without repeats."""
    return list(dict.fromkeys(link.rstrip(".,;") for link in _PAPER_LINK.findall(markdown)))
