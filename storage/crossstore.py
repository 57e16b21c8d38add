"""The cross-store view: which information elements each store shows, and models found in more than one store.

The element comparison is the 2019 study's, computed from data at any instant: each store's share of models
showing each element (from `store_coverage`), the elements every tracked store shows, and those only one
store shows.

Model matching never merges: it proposes pairs of models from different stores with a score in [0, 1] and
the evidence for and against (normalised name, paper, source repository, architecture). Only pairs that
share a name token, paper, repository or architecture are compared at all, so the work stays near-linear.
It reads four elements of each model present at the instant -- not whole records -- streamed, and holds only
the models that can pair with another store's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Engine, select

from storage.coverage import Coverage, coverage_at
from storage.models import Model, ModelVersion
from storage.queries import STREAM_ROWS, valid_at
from storage.timeutil import isoformat

models = Model.__table__
versions = ModelVersion.__table__

LIKELY = 0.7  # at or above: "likely the same model"; below: "possible match" for a person to review


def compare_elements(engine: Engine, stores: Iterable[str], at: datetime | None = None) -> dict[str, Any]:
    """Per element, the share of each store's models showing it at `at`; elements shared by all, unique to one."""
    coverages = {store: coverage_at(engine, store, at) for store in stores}
    tracked = {store: coverage for store, coverage in coverages.items() if coverage.models}
    union = set().union(*(coverage.shown() for coverage in tracked.values())) if tracked else set()
    shared = set.intersection(*(coverage.shown() for coverage in tracked.values())) if tracked else set()
    unique = {
        store: sorted(key for key in coverage.shown() if all(key not in other.shown() for name, other in tracked.items() if name != store))
        for store, coverage in tracked.items()
    }
    return {
        "at": isoformat(at),
        "stores": {store: _store_summary(coverage) for store, coverage in coverages.items()},
        "tracked": sorted(tracked),
        "elements": {
            key: {store: round(coverage.share(key), 4) for store, coverage in tracked.items()} for key in sorted(union)
        },
        "shared": sorted(shared),
        "shared_share": round(len(shared) / len(union), 4) if union else None,
        "unique": unique,
    }


def _store_summary(coverage: Coverage) -> dict[str, Any]:
    return {"models": coverage.models, "observed_at": isoformat(coverage.observed_at), "elements_shown": len(coverage.shown())}


# -- matching models across stores -----------------------------------------------------------------------------

STOP_TOKENS = frozenset(
    "a an and by for in of on the to with model models pretrained pre trained hub tf tf2 tflite keras onnx "
    "pytorch torch savedmodel saved default classification classifier feature vector".split()
)
_ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5}|[a-z\-]+/\d{7})", re.IGNORECASE)
_DOI = re.compile(r"doi\.org/(10\.[^\s?#]+)", re.IGNORECASE)
_GITHUB_REPO = re.compile(r"github\.com/([\w.\-]+)/([\w.\-]+)", re.IGNORECASE)


@dataclass
class Candidate:
    """What matching needs of one model: its normalised name tokens, papers, repositories and architectures."""

    store: str
    model_id: str
    name: str
    tokens: frozenset[str]
    papers: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    architectures: frozenset[str] = frozenset()

    @property
    def numbers(self) -> frozenset[str]:
        return frozenset(token for token in self.tokens if token[-1].isdigit())


@dataclass
class Match:
    """Two models of different stores that may be the same model; never merged, only shown with evidence."""

    a: Candidate
    b: Candidate
    score: float
    evidence: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "likely the same model" if self.score >= LIKELY else "possible match"

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "verdict": self.verdict,
            "models": [{"store": c.store, "model_id": c.model_id, "name": c.name} for c in (self.a, self.b)],
            "evidence": self.evidence,
            "conflicts": self.conflicts,
        }


def name_tokens(name: str) -> frozenset[str]:
    """Lower-case word, number (`1.1`) and version (`v2`) tokens of a name, without a leading `owner/` and filler words."""
    text = name.lower()
    if "/" in text:
        text = text.split("/", 1)[1]
    text = re.sub(r"(?<=[a-z])(?=v\d)", " ", text)
    return frozenset(token for token in re.findall(r"v\d+|[a-z]+|\d+(?:\.\d+)*", text) if token not in STOP_TOKENS)


def paper_ids(value: Any) -> frozenset[str]:
    """arXiv ids and DOIs found in a paper element (a string or a list of them)."""
    ids = set()
    for text in _strings(value):
        ids.update(f"arXiv:{match}" for match in _ARXIV.findall(text))
        ids.update(f"doi:{match.lower().rstrip('.,;')}" for match in _DOI.findall(text))
    return frozenset(ids)


def source_repos(value: Any) -> frozenset[str]:
    """github.com/<owner>/<repo> of each GitHub link in a source element."""
    return frozenset(
        f"github.com/{owner.lower()}/{repo.lower().removesuffix('.git')}" for text in _strings(value) for owner, repo in _GITHUB_REPO.findall(text)
    )


def architectures(value: Any) -> frozenset[str]:
    return frozenset(re.sub(r"[^a-z0-9]+", "", text.lower()) for text in _strings(value)) - {""}


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _strings(item)]
    return [str(value)]


def candidates(engine: Engine, store: str, at: datetime | None = None) -> Iterator[Candidate]:
    """The store's models present at `at` (latest when None), reduced to what matching compares; read
    STREAM_ROWS at a time, so that a store of millions is never held whole."""
    element = versions.c.elements
    condition = versions.c.valid_to.is_(None) if at is None else valid_at(at)
    query = (
        select(models.c.model_id, element["name"], element["paper"], element["source_code"], element["architecture"])
        .join(versions, versions.c.model_pk == models.c.id)
        .where(models.c.store == store, condition)
        .execution_options(yield_per=STREAM_ROWS)
    )
    with engine.connect() as connection:
        for model_id, name, paper, source, architecture in connection.execute(query):
            name = name if isinstance(name, str) and name else model_id
            yield Candidate(store, model_id, name, name_tokens(name), paper_ids(paper), source_repos(source), architectures(architecture))


def score_pair(a: Candidate, b: Candidate) -> Match:
    """Score two models: name agreement, shared paper, repository and architecture; numbers that differ count against."""
    score, evidence, conflicts = 0.0, [], []
    if a.tokens and a.tokens == b.tokens:
        score += 0.5
        evidence.append(f"same normalised name '{' '.join(sorted(a.tokens))}'")
    elif a.tokens and b.tokens:
        common = a.tokens & b.tokens
        overlap = len(common) / len(a.tokens | b.tokens)
        if common and overlap >= 0.25:
            score += round(0.4 * overlap, 4)
            evidence.append(f"names share {len(common)} of {len(a.tokens | b.tokens)} tokens ({', '.join(sorted(common))})")
    if a.numbers and b.numbers and a.numbers != b.numbers:
        score -= 0.4
        conflicts.append(f"different numbers in the names: {', '.join(sorted(a.numbers))} vs {', '.join(sorted(b.numbers))}")
    if a.papers & b.papers:
        score += 0.3
        evidence.append(f"same paper {', '.join(sorted(a.papers & b.papers))}")
    elif a.papers and b.papers:
        conflicts.append("different papers")
    if a.sources & b.sources:
        score += 0.2
        evidence.append(f"same source repository {', '.join(sorted(a.sources & b.sources))}")
    if a.architectures & b.architectures:
        score += 0.15
        evidence.append(f"same architecture {', '.join(sorted(a.architectures & b.architectures))}")
    return Match(a, b, round(min(max(score, 0.0), 1.0), 2), evidence, conflicts)


def _block_keys(candidate: Candidate) -> set[tuple[str, str]]:
    keys = {("name", token) for token in candidate.tokens if len(token) >= 3 and not token[-1].isdigit()}
    keys |= {("paper", paper) for paper in candidate.papers}
    keys |= {("source", source) for source in candidate.sources}
    keys |= {("architecture", arch) for arch in candidate.architectures}
    return keys


def match_models(
    engine: Engine, stores: Iterable[str], at: datetime | None = None, *, min_score: float = 0.45, max_block: int = 400
) -> list[Match]:
    """Pairs of models in different stores scoring at least `min_score`, best first.

    Models are compared only when they share a block key (a name token, paper, repository or architecture);
    a key shared by more than `max_block` models says nothing and is skipped. Only a key that some other store
    has can pair a model of the largest store, so that store is read last, streamed, and only its models that
    share such a key are kept: memory grows with the smaller stores and the blocks, not with the largest store.
    """
    by_size = sorted(stores, key=lambda store: coverage_at(engine, store, at).models)
    blocks: dict[tuple[str, str], list[Candidate] | None] = {}  # None: more than max_block members, skipped
    for store in by_size[:-1]:
        for candidate in candidates(engine, store, at):
            _file(blocks, candidate, _block_keys(candidate), max_block)
    for candidate in candidates(engine, by_size[-1], at) if by_size else ():
        _file(blocks, candidate, _block_keys(candidate) & blocks.keys(), max_block)
    seen, matches = set(), []
    for members in blocks.values():
        if members is None or len({member.store for member in members}) < 2:
            continue
        for index, a in enumerate(members):
            for b in members[index + 1 :]:
                if a.store == b.store:
                    continue
                a_, b_ = sorted((a, b), key=lambda c: (c.store, c.model_id))
                pair = (a_.store, a_.model_id, b_.store, b_.model_id)
                if pair in seen:
                    continue
                seen.add(pair)
                match = score_pair(a_, b_)
                if match.score >= min_score:
                    matches.append(match)
    matches.sort(key=lambda m: (-m.score, m.a.store, m.a.model_id, m.b.store, m.b.model_id))
    return matches


def _file(blocks: dict[tuple[str, str], list[Candidate] | None], candidate: Candidate, keys: Iterable[tuple[str, str]], max_block: int) -> None:
    """Add the candidate to the block of each key; a block that grows past max_block is dropped for good."""
    for key in keys:
        members = blocks.setdefault(key, [])
        if members is None:
            continue
        if len(members) >= max_block:
            blocks[key] = None
        else:
            members.append(candidate)
