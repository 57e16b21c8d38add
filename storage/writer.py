"""The snapshot writer: the one place that applies storewatch's versioning rules.

A crawl stages every model it saw (id, content hash, record) in a temporary table; `finish` then compares
the staged set with the store's open versions in a few set-based statements, so the rows written grow with
the number of changes, not with the store's size. The rules:

- a model seen for the first time opens a version (`added`);
- a model whose content hash differs from its open version closes it and opens a new one (`changed`);
- a model with no open version but an earlier one opens a new version (`returned`);
- a model not seen closes its open version (`removed`) -- only in a `complete` run;
- a `partial` or `failed` run closes nothing: it records additions and returns only, and leaves changes
  and removals to the next complete run;
- a model the listing named but whose page could not be read counts as seen, unchanged.

A run that opens or closes versions also records the store's coverage after it (`store_coverage`): the
previous counts of models and of models showing each element, plus the versions it opened, minus those it
closed -- again work proportional to the changes. A run that changes nothing writes no coverage row.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    type_coerce,
    update,
)

from storage.errors import StorewatchError
from storage.models import CrawlRun, Model, ModelVersion, StoreCoverage
from storage.runs import this_host
from storage.timeutil import isoformat, utcnow

_staging_metadata = MetaData()
STAGED = Table(
    "storewatch_staged_models",
    _staging_metadata,
    Column("model_id", String(512), primary_key=True),
    Column("content_hash", String(32)),  # null: listed, but its record could not be read
    # The record as canonical JSON text, inserted into a new version as it is (no decoding, no re-encoding),
    # and its element keys (a sorted JSON list), for the coverage counts.
    Column("elements", Text),
    Column("raw", Text),
    Column("element_keys", Text),
    prefixes=["TEMPORARY"],
)

runs = CrawlRun.__table__
models = Model.__table__
versions = ModelVersion.__table__
coverage = StoreCoverage.__table__


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(elements_json: str, raw_json: str) -> str:
    """A record's content hash: 128 bits of SHA-256 over `{"elements": ..., "raw": ...}` as canonical JSON
    (equal content, equal hash), fed from the two parts' canonical JSON without joining them."""
    digest = hashlib.sha256(b'{"elements":')
    digest.update(elements_json.encode())
    digest.update(b',"raw":')
    digest.update(raw_json.encode())
    digest.update(b"}")
    return digest.hexdigest()[:32]


def _json_column(value):
    """JSON text as a value for a JSON column, on PostgreSQL (its JSON type needs the cast)."""
    return cast(value, JSON)


def _json_text(value):
    """JSON text as a value for a JSON column, on SQLite: stored as it is (a CAST would give the text numeric
    affinity and turn it into 0)."""
    return type_coerce(value, JSON)


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Element keys whose value differs, including keys that appeared or disappeared."""
    return sorted(key for key in old.keys() | new.keys() if old.get(key, _MISSING) != new.get(key, _MISSING))


_MISSING = object()


@dataclass
class RunSummary:
    """What one run saw and wrote."""

    run_id: int
    store: str
    observed_at: datetime
    status: str
    models_seen: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    returned: int = 0
    errors: int = 0
    error_summary: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["observed_at"] = isoformat(self.observed_at)
        return data


class SnapshotWriter:
    """Records one crawl run of one store: `start`, then `add`/`add_unreadable` per model, then `finish`."""

    def __init__(
        self,
        engine: Engine,
        store: str,
        observed_at: datetime,
        spider_version: str,
        *,
        source: str | None = None,
        batch_size: int = 1000,
    ) -> None:
        self.engine = engine
        self.store = store
        self.observed_at = observed_at
        self.spider_version = spider_version
        self.source = source
        self.batch_size = batch_size
        self.run_id: int | None = None
        self._connection = None
        self._pending: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self.unreadable = 0
        self.duplicates = 0

    # -- the run's life -------------------------------------------------------------------------------------

    def start(self) -> int:
        """Check the snapshot is not older than the store's history, record the run as `running`."""
        latest = latest_observed_at(self.engine, self.store)
        if latest is not None and self.observed_at < latest:
            raise StorewatchError(
                f"{self.store}: snapshot observed at {isoformat(self.observed_at)} is older than the latest run "
                f"({isoformat(latest)}); storewatch appends history in time order, so replay older snapshots "
                f"into a new database"
            )
        self._connection = self.engine.connect()
        with self._connection.begin():
            self.run_id = self._connection.execute(
                insert(runs).values(
                    store=self.store,
                    observed_at=self.observed_at,
                    started_at=utcnow(),
                    status="running",
                    models_seen=0, added=0, changed=0, removed=0, returned=0, errors=0,
                    spider_version=self.spider_version,
                    source=self.source,
                    pid=os.getpid(),
                    host=this_host(),  # what recovery compares a running run's host with
                )
            ).inserted_primary_key[0]
            self._connection.execute(text(f"DROP TABLE IF EXISTS {STAGED.name}"))  # left by a crashed run
            STAGED.create(self._connection)
        return self.run_id

    def add(self, model_id: str, elements: dict[str, Any], raw: dict[str, Any]) -> None:
        """Stage one model's record as seen in this run."""
        if self._remember(model_id):
            elements_json, raw_json = canonical_json(elements), canonical_json(raw)
            self._pending.append(
                {
                    "model_id": model_id,
                    "content_hash": record_hash(elements_json, raw_json),
                    "elements": elements_json,
                    "raw": raw_json,
                    "element_keys": canonical_json(sorted(elements)),
                }
            )
            self._flush_when_full()

    def add_unreadable(self, model_id: str) -> None:
        """Stage a model the listing named but whose record could not be read: present, content unknown."""
        if self._remember(model_id):
            self.unreadable += 1
            self._pending.append({"model_id": model_id, "content_hash": None, "elements": None, "raw": None, "element_keys": None})
            self._flush_when_full()

    def finish(
        self,
        status: str,
        *,
        errors: int = 0,
        error_summary: str | None = None,
        stats: dict[str, Any] | None = None,
    ) -> RunSummary:
        """Apply the staged models to the versioned tables in one transaction and close the run."""
        if status not in ("complete", "partial", "failed"):
            raise ValueError(f"unknown run status {status!r}")
        assert self._connection is not None and self.run_id is not None, "finish() before start()"
        self._flush()
        summary = RunSummary(self.run_id, self.store, self.observed_at, status, models_seen=len(self._seen))
        summary.errors = errors + self.duplicates
        notes = [error_summary] if error_summary else []
        if self.duplicates:
            notes.append(f"{self.duplicates} duplicate model ids ignored")
        with self._connection.begin():
            deferred = self._apply(summary, closes_allowed=status == "complete")
            if deferred:
                notes.append(f"{deferred} changed models left for the next complete run")
            summary.error_summary = "; ".join(notes) or None
            self._connection.execute(
                update(runs)
                .where(runs.c.id == self.run_id)
                .values(
                    status=status,
                    finished_at=utcnow(),
                    models_seen=summary.models_seen,
                    added=summary.added,
                    changed=summary.changed,
                    removed=summary.removed,
                    returned=summary.returned,
                    errors=summary.errors,
                    error_summary=summary.error_summary,
                    stats=stats,
                )
            )
            STAGED.drop(self._connection)
        self.close()
        return summary

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- staging ------------------------------------------------------------------------------------------

    def _remember(self, model_id: str) -> bool:
        if model_id in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(model_id)
        return True

    def _flush_when_full(self) -> None:
        if len(self._pending) >= self.batch_size:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            with self._connection.begin():
                self._connection.execute(insert(STAGED), self._pending)
            self._pending = []

    # -- applying the rules ----------------------------------------------------------------------------

    def _apply(self, summary: RunSummary, *, closes_allowed: bool) -> int:
        connection = self._connection
        known = models.alias("known")
        connection.execute(
            insert(models).from_select(
                ["store", "model_id"],
                select(literal(self.store, String), STAGED.c.model_id).where(
                    STAGED.c.content_hash.is_not(None),
                    ~exists().where(and_(known.c.store == self.store, known.c.model_id == STAGED.c.model_id)),
                ),
            )
        )
        staged_model = and_(models.c.store == self.store, models.c.model_id == STAGED.c.model_id)
        opened_keys = self._add_new_models(summary, staged_model)

        earlier = versions.alias("earlier")
        needing_version = connection.execute(
            select(
                models.c.id,
                STAGED.c.content_hash,
                STAGED.c.elements,
                STAGED.c.raw,
                versions.c.id.label("open_version"),
                versions.c.elements.label("open_elements"),
                exists().where(earlier.c.model_pk == models.c.id).label("seen_before"),
            )
            .select_from(STAGED)
            .join(models, staged_model)
            .outerjoin(versions, and_(versions.c.model_pk == models.c.id, versions.c.valid_to.is_(None)))
            .where(
                STAGED.c.content_hash.is_not(None),
                (versions.c.id.is_(None)) | (versions.c.content_hash != STAGED.c.content_hash),
            )
        ).all()

        new_rows, to_close, closed_elements, deferred = [], [], [], 0
        for row in needing_version:
            elements = json.loads(row.elements)
            if row.open_version is not None:
                if not closes_allowed:
                    deferred += 1
                    continue
                kind, changed = "changed", changed_keys(row.open_elements, elements)
                to_close.append(row.open_version)
                closed_elements.append(row.open_elements)
                summary.changed += 1
            else:  # no open version, but an earlier one: models never seen got theirs above
                kind, changed = "returned", self._changed_since_last(row.id, elements)
                summary.returned += 1
            opened_keys.update(elements.keys())
            new_rows.append(
                {
                    "model_pk": row.id,
                    "valid_from": self.observed_at,
                    "opened_by_run": self.run_id,
                    "change": kind,
                    "changed_elements": changed,
                    "content_hash": row.content_hash,
                    "elements": elements,
                    "raw": json.loads(row.raw),
                }
            )
        self._close_versions(to_close)

        if closes_allowed:
            gone = connection.execute(
                select(versions.c.id, versions.c.elements)
                .join(models, models.c.id == versions.c.model_pk)
                .where(
                    models.c.store == self.store,
                    versions.c.valid_to.is_(None),
                    ~exists().where(STAGED.c.model_id == models.c.model_id),
                )
            ).all()
            self._close_versions([row.id for row in gone])
            closed_elements += [row.elements for row in gone]
            summary.removed = len(gone)
        if new_rows:
            connection.execute(insert(versions), new_rows)
        opened = summary.added + len(new_rows)
        if opened or closed_elements:
            self._record_coverage(opened, opened_keys, closed_elements)
        return deferred

    def _add_new_models(self, summary: RunSummary, staged_model) -> Counter:
        """Open the first version of every model never seen before, in one INSERT ... SELECT from the staged
        JSON text; count them in `summary.added`. Returns how many of them show each element."""
        connection = self._connection
        any_version = versions.alias("any_version")
        first_seen = (
            select()
            .select_from(STAGED)
            .join(models, staged_model)
            .where(STAGED.c.content_hash.is_not(None), ~exists().where(any_version.c.model_pk == models.c.id))
        )
        opened_keys: Counter = Counter()
        for keys, count in connection.execute(
            first_seen.add_columns(STAGED.c.element_keys, func.count()).group_by(STAGED.c.element_keys)
        ):
            summary.added += count
            for key in json.loads(keys):
                opened_keys[key] += count
        if summary.added:
            as_json = _json_column if connection.dialect.name == "postgresql" else _json_text
            connection.execute(
                insert(versions).from_select(
                    ["model_pk", "valid_from", "opened_by_run", "change", "changed_elements", "content_hash", "elements", "raw"],
                    first_seen.add_columns(
                        models.c.id,
                        literal(self.observed_at, versions.c.valid_from.type),
                        literal(self.run_id, versions.c.opened_by_run.type),
                        literal("added", versions.c.change.type),
                        literal([], versions.c.changed_elements.type),
                        STAGED.c.content_hash,
                        as_json(STAGED.c.elements),
                        as_json(STAGED.c.raw),
                    ),
                )
            )
        return opened_keys

    def _record_coverage(self, opened: int, opened_keys: Counter, closed: list[dict[str, Any]]) -> None:
        """The store's coverage after this run: the previous row, plus the versions opened, minus those closed."""
        previous = self._connection.execute(
            select(coverage.c.models, coverage.c.elements)
            .join(runs, runs.c.id == coverage.c.run_id)
            .where(runs.c.store == self.store, runs.c.id != self.run_id)
            .order_by(runs.c.observed_at.desc(), runs.c.id.desc())
            .limit(1)
        ).first()
        models, counts = (previous.models, Counter(previous.elements)) if previous else (0, Counter())
        counts.update(opened_keys)
        for elements in closed:
            counts.subtract(elements.keys())
        self._connection.execute(
            insert(coverage).values(
                run_id=self.run_id,
                models=models + opened - len(closed),
                elements={key: count for key, count in sorted(counts.items()) if count > 0},
            )
        )

    def _close_versions(self, version_ids: list[int]) -> None:
        for start in range(0, len(version_ids), 500):
            chunk = version_ids[start : start + 500]
            self._connection.execute(
                update(versions)
                .where(versions.c.id.in_(chunk))
                .values(valid_to=self.observed_at, closed_by_run=self.run_id)
            )

    def _changed_since_last(self, model_pk: int, elements: dict[str, Any]) -> list[str]:
        last = self._connection.execute(
            select(versions.c.elements)
            .where(versions.c.model_pk == model_pk)
            .order_by(versions.c.valid_from.desc(), versions.c.id.desc())
            .limit(1)
        ).scalar_one()
        return changed_keys(last, elements)


def latest_observed_at(engine: Engine, store: str) -> datetime | None:
    """The instant of the store's latest run that recorded anything (complete or partial)."""
    with engine.connect() as connection:
        return connection.execute(
            select(func.max(runs.c.observed_at)).where(runs.c.store == store, runs.c.status.in_(("complete", "partial")))
        ).scalar()
