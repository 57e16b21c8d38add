"""The diff module: what changed in a store between two instants (or two runs), element by element.

Only versions that runs observed in (from, to] opened or closed are read -- through the indexes on
`opened_by_run` and `closed_by_run` -- so the cost grows with the number of changes, not with the store's
size. Coverage at both ends comes from `store_coverage` (one row each).

A model's state at instant t is its version valid at t. Between t1 and t2:

- **added**: absent at t1, present at t2, and never seen at or before t1;
- **returned**: absent at t1 but seen earlier, present at t2;
- **removed**: present at t1, absent at t2;
- **changed**: present at both with different content, with each element's old and new value (an empty
  `elements` means only the store's raw record changed).

A model present at t1 whose version is still open at t2 did not change; a model that appeared and vanished
again inside the interval is in neither end, so it is in no list.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, Text, cast, or_, select

from storage.collector import cycle_collector_paused
from storage.coverage import Coverage, coverage_at
from storage.errors import StorewatchError
from storage.json_decode import decode_json
from storage.models import RECORDED_STATUSES, CrawlRun, Model, ModelVersion, StoreCoverage
from storage.timeutil import isoformat
from storage.writer import changed_keys

runs = CrawlRun.__table__
models = Model.__table__
versions = ModelVersion.__table__
coverage = StoreCoverage.__table__


@dataclass
class ModelChange:
    """One model present at both ends with different content: element -> {old, new}."""

    model_id: str
    elements: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "elements": self.elements}


@dataclass
class StoreDiff:
    """What changed in one store between `from_at` and `to_at`."""

    store: str
    from_at: datetime
    to_at: datetime
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    changed: list[ModelChange] = field(default_factory=list)
    coverage_from: Coverage | None = None
    coverage_to: Coverage | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    # Every stored record it decoded was plain JSON (no NaN, no infinity, no integer beyond 64 bits): what
    # decides whether its JSON can be written by orjson (crawler/indented_json.py).
    plain_numbers: bool = True

    def decode(self, text: str) -> Any:
        """A stored record's elements; one that only json reads (NaN, huge integers) clears `plain_numbers`."""
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            self.plain_numbers = False
            return decode_json(text)

    def element_changes(self) -> Counter:
        """How many changed models changed each element."""
        return Counter(key for change in self.changed for key in change.elements)

    def coverage_changes(self) -> list[dict[str, Any]]:
        """Per element: share of models showing it at each end, and a finding when it was started or stopped."""
        before, after = self.coverage_from, self.coverage_to
        rows = []
        for key in sorted(before.elements.keys() | after.elements.keys()):
            old, new = before.elements.get(key, 0), after.elements.get(key, 0)
            finding = None
            if old == 0 and new > 0 and before.models:
                finding = "started showing"
            elif old > 0 and new == 0 and after.models:
                finding = "stopped showing"
            rows.append(
                {
                    "element": key,
                    "from": {"models": old, "share": round(before.share(key), 4)},
                    "to": {"models": new, "share": round(after.share(key), 4)},
                    "finding": finding,
                }
            )
        return rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "from": isoformat(self.from_at),
            "to": isoformat(self.to_at),
            "models": {"from": self.coverage_from.models, "to": self.coverage_to.models},
            "added": self.added,
            "removed": self.removed,
            "returned": self.returned,
            "changed": [change.as_dict() for change in self.changed],
            "element_changes": dict(self.element_changes().most_common()),
            "coverage": self.coverage_changes(),
            "runs": self.runs,
        }


def diff_store(engine: Engine, store: str, from_at: datetime, to_at: datetime) -> StoreDiff:
    """The store's changes between two instants: the models' states at `from_at` against those at `to_at`."""
    if to_at < from_at:
        raise StorewatchError(f"--to ({isoformat(to_at)}) is earlier than --from ({isoformat(from_at)})")
    result = StoreDiff(store, from_at, to_at)
    result.coverage_from = coverage_at(engine, store, from_at)
    result.coverage_to = result.coverage_from
    with engine.connect() as connection:
        # The runs observed in the interval, with the coverage row of each that changed the store. A run's
        # versions, status and coverage row are committed together, so reading versions only of the runs that
        # had finished here keeps the lists and the coverage consistent while a crawl is being recorded.
        interval_runs = connection.execute(
            select(runs.c.id, runs.c.observed_at, runs.c.status, coverage.c.models, coverage.c.elements)
            .outerjoin(coverage, coverage.c.run_id == runs.c.id)
            .where(runs.c.store == store, runs.c.observed_at > from_at, runs.c.observed_at <= to_at)
            .order_by(runs.c.observed_at, runs.c.id)
        ).all()
        result.runs = [{"id": run.id, "observed_at": isoformat(run.observed_at), "status": run.status} for run in interval_runs]
        finished = [run for run in interval_runs if run.status in RECORDED_STATUSES]
        for run in finished:
            if run.models is not None:
                result.coverage_to = Coverage(store, run.models, dict(run.elements), run.id, run.observed_at)
        if finished:
            with cycle_collector_paused():  # a diff's decoded elements live until it is printed
                _classify(connection, result, [run.id for run in finished])
    return result


def diff_runs(engine: Engine, from_run: int, to_run: int) -> StoreDiff:
    """The changes between the instants two runs of one store observed."""
    store, from_at = run_observed_at(engine, from_run)
    _, to_at = run_observed_at(engine, to_run, store)
    return diff_store(engine, store, from_at, to_at)


def run_observed_at(engine: Engine, run_id: int, store: str | None = None) -> tuple[str, datetime]:
    """(store, observed_at) of a run; a one-line error when there is no such run, or it is of another store."""
    with engine.connect() as connection:
        row = connection.execute(select(runs.c.store, runs.c.observed_at).where(runs.c.id == run_id)).first()
    if row is None:
        raise StorewatchError(f"no run {run_id} in the database (see `storewatch runs`)")
    if store is not None and row.store != store:
        raise StorewatchError(f"run {run_id} is a run of {row.store}, not {store}")
    return row.store, row.observed_at


def _classify(connection, result: StoreDiff, run_ids: list[int]) -> None:
    """Read the versions the interval's runs closed (state at `from`) and opened (state at `to`), and compare.

    Elements come as the JSON text stored and are decoded only for a model that changed: an added, returned
    or removed model needs no more than its id, and most of a big diff's rows are such models. Whether a model
    was seen before `from` is asked only for those with no version at `from` (the added or returned ones)."""
    from_at, to_at = result.from_at, result.to_at
    columns = (versions.c.model_pk, models.c.model_id, versions.c.content_hash, cast(versions.c.elements, Text).label("elements"))
    # valid at `to`: opened in the interval and still open after it; with the keys the writer found changed
    # from the version before, which are the diff's own when that version is the one valid at `from`
    at_end = connection.execute(
        select(*columns, versions.c.opened_by_run, cast(versions.c.changed_elements, Text).label("changed_elements"))
        .join(models, models.c.id == versions.c.model_pk)
        .where(versions.c.opened_by_run.in_(run_ids), or_(versions.c.valid_to.is_(None), versions.c.valid_to > to_at))
    ).all()
    # valid at `from`: opened before the interval and closed in it
    at_start = connection.execute(
        select(*columns, versions.c.closed_by_run)
        .join(models, models.c.id == versions.c.model_pk)
        .where(versions.c.closed_by_run.in_(run_ids), versions.c.valid_from <= from_at)
    ).all()
    before = {row.model_pk: row for row in at_start}
    new_at_end = []
    for row in at_end:
        old = before.pop(row.model_pk, None)
        if old is None:
            new_at_end.append(row)
        elif old.content_hash != row.content_hash:
            # the run that closed the old version opened this one: the writer compared the two already
            keys = orjson.loads(row.changed_elements) if old.closed_by_run == row.opened_by_run else None
            result.changed.append(ModelChange(row.model_id, element_changes(result.decode(old.elements), result.decode(row.elements), keys)))
    seen = _seen_at_or_before(connection, [row.model_pk for row in new_at_end], from_at)
    for row in new_at_end:
        (result.returned if row.model_pk in seen else result.added).append(row.model_id)
    result.removed = [row.model_id for row in before.values()]
    for ids in (result.added, result.removed, result.returned):
        ids.sort()
    result.changed.sort(key=lambda change: change.model_id)


SEEN_CHUNK = 500  # model keys a query asks about at once (SQLite allows 32,766 parameters, PostgreSQL 65,535)


def _seen_at_or_before(connection, model_pks: list[int], instant: datetime) -> set[int]:
    """Which of the models had a version starting at or before `instant` (through the (model_pk, valid_from) index)."""
    seen: set[int] = set()
    for start in range(0, len(model_pks), SEEN_CHUNK):
        chunk = model_pks[start : start + SEEN_CHUNK]
        seen.update(
            connection.execute(
                select(versions.c.model_pk).where(versions.c.model_pk.in_(chunk), versions.c.valid_from <= instant).distinct()
            ).scalars()
        )
    return seen


def element_changes(old: dict[str, Any], new: dict[str, Any], keys: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Each element whose value differs between two versions' elements: key -> {old, new}. `keys`: those elements
    when already known (the writer's `changed_elements` of a version that directly follows the other)."""
    return {key: {"old": old.get(key), "new": new.get(key)} for key in (changed_keys(old, new) if keys is None else keys)}


def changes_by_run(engine: Engine, store: str, since: datetime | None = None, run_id: int | None = None) -> dict[int, Counter]:
    """For each run (after `since`; only `run_id` if given) that changed models: element -> how many models it changed."""
    query = (
        select(versions.c.opened_by_run, versions.c.changed_elements)
        .join(runs, runs.c.id == versions.c.opened_by_run)
        .where(runs.c.store == store, versions.c.change == "changed")
    )
    if since is not None:
        query = query.where(runs.c.observed_at > since)
    if run_id is not None:
        query = query.where(versions.c.opened_by_run == run_id)
    counts: dict[int, Counter] = {}
    with engine.connect() as connection:
        for opened_by, changed in connection.execute(query):
            counts.setdefault(opened_by, Counter()).update(changed)
    return counts
