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
import socket
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, Text, and_, exists, func, insert, literal, select, text, update

from storage.errors import StorewatchError
from storage.models import CrawlRun, Model, ModelVersion, StoreCoverage
from storage.timeutil import isoformat, utcnow

_staging_metadata = MetaData()
STAGED = Table(
    "storewatch_staged_models",
    _staging_metadata,
    Column("model_id", String(512), primary_key=True),
    Column("content_hash", String(32)),  # null: listed, but its record could not be read
    Column("payload", Text),
    prefixes=["TEMPORARY"],
)

runs = CrawlRun.__table__
models = Model.__table__
versions = ModelVersion.__table__
coverage = StoreCoverage.__table__


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_json(elements: dict[str, Any], raw: dict[str, Any]) -> str:
    return canonical_json({"elements": elements, "raw": raw})


def content_hash(payload: str) -> str:
    """128 bits of SHA-256 over a record's canonical JSON: equal content, equal hash."""
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


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
                    host=socket.gethostname(),
                )
            ).inserted_primary_key[0]
            self._connection.execute(text(f"DROP TABLE IF EXISTS {STAGED.name}"))  # left by a crashed run
            STAGED.create(self._connection)
        return self.run_id

    def add(self, model_id: str, elements: dict[str, Any], raw: dict[str, Any]) -> None:
        """Stage one model's record as seen in this run."""
        if self._remember(model_id):
            payload = record_json(elements, raw)
            self._stage(model_id, content_hash(payload), payload)

    def add_unreadable(self, model_id: str) -> None:
        """Stage a model the listing named but whose record could not be read: present, content unknown."""
        if self._remember(model_id):
            self.unreadable += 1
            self._stage(model_id, None, None)

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

    def _stage(self, model_id: str, hash_: str | None, payload: str | None) -> None:
        self._pending.append({"model_id": model_id, "content_hash": hash_, "payload": payload})
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
        store_models = models.alias("known")
        connection.execute(
            insert(models).from_select(
                ["store", "model_id"],
                select(literal(self.store, String), STAGED.c.model_id).where(
                    STAGED.c.content_hash.is_not(None),
                    ~exists().where(and_(store_models.c.store == self.store, store_models.c.model_id == STAGED.c.model_id)),
                ),
            )
        )
        earlier = versions.alias("earlier")
        needing_version = connection.execute(
            select(
                models.c.id,
                STAGED.c.content_hash,
                STAGED.c.payload,
                versions.c.id.label("open_version"),
                versions.c.elements.label("open_elements"),
                exists().where(earlier.c.model_pk == models.c.id).label("seen_before"),
            )
            .select_from(STAGED)
            .join(models, and_(models.c.store == self.store, models.c.model_id == STAGED.c.model_id))
            .outerjoin(versions, and_(versions.c.model_pk == models.c.id, versions.c.valid_to.is_(None)))
            .where(
                STAGED.c.content_hash.is_not(None),
                (versions.c.id.is_(None)) | (versions.c.content_hash != STAGED.c.content_hash),
            )
        ).all()

        new_rows, to_close, closed_elements, deferred = [], [], [], 0
        for row in needing_version:
            record = json.loads(row.payload)
            if row.open_version is not None:
                if not closes_allowed:
                    deferred += 1
                    continue
                kind, changed = "changed", changed_keys(row.open_elements, record["elements"])
                to_close.append(row.open_version)
                closed_elements.append(row.open_elements)
                summary.changed += 1
            elif row.seen_before:
                kind, changed = "returned", self._changed_since_last(row.id, record["elements"])
                summary.returned += 1
            else:
                kind, changed = "added", []
                summary.added += 1
            new_rows.append(
                {
                    "model_pk": row.id,
                    "valid_from": self.observed_at,
                    "opened_by_run": self.run_id,
                    "change": kind,
                    "changed_elements": changed,
                    "content_hash": row.content_hash,
                    "elements": record["elements"],
                    "raw": record["raw"],
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
        if new_rows or closed_elements:
            self._record_coverage([row["elements"] for row in new_rows], closed_elements)
        return deferred

    def _record_coverage(self, opened: list[dict[str, Any]], closed: list[dict[str, Any]]) -> None:
        """The store's coverage after this run: the previous row, plus the versions opened, minus those closed."""
        previous = self._connection.execute(
            select(coverage.c.models, coverage.c.elements)
            .join(runs, runs.c.id == coverage.c.run_id)
            .where(runs.c.store == self.store, runs.c.id != self.run_id)
            .order_by(runs.c.observed_at.desc(), runs.c.id.desc())
            .limit(1)
        ).first()
        models, counts = (previous.models, Counter(previous.elements)) if previous else (0, Counter())
        for elements in opened:
            counts.update(elements.keys())
        for elements in closed:
            counts.subtract(elements.keys())
        self._connection.execute(
            insert(coverage).values(
                run_id=self.run_id,
                models=models + len(opened) - len(closed),
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
