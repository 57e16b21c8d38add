"""The cross-store view: which information elements each store shows, and models found in more than one store.

The element comparison is the 2019 study's, computed from data at any instant: each store's share of models
showing each element (from `store_coverage`), the elements every tracked store shows, and those only one
store shows.

Model matching never merges: it proposes pairs of models from different stores with a score in [0, 1] and
the evidence for and against (normalised name, paper, source repository, architecture, TF Hub handle). Only
pairs that share a name token, paper, repository, architecture or handle are compared at all, so the work
stays near-linear. It reads four elements of each model present at the instant (five of a Kaggle model) --
not whole records -- streamed, and holds only the models that can pair with another store's.

One store became another: tfhub.dev moved its models to Kaggle Models in November 2023, each TF Hub handle
`<publisher>/<model path>` becoming a variation `<owner>/<model>/<framework>/<variation>` of a Kaggle model.
A TF Hub model and a Kaggle model whose variation carries its handle, or a model whose source names a
tfhub.dev URL, share a handle key (`tfhub_handle_keys`): that is the strongest evidence there is.
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
_TFHUB_URL = re.compile(r"tfhub\.dev/([\w.\-]+(?:/[\w.\-]+)+)", re.IGNORECASE)
TFHUB, KAGGLE = "tfhub", "kaggle_models"  # the store names of TF Hub and of its successor
# A handle's last segment naming a converted format (tfhub.dev's `Lite`, `Tfjs`, `Coral` docs) ...
FORMAT_SEGMENTS = frozenset({"lite", "tfjs", "coral"})
# ... and the URL form of the same: tfhub.dev/<publisher>/lite-model/<model>/<version>/<variant>/<version>.
URL_FORMATS = {"lite-model": "lite", "tfjs-model": "tfjs", "coral-model": "coral"}
# Kaggle's frameworks for TF Hub's formats: a SavedModel (TF1 or TF2), a Lite, a TF.js or a Coral conversion.
_KAGGLE_VARIATION = re.compile(r"(?:^|, )(\w+/[^\s,]+) \d+")  # `<framework>/<variation> <version>` in `version`
FRAMEWORK_FAMILIES = {"tensorFlow1": "saved", "tensorFlow2": "saved", "tfLite": "lite", "tfJs": "tfjs", "coral": "coral"}


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
    handles: dict[str, "Handle"] = field(default_factory=dict)  # TF Hub handle key -> how this model carries it

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


def handle_key(publisher: str, path: str) -> str:
    """`<publisher>/<path>` lower-cased, every run of other characters than letters and digits one `-`: TF Hub's
    `bert_en_uncased_L-12_H-768_A-12` and Kaggle's `bert/en-uncased-l-12-h-768-a-12` meet."""
    return f"{publisher.lower()}/{re.sub(r'[^a-z0-9]+', '-', path.lower()).strip('-')}"


def tfhub_handle_keys(handle: str, tails: bool = True) -> dict[str, str | None]:
    """The keys a TF Hub handle (`<publisher>/<model path>`, as the tfhub store names models) matches, each
    with the collection folder it leaves out (None: the whole handle).

    A converted format's handle (`tensorflow/ssd_mobilenet_v1/1/metadata/lite`: the Lite conversion `metadata`
    of the model's version 1) loses its format and base version, as Kaggle files it (`tfLite/metadata`). With
    `tails`, each tail of the path from a segment on is a key too: Kaggle dropped collection folders
    (`imagenet/`, `magenta/`); a Kaggle key always holds the model's slug, so a bare tail matches nothing else.
    Each key also comes qualified by its format family (`lite:`, `saved:`...), so that a variation in the same
    format is the one named as evidence."""
    publisher, _, path = handle.partition("/")
    segments = [segment for segment in path.split("/") if segment]
    family = "saved"
    if len(segments) > 1 and segments[-1].lower() in FORMAT_SEGMENTS:
        family = segments.pop().lower()
    if len(segments) >= 3 and segments[-2].isdigit():
        segments = segments[:-2] + segments[-1:]
    keys: dict[str, str | None] = {}
    for start in range(len(segments) if tails else 1):
        key, dropped = handle_key(publisher, "/".join(segments[start:])), "/".join(segments[:start]) or None
        keys[key] = keys[f"{family}:{key}"] = dropped
    return keys


def kaggle_handle_keys(model_id: str, versions: Any) -> dict[str, str]:
    """key -> `<framework>/<variation>` for each variation a Kaggle model's `version` names
    (`tensorFlow2/singlepose-lightning 4, tfLite/singlepose-lightning 1`): `<owner>/<model>-<variation>`, and
    `<owner>/<variation>` when the variation repeats the model's name (`google/universal-sentence-encoder`'s
    variation `universal-sentence-encoder`); each also qualified by the framework's format family when it is
    one of TF Hub's."""
    owner, _, slug = model_id.partition("/")
    keys: dict[str, str] = {}
    for variation in sorted(_KAGGLE_VARIATION.findall(versions)) if isinstance(versions, str) else ():
        framework, _, name = variation.partition("/")
        family = FRAMEWORK_FAMILIES.get(framework)
        found = [handle_key(owner, f"{slug}/{name}")]
        if handle_key(owner, name).startswith(handle_key(owner, slug)):
            found.append(handle_key(owner, name))
        for key in found:
            keys.setdefault(key, variation)
            if family:
                keys[f"{family}:{key}"] = variation
    return keys


def tfhub_urls(value: Any) -> dict[str, str]:
    """key -> the tfhub.dev URL for each one a source element names (`https://tfhub.dev/google/yamnet/1`)."""
    keys: dict[str, str] = {}
    for text in _strings(value):
        for path in _TFHUB_URL.findall(text):
            segments = path.rstrip("/").split("/")
            while len(segments) > 2 and segments[-1].isdigit():  # the version
                segments.pop()
            if len(segments) > 2 and segments[1] in URL_FORMATS:
                segments = [segments[0], *segments[2:], URL_FORMATS[segments[1]]]
            for key in tfhub_handle_keys("/".join(segments), tails=False):  # the very handle: a tail could be another model's
                keys.setdefault(key, f"tfhub.dev/{path}")
    return keys


@dataclass(frozen=True)
class Handle:
    """How a model carries a TF Hub handle key: said for people, and whether a collection folder was left out."""

    said: str
    whole: bool = True


def handles_of(store: str, model_id: str, source: Any, variations: Any) -> dict[str, Handle]:
    """How a model carries TF Hub handles: as a TF Hub model, as a Kaggle model's variation, or in its source."""
    handles = {key: Handle(f"names {url}") for key, url in tfhub_urls(source).items()}
    if store == TFHUB:
        for key, dropped in tfhub_handle_keys(model_id).items():
            handles[key] = Handle(f"TF Hub handle {model_id}" + (f" (its folder {dropped}/ left out)" if dropped else ""), dropped is None)
    elif store == KAGGLE:
        handles.update({key: Handle(f"Kaggle variation {model_id}/{variation}") for key, variation in kaggle_handle_keys(model_id, variations).items()})
    return handles


def candidates(engine: Engine, store: str, at: datetime | None = None) -> Iterator[Candidate]:
    """The store's models present at `at` (latest when None), reduced to what matching compares; read
    STREAM_ROWS at a time, so that a store of millions is never held whole. A Kaggle model's `version` (its
    variations) is read too: they carry the TF Hub handles."""
    element = versions.c.elements
    condition = versions.c.valid_to.is_(None) if at is None else valid_at(at)
    columns = [models.c.model_id, element["name"], element["paper"], element["source_code"], element["architecture"]]
    query = (
        select(*columns, *([element["version"]] if store == KAGGLE else []))
        .join(versions, versions.c.model_pk == models.c.id)
        .where(models.c.store == store, condition)
        .execution_options(yield_per=STREAM_ROWS)
    )
    with engine.connect() as connection:
        for model_id, name, paper, source, architecture, *variations in connection.execute(query):
            name = name if isinstance(name, str) and name else model_id
            handles = handles_of(store, model_id, source, variations[0] if variations else None)
            yield Candidate(store, model_id, name, name_tokens(name), paper_ids(paper), source_repos(source), architectures(architecture), handles)


def score_pair(a: Candidate, b: Candidate) -> Match:
    """Score two models: a shared TF Hub handle, name agreement, shared paper, repository and architecture;
    numbers that differ count against, unless a handle says where they went (a Kaggle variation holds them)."""
    score, evidence, conflicts = 0.0, [], []
    # The best shared key: a whole handle before one without its folder, the same format before any format.
    shared_handles = sorted(a.handles.keys() & b.handles.keys(), key=lambda key: (not (a.handles[key].whole and b.handles[key].whole), ":" not in key, key))
    if shared_handles:
        best = shared_handles[0]
        score += 0.7 if a.handles[best].whole and b.handles[best].whole else 0.5
        evidence.append(f"{a.handles[best].said} = {b.handles[best].said}")
    if a.tokens and a.tokens == b.tokens:
        score += 0.5
        evidence.append(f"same normalised name '{' '.join(sorted(a.tokens))}'")
    elif a.tokens and b.tokens:
        common = a.tokens & b.tokens
        overlap = len(common) / len(a.tokens | b.tokens)
        if common and overlap >= 0.25:
            score += round(0.4 * overlap, 4)
            evidence.append(f"names share {len(common)} of {len(a.tokens | b.tokens)} tokens ({', '.join(sorted(common))})")
    if a.numbers and b.numbers and a.numbers != b.numbers and not shared_handles:
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
    keys |= {("tfhub", key) for key in candidate.handles}
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
