"""Two histories of one store, compared version by version: what a re-extraction changed.

A version is identified by its model and the instant it began. Both histories are streamed in the same
order (the model's key, a hex digest that sorts alike under every collation, then valid_from) and merged,
so comparing two million models holds a few thousand rows in memory, and the two databases may be of
different kinds (the original on PostgreSQL, the rebuilt one a SQLite file).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Text, cast, or_, select

from storage.models import Model, ModelVersion
from storage.queries import stream_rows
from storage.timeutil import isoformat

models = Model.__table__
versions = ModelVersion.__table__


@dataclass
class VersionRow:
    model_key: str
    model_id: str
    valid_from: datetime
    valid_to: datetime | None
    change: str
    content_hash: str
    elements_json: str

    @property
    def key(self) -> tuple[str, datetime]:
        return (self.model_key, self.valid_from)


@dataclass
class HistoryDifference:
    """How a rebuilt history differs from the original, counted in versions."""

    original: int = 0  # versions compared on each side
    rebuilt: int = 0
    only_original: int = 0  # versions that began at an instant where the other history has none
    only_rebuilt: int = 0
    ended_differently: int = 0  # same start, different end (valid_to) or a different kind of change
    raw_only: int = 0  # same elements, different raw record
    elements: Counter = field(default_factory=Counter)  # element key -> versions whose value differs
    examples: list[dict[str, Any]] = field(default_factory=list)  # a few differing versions, for the user

    @property
    def identical(self) -> bool:
        return not (self.only_original or self.only_rebuilt or self.ended_differently or self.raw_only or self.elements)

    def as_dict(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "versions": {"original": self.original, "rebuilt": self.rebuilt},
            "only_original": self.only_original,
            "only_rebuilt": self.only_rebuilt,
            "ended_differently": self.ended_differently,
            "raw_only": self.raw_only,
            "elements": dict(sorted(self.elements.items())),
            "examples": self.examples,
        }


IN_EFFECT = "in effect"  # the change kind of a version already current at the start of a compared span


def iter_versions(engine: Engine, store: str, since: datetime | None = None, until: datetime | None = None) -> Iterator[VersionRow]:
    """The store's versions as seen within [since, until], in comparison order, streamed.

    A history rebuilt from `since` on opens every model afresh there, and one rebuilt up to `until` leaves open
    what closed later: so a version current at `since` is seen as beginning there (how it began is out of
    view), and one that ended after `until` as still open."""
    query = (
        select(
            models.c.model_key, models.c.model_id, versions.c.valid_from, versions.c.valid_to, versions.c.change,
            versions.c.content_hash, cast(versions.c.elements, Text),
        )
        .join(versions, versions.c.model_pk == models.c.id)
        .where(models.c.store == store)
        .order_by(models.c.model_key, versions.c.valid_from)
    )
    if since is not None:
        query = query.where(or_(versions.c.valid_to.is_(None), versions.c.valid_to > since))
    if until is not None:
        query = query.where(versions.c.valid_from <= until)
    for row in stream_rows(engine, query):
        version = VersionRow(*row)
        if since is not None and version.valid_from <= since:
            version.valid_from, version.change = since, IN_EFFECT
        if until is not None and version.valid_to is not None and version.valid_to > until:
            version.valid_to = None
        yield version


def compare_histories(
    original: Engine, rebuilt: Engine, store: str, since: datetime | None = None, until: datetime | None = None, examples: int = 5
) -> HistoryDifference:
    """Merge the two histories of `store` within [since, until] (the instants of the first and last rebuilt
    runs; None: all of it) and count, per element, the versions whose value differs."""
    difference = HistoryDifference()
    left, right = iter_versions(original, store, since, until), iter_versions(rebuilt, store, since, until)
    old, new = next(left, None), next(right, None)
    while old is not None or new is not None:
        if new is None or (old is not None and old.key < new.key):
            difference.original += 1
            difference.only_original += 1
            _example(difference, examples, old, "only in the original history")
            old = next(left, None)
        elif old is None or new.key < old.key:
            difference.rebuilt += 1
            difference.only_rebuilt += 1
            _example(difference, examples, new, "only in the rebuilt history")
            new = next(right, None)
        else:
            difference.original += 1
            difference.rebuilt += 1
            _compare_version(difference, examples, old, new)
            old, new = next(left, None), next(right, None)
    return difference


def _compare_version(difference: HistoryDifference, examples: int, old: VersionRow, new: VersionRow) -> None:
    if (old.valid_to, old.change) != (new.valid_to, new.change):
        difference.ended_differently += 1
        _example(difference, examples, old, f"ends {isoformat(new.valid_to) or 'open'} ({new.change}), was {isoformat(old.valid_to) or 'open'} ({old.change})")
    if old.content_hash == new.content_hash:
        return
    if old.elements_json == new.elements_json:
        difference.raw_only += 1
        return
    before, after = json.loads(old.elements_json), json.loads(new.elements_json)
    changed = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
    if not changed:  # the same elements, written differently
        difference.raw_only += 1
        return
    difference.elements.update(changed)
    _example(difference, examples, old, "elements differ: " + ", ".join(changed))


def _example(difference: HistoryDifference, limit: int, row: VersionRow, what: str) -> None:
    if len(difference.examples) < limit:
        difference.examples.append({"model_id": row.model_id, "valid_from": isoformat(row.valid_from), "difference": what})
