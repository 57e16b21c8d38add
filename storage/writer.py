"""The snapshot writer: the one place that applies storewatch's versioning rules.

A crawl stages every model it saw (id, content hash, record) in a temporary table; `finish` then compares
the staged set with the store's open versions in a few set-based statements, so the rows written grow with
the number of changes, not with the store's size. The rules:

- a model seen for the first time opens a version (`added`);
- a model whose content hash differs from its open version closes it and opens a new one (`changed`);
- a model with no open version but an earlier one opens a new version (`returned`);
- a model not seen closes its open version (`removed`) -- only in a `complete` run, and only once it has been
  missing from `confirm_removals` complete runs in a row (then as of the first of them);
- a `suspect`, `partial` or `failed` run closes nothing: it records additions and returns only, and leaves
  changes and removals to the next complete run (a suspect run keeps them for `storewatch accept`);
- a model the listing named but whose page could not be read counts as seen, unchanged.

Before anything is closed the run is judged against the store's history (storage/health.py), and the rules
hold under concurrency: a writer holds its store's lock from `start` to `finish` (storage/lock.py), a run
observed before the store's latest one is refused again inside the final transaction, and the database
allows one open version per model and no interval that ends before it begins.

A run that opens or closes versions also records the store's coverage after it (`store_coverage`): the
previous counts of models and of models showing each element, plus the versions it opened, minus those it
closed -- again work proportional to the changes. A run that changes nothing writes no coverage row.

A store's volatile counters (downloads, likes, stars: StoreConfig.counters) never open a version: every
recorded run (complete, suspect or partial; a failed one records nothing) writes a `model_metrics` row for each
counter that moved or is new to its model, found by one join with `latest_metrics`.

Memory stays flat whatever the store's size and the number of changes: duplicates are found through the staged
table's key, the changed models are listed into a second temporary table and read back in chunks, and coverage
is carried as counts of element keys, never as the records themselves.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Double,
    Engine,
    Integer,
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
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB

from storage.errors import StorewatchError
from storage.health import HealthPolicy, judge
from storage.json_decode import json_would_differ
from storage.lock import DatabaseLock, acquire_store_lock, this_host
from storage.models import (
    RECORDED_STATUSES,
    Absence,
    CrawlRun,
    HeldVersion,
    LatestMetric,
    Model,
    ModelMetric,
    ModelVersion,
    StoreCoverage,
    model_key,
)
from storage.runs import close_unfinished_run, recover_abandoned_runs
from storage.timeutil import isoformat, utcnow
from storage.wording import plural

# A live crawl is observed now; a snapshot a little ahead of this machine's clock (another time zone's "today")
# is fine, one from the future is a mistake that would block every later crawl of the store.
FUTURE_TOLERANCE = timedelta(days=1)

_staging_metadata = MetaData()
STAGED = Table(
    "storewatch_staged_models",
    _staging_metadata,
    Column("model_key", String(32), primary_key=True),
    Column("model_id", Text),
    Column("content_hash", String(32)),  # null: listed, but its record could not be read
    # The record as canonical JSON text, inserted into a new version as it is (no decoding, no re-encoding),
    # and its element keys (a sorted JSON list), for the coverage counts.
    Column("elements", Text),
    Column("raw", Text),
    Column("element_keys", Text),
    # The model's volatile counters as one JSON object (metric -> value): expanded into rows by the database
    # when the metrics are recorded, not one staged row per counter.
    Column("counters", Text),
    prefixes=["TEMPORARY"],
)
# A staged row: inserted through the driver as a plain tuple (SQLAlchemy's per-row parameter handling cost as
# much as the insert); a model key staged already is a duplicate, and the first one stays.
STAGED_COLUMNS = ("model_key", "model_id", "content_hash", "elements", "raw", "element_keys", "counters")
STAGE_SQL = (
    f"INSERT INTO {STAGED.name} ({', '.join(STAGED_COLUMNS)}) VALUES ({{placeholders}}) ON CONFLICT (model_key) DO NOTHING"
)
# The staged models whose content differs from their open version (or that have none), numbered so that they
# are read back in chunks: listed by one set-based statement, never held in Python all at once.
CHANGED = Table(
    "storewatch_changed_models",
    _staging_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("model_pk", Integer),
    Column("model_key", String(32)),
    Column("open_version", Integer),  # null: no open version, the model returns
    prefixes=["TEMPORARY"],
)
# The staged counters that moved (or are new to their model): found by one join, then appended to the series and
# written over the latest values from here, so neither needs an index on the series' run.
MOVED = Table(
    "storewatch_moved_metrics",
    _staging_metadata,
    Column("model_pk", Integer),
    Column("metric", String(64)),
    Column("value", Double),
    prefixes=["TEMPORARY"],
)
TEMPORARY_TABLES = (STAGED, CHANGED, MOVED)
CHANGED_CHUNK = 2000  # changed, removed or accepted models decoded and written at a time

runs = CrawlRun.__table__
models = Model.__table__
versions = ModelVersion.__table__
coverage = StoreCoverage.__table__
absences = Absence.__table__
held = HeldVersion.__table__
metrics = ModelMetric.__table__
latest_metrics = LatestMetric.__table__


# One encoder for every call: json.dumps with these options would build a new JSONEncoder each time.
_json_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode
# orjson writes the same bytes as that encoder (sorted keys, compact, UTF-8, the same string escapes) except: a
# float json writes with an exponent (json `1e-05`, orjson `0.00001` or `1e-5`), NaN and infinity (orjson: null),
# and what orjson refuses (integers beyond 64 bits, lone surrogates, keys that are not strings; datetimes and
# dataclasses, passed through to be refused, as json writes their str()). Such a record is written by json.
# (An Enum member would be written by its value, not its str(): records decoded from JSON or dumps hold none.)
_ORJSON_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def canonical_json(value: Any) -> str:
    """`value` as canonical JSON: keys sorted, no spaces, non-ASCII as it is, an unknown type as its str() --
    what json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str) writes, byte for byte
    (stored hashes depend on it: tests/test_record_hash_pins.py), through orjson when that gives the same bytes.

    A `null` sends the value to json: a normalised record has none (normalise drops None), so one can only be
    orjson's NaN or infinity -- or a None in a record that was not normalised, which json writes the same."""
    try:
        text = orjson.dumps(value, option=_ORJSON_CANONICAL)
    except orjson.JSONEncodeError:
        return _json_canonical(value)
    if b"null" in text or json_would_differ(text):  # NaN, infinity or a None; an exponent, a float below 1e-4
        return _json_canonical(value)
    return text.decode()


@lru_cache(maxsize=4096)
def element_keys_json(keys: tuple[str, ...]) -> str:
    """A record's element keys as a sorted JSON list; a store's records share a few key sets, so it is cached."""
    return canonical_json(sorted(keys))


def counters_json(counters: dict[str, int | float]) -> str | None:
    """A model's counters as one JSON object to stage (None: it shows none); a counter not shown (None) or not a
    finite number is left out (a database stores no NaN, and JSON has none)."""
    shown = {metric: value for metric, value in counters.items() if value is not None and math.isfinite(value)}
    return json.dumps(shown) if shown else None


def record_hash(elements_json: str, raw_json: str) -> str:
    """A record's content hash: 128 bits of SHA-256 over `{"elements": ..., "raw": ...}` as canonical JSON
    (equal content, equal hash), fed from the two parts' canonical JSON without joining them."""
    digest = hashlib.sha256(b'{"elements":')
    digest.update(elements_json.encode())
    digest.update(b',"raw":')
    digest.update(raw_json.encode())
    digest.update(b"}")
    return digest.hexdigest()[:32]


RAW_PREFIX_CHARS = 2000  # how much of a capped raw record is kept, as canonical JSON


def capped_raw_json(raw_json: str, max_bytes: int) -> str:
    """A record's raw part as canonical JSON; when longer than `max_bytes` (0: no limit), a note in its place:
    its size, a SHA-256 of the whole and a prefix. The same record always gives the same note, so its content
    hash changes only when the record does."""
    if not max_bytes or len(raw_json) * 4 <= max_bytes:  # UTF-8 takes at most 4 bytes a character
        return raw_json
    whole = raw_json.encode()
    if len(whole) <= max_bytes:
        return raw_json
    note = {"bytes": len(whole), "limit": max_bytes, "sha256": hashlib.sha256(whole).hexdigest(), "prefix": raw_json[:RAW_PREFIX_CHARS]}
    return canonical_json({"raw_capped": note})


def expanded_counters(dialect: str):
    """The staged models' counters as rows (key: the metric, value), expanded from each model's JSON object by the
    database itself (json_each on SQLite, jsonb_each_text on PostgreSQL); joined after its model, once per model."""
    if dialect == "postgresql":
        counter = func.jsonb_each_text(cast(STAGED.c.counters, JSONB)).table_valued("key", "value").alias("counter")
        return counter, cast(counter.c.value, Double)
    counter = func.json_each(STAGED.c.counters).table_valued("key", "value").alias("counter")
    return counter, counter.c.value


def upsert_latest_metrics(dialect: str, rows):
    """INSERT ... ON CONFLICT DO UPDATE of `rows` (model_pk, metric, value, run_id) into latest_metrics: a moved
    counter's row is updated in place. (A delete and an insert left a dead row and a new index entry per moved
    counter on PostgreSQL, a churn day's largest growth after its versions.)"""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # `WHERE true`: SQLite reads `SELECT ... ON CONFLICT` as a join's ON clause without it
    statement = dialect_insert(latest_metrics).from_select(["model_pk", "metric", "value", "run_id"], rows.where(true()))
    return statement.on_conflict_do_update(
        index_elements=[latest_metrics.c.model_pk, latest_metrics.c.metric],
        set_={"value": statement.excluded.value, "run_id": statement.excluded.run_id},
    )


def _json_column(value):
    """JSON text as a value for a JSON column, on PostgreSQL (its JSON type needs the cast)."""
    return cast(value, JSON)


def _json_text(value):
    """JSON text as a value for a JSON column, on SQLite: stored as it is (a CAST would give the text numeric
    affinity and turn it into 0)."""
    return type_coerce(value, JSON)


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Element keys whose value differs, including keys that appeared or disappeared."""
    changed = [key for key, value in old.items() if new.get(key, _MISSING) != value]
    changed += [key for key in new if key not in old]
    changed.sort()
    return changed


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
    absent: int = 0  # missing from this complete run, removal awaiting confirmation
    metrics: int = 0  # counter values recorded (moved, or new to their model)
    error_summary: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["observed_at"] = isoformat(self.observed_at)
        return data


class SnapshotWriter:
    """Records one crawl run of one store: `start`, then `add`/`add_unreadable` per model, then `finish`.

    The writer holds the store's lock from `start` to `finish`: the one it is given (a crawl that records
    several runs takes it once), or its own.
    """

    def __init__(
        self,
        engine: Engine,
        store: str,
        observed_at: datetime,
        spider_version: str,
        *,
        source: str | None = None,
        batch_size: int = 5000,
        lock: DatabaseLock | None = None,
        policy: HealthPolicy | None = None,
        max_raw_bytes: int = 0,
        lists_whole_store: bool = True,
        node: str | None = None,
        job: str | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.observed_at = observed_at
        self.spider_version = spider_version
        self.source = source
        self.batch_size = batch_size
        self.lock = lock
        self.policy = policy or HealthPolicy()
        self.max_raw_bytes = max_raw_bytes  # a larger raw record is stored as a note (capped_raw_json)
        # False for a slice of the store capped by rank (the Hub's top N by downloads): a model missing from it
        # may only have been overtaken, so the run removes nothing, complete or not.
        self.lists_whole_store = lists_whole_store
        self.node, self.job = node, job  # the Scrapyd node and job running this crawl, if one does
        self.run_id: int | None = None
        self.recovered: list[dict[str, Any]] = []  # runs of dead processes this writer closed at start
        self._own_lock = False
        self._connection = None
        self._pending: list[tuple] = []  # staged a chunk at a time (STAGED_COLUMNS)
        self._offered = 0  # models added, duplicates included: the staged table keeps the first of each id
        self.models_seen = 0
        self.unreadable = 0
        self.duplicates = 0

    # -- the run's life -------------------------------------------------------------------------------------

    def start(self) -> int:
        """Take the store's lock, settle runs left by dead processes, check the snapshot belongs after the
        store's history, and record the run as `running`."""
        check_not_future(self.store, self.observed_at)
        if self.lock is None:
            self.lock, self._own_lock = acquire_store_lock(self.engine, self.store), True
        try:
            self.recovered = recover_abandoned_runs(self.engine, store=self.store, holding_lock=True)
            check_time_order(self.engine, self.store, self.observed_at)
            self._connection = self.lock.connection or self.engine.connect()
            with self._connection.begin():
                self.run_id = self._connection.execute(
                    insert(runs).values(
                        store=self.store,
                        observed_at=self.observed_at,
                        started_at=utcnow(),
                        status="running",
                        models_seen=0, added=0, changed=0, removed=0, returned=0, errors=0, absent=0,
                        spider_version=self.spider_version,
                        source=self.source,
                        pid=os.getpid(),
                        host=this_host(),
                        node=self.node,
                        job=self.job,
                    )
                ).inserted_primary_key[0]
                for table in TEMPORARY_TABLES:
                    self._connection.execute(text(f"DROP TABLE IF EXISTS {table.name}"))  # left by a crashed run
                    table.create(self._connection)
            self.lock.note_run(self.run_id)
        except BaseException:
            self.close()
            raise
        return self.run_id

    def add(self, model_id: str, elements: dict[str, Any], raw: dict[str, Any], counters: dict[str, int | float] | None = None) -> None:
        """Stage one model's record as seen in this run (`counters`: its volatile counters, kept apart; a counter
        the store did not show is None or missing)."""
        self._pending.append(self.staged_row(model_id, elements, raw, counters))
        self._flush_when_full()

    def staged_row(self, model_id: str, elements: dict[str, Any], raw: dict[str, Any], counters: dict[str, int | float] | None = None) -> tuple:
        """The row `add` stages for a record (STAGED_COLUMNS): a caller that stages the same record in many runs
        (a git backfill: a model unchanged across hundreds of commits) encodes it once and hands it to add_staged."""
        elements_json, raw_json = canonical_json(elements), capped_raw_json(canonical_json(raw), self.max_raw_bytes)
        return (
            model_key(model_id),
            model_id,
            record_hash(elements_json, raw_json),
            elements_json,
            raw_json,
            element_keys_json(tuple(elements)),
            counters_json(counters) if counters else None,
        )

    def add_staged(self, row: tuple) -> None:
        """Stage a row staged_row built (by this writer or another with the same max_raw_bytes)."""
        self._pending.append(row)
        self._flush_when_full()

    def add_unreadable(self, model_id: str) -> None:
        """Stage a model the listing named but whose record could not be read: present, content unknown."""
        self._pending.append((model_key(model_id), model_id, None, None, None, None, None))
        self._flush_when_full()

    def finish(
        self,
        status: str,
        *,
        errors: int = 0,
        error_summary: str | None = None,
        stats: dict[str, Any] | None = None,
    ) -> RunSummary:
        """Judge the run, apply the staged models to the versioned tables in one transaction, close the run.

        `status` is the crawl's own account (`complete`, `suspect`, `partial` or `failed`); the health gate
        may lower a `complete` one. Raises StorewatchError (after recording the run `failed`) when the store's
        lock was lost; a newer run recorded meanwhile makes this one `failed` with nothing written.
        """
        if status not in ("complete", "suspect", "partial", "failed"):
            raise ValueError(f"unknown run status {status!r}")
        if self._connection is None or self.run_id is None:
            raise StorewatchError(f"{self.store}: the run was never started, so there is nothing to finish")
        try:
            self._flush()
            with self._connection.begin():
                self._count_staged()
            summary = RunSummary(self.run_id, self.store, self.observed_at, status, models_seen=self.models_seen)
            summary.errors = errors + self.duplicates
            notes = [error_summary] if error_summary else []
            if self.duplicates:
                notes.append(f"{plural(self.duplicates, 'duplicate model id')} ignored")
            with self._connection.begin():
                if not self.lock.still_held():
                    raise LostLock(f"{self.store}: this crawl lost the store's lock (its database connection or file went away); nothing was recorded")
                newer = latest_observed_at(self._connection, self.store, excluding=self.run_id)
                if newer is not None and newer > self.observed_at:
                    summary.status = "failed"
                    notes.insert(0, f"refused: a run observed at {isoformat(newer)} was recorded while this crawl ran; nothing was recorded")
                else:
                    verdict = judge(
                        status, seen=summary.models_seen, unreadable=self.unreadable, baseline=self._baseline(), policy=self.policy
                    )
                    summary.status = verdict.status
                    if verdict.reason:
                        notes.insert(0, verdict.reason)
                    notes += self._apply(summary)
                summary.error_summary = "; ".join(notes) or None
                finished = self._connection.execute(
                    update(runs)
                    .where(runs.c.id == self.run_id, runs.c.status == "running")
                    .values(
                        status=summary.status,
                        finished_at=utcnow(),
                        models_seen=summary.models_seen,
                        added=summary.added,
                        changed=summary.changed,
                        removed=summary.removed,
                        returned=summary.returned,
                        errors=summary.errors,
                        absent=summary.absent,
                        error_summary=summary.error_summary,
                        stats=stats,
                    )
                )
                if finished.rowcount != 1:
                    raise LostLock(f"{self.store}: run {self.run_id} was closed by another process while this crawl ran; nothing was recorded")
                for table in TEMPORARY_TABLES:
                    table.drop(self._connection)
        except LostLock as error:
            self.close()
            close_unfinished_run(self.engine, self.run_id, "failed", str(error))
            raise
        self.close()
        return summary

    def close(self) -> None:
        """Give back the connection and (if the writer took it) the store's lock."""
        if self._connection is not None and self._connection is not (self.lock.connection if self.lock else None):
            self._connection.close()
        self._connection = None
        if self._own_lock and self.lock is not None:
            self.lock.release()
            self.lock, self._own_lock = None, False

    # -- staging ------------------------------------------------------------------------------------------

    def _flush_when_full(self) -> None:
        if len(self._pending) >= self.batch_size:
            self._flush()

    def _flush(self) -> None:
        """Stage the pending chunk; a model already staged (by this chunk or an earlier one) is a duplicate: the
        first wins, its counters with it."""
        if not self._pending:
            return
        placeholder = "?" if self._connection.dialect.paramstyle == "qmark" else "%s"
        with self._connection.begin():
            self._connection.exec_driver_sql(STAGE_SQL.format(placeholders=", ".join([placeholder] * len(STAGED_COLUMNS))), self._pending)
        self._offered += len(self._pending)
        self._pending = []

    def _count_staged(self) -> None:
        """How many models the run saw (duplicates once), how many of them were unreadable, how many duplicates."""
        seen, readable = self._connection.execute(select(func.count(), func.count(STAGED.c.content_hash))).one()
        self.models_seen, self.unreadable, self.duplicates = seen, seen - readable, self._offered - seen

    # -- judging ------------------------------------------------------------------------------------------

    def _baseline(self) -> float | None:
        """The mean number of models the store's last `baseline_runs` complete runs listed (None: no such run)."""
        recent = (
            select(runs.c.models_seen)
            .where(runs.c.store == self.store, runs.c.status == "complete", runs.c.id != self.run_id)
            .order_by(runs.c.observed_at.desc(), runs.c.id.desc())
            .limit(max(1, self.policy.baseline_runs))
            .subquery()
        )
        mean = self._connection.execute(select(func.avg(recent.c.models_seen))).scalar()
        return None if mean is None else float(mean)  # PostgreSQL's avg() is a Decimal

    # -- applying the rules ----------------------------------------------------------------------------

    def _apply(self, summary: RunSummary) -> list[str]:
        """Apply the staged models as the run's status allows; returns notes for the run's error summary."""
        connection = self._connection
        status = summary.status
        if status == "failed":
            return []
        known = models.alias("known")
        connection.execute(
            insert(models).from_select(
                ["store", "model_id", "model_key"],
                select(literal(self.store, String), STAGED.c.model_id, STAGED.c.model_key).where(
                    STAGED.c.content_hash.is_not(None),
                    ~exists().where(and_(known.c.store == self.store, known.c.model_key == STAGED.c.model_key)),
                ),
            )
        )
        staged_model = and_(models.c.store == self.store, models.c.model_key == STAGED.c.model_key)
        # Any model this run saw is no longer missing, whatever the run's status.
        connection.execute(
            absences.delete().where(absences.c.model_pk.in_(select(models.c.id).select_from(STAGED).join(models, staged_model)))
        )
        summary.metrics = self._record_metrics()
        opened_keys = self._add_new_models(summary, staged_model)
        self._list_changed(staged_model)

        closed, closed_keys, held_changes, deferred = 0, Counter(), 0, 0
        for chunk in self._changed_chunks():
            new_rows, to_close, to_hold = [], [], []
            for row in chunk:
                if row.open_version is not None and status != "complete":
                    deferred += 1
                    if status == "suspect":  # kept for `storewatch accept`; a partial run's wait for the next run
                        to_hold.append(
                            {"run_id": self.run_id, "model_pk": row.model_pk, "content_hash": row.content_hash, "elements": json.loads(row.elements), "raw": json.loads(row.raw)}
                        )
                    continue
                elements = json.loads(row.elements)
                if row.open_version is not None:
                    kind, changed = "changed", changed_keys(row.open_elements, elements)
                    to_close.append(row.open_version)
                    closed += 1
                    closed_keys.update(row.open_elements.keys())
                    summary.changed += 1
                else:  # no open version, but an earlier one: models never seen got theirs above
                    kind, changed = "returned", self._changed_since_last(row.model_pk, elements)
                    summary.returned += 1
                opened_keys.update(elements.keys())
                new_rows.append(self._version_row(row.model_pk, kind, changed, row.content_hash, elements, json.loads(row.raw)))
            self._close_versions(to_close, at=self.observed_at, by_run=self.run_id)
            if new_rows:
                connection.execute(insert(versions), new_rows)
            if to_hold:
                connection.execute(insert(held), to_hold)
                held_changes += len(to_hold)

        notes = []
        if not self.lists_whole_store:
            notes.append("a capped listing (the top models only): nothing removed")
        if status == "complete" and self.lists_whole_store:
            removed, removed_keys = self._remove_missing(summary)
            closed += removed
            closed_keys += removed_keys
        elif status == "suspect":
            held_removals = self._hold_missing() if self.lists_whole_store else 0
            if held_changes or held_removals:
                notes.append(
                    f"held for `storewatch accept {self.run_id}`: {plural(held_removals, 'missing model')} and {plural(held_changes, 'changed model')}"
                )
        elif deferred:
            notes.append(f"{plural(deferred, 'changed model')} left for the next complete run")
        opened = summary.added + summary.changed + summary.returned
        if opened or closed:
            self._record_coverage(opened, opened_keys, closed, closed_keys)
        return notes

    def _record_metrics(self) -> int:
        """Record the staged counters that moved, or that their model never showed before, and make them the
        models' latest values; returns how many were recorded."""
        connection = self._connection
        counter, value = expanded_counters(connection.dialect.name)
        latest = and_(latest_metrics.c.model_pk == models.c.id, latest_metrics.c.metric == counter.c.key)
        moved = (
            select(models.c.id, counter.c.key, value)
            .select_from(STAGED)
            .join(models, and_(models.c.store == self.store, models.c.model_key == STAGED.c.model_key))
            .join(counter, true())
            .outerjoin(latest_metrics, latest)
            .where(STAGED.c.counters.is_not(None), latest_metrics.c.value.is_(None) | (latest_metrics.c.value != value))
        )
        connection.execute(insert(MOVED).from_select(["model_pk", "metric", "value"], moved))
        # Counted, not taken from the INSERT's rowcount: PostgreSQL's driver gives none for INSERT ... SELECT.
        recorded = connection.execute(select(func.count()).select_from(MOVED)).scalar_one()
        if recorded:
            this_run = select(MOVED.c.model_pk, MOVED.c.metric, MOVED.c.value, literal(self.run_id, Integer))
            connection.execute(insert(metrics).from_select(["model_pk", "metric", "value", "run_id"], this_run))
            connection.execute(upsert_latest_metrics(connection.dialect.name, this_run))
        return recorded

    def _list_changed(self, staged_model) -> None:
        """List the staged models whose content differs from their open version, or that have none (returns),
        into CHANGED: one set-based statement, whatever the number."""
        self._connection.execute(
            insert(CHANGED).from_select(
                ["model_pk", "model_key", "open_version"],
                select(models.c.id, STAGED.c.model_key, versions.c.id)
                .select_from(STAGED)
                .join(models, staged_model)
                .outerjoin(versions, and_(versions.c.model_pk == models.c.id, versions.c.valid_to.is_(None)))
                .where(
                    STAGED.c.content_hash.is_not(None),
                    (versions.c.id.is_(None)) | (versions.c.content_hash != STAGED.c.content_hash),
                )
                .order_by(models.c.id),
            )
        )

    def _changed_chunks(self) -> Iterator[list]:
        """The changed models with their new record and open version, CHANGED_CHUNK at a time."""
        return keyset_chunks(
            self._connection,
            select(
                CHANGED.c.seq,
                CHANGED.c.model_pk,
                CHANGED.c.open_version,
                STAGED.c.content_hash,
                STAGED.c.elements,
                STAGED.c.raw,
                versions.c.elements.label("open_elements"),
            )
            .select_from(CHANGED)
            .join(STAGED, STAGED.c.model_key == CHANGED.c.model_key)
            .outerjoin(versions, versions.c.id == CHANGED.c.open_version),
            CHANGED.c.seq,
        )

    def _version_row(self, model_pk: int, kind: str, changed: list[str], content_hash: str, elements: dict, raw: dict) -> dict[str, Any]:
        return {
            "model_pk": model_pk,
            "valid_from": self.observed_at,
            "opened_by_run": self.run_id,
            "change": kind,
            "changed_elements": changed,
            "content_hash": content_hash,
            "elements": elements,
            "raw": raw,
        }

    def _missing(self):
        """The store's open versions whose model this run did not list."""
        return (
            select(versions.c.id, versions.c.model_pk, versions.c.elements)
            .join(models, models.c.id == versions.c.model_pk)
            .where(models.c.store == self.store, versions.c.valid_to.is_(None), ~exists().where(STAGED.c.model_key == models.c.model_key))
        )

    def _remove_missing(self, summary: RunSummary) -> tuple[int, Counter]:
        """Close the versions of models missing from this complete run -- at once, or once they have been missing
        from `confirm_removals` complete runs in a row (as of the first). Returns how many versions were closed
        as of this run and how many of them showed each element (those closed as of an earlier run are
        accounted to that run). The health gate bounds how many a complete run can remove."""
        connection, needed = self._connection, max(1, self.policy.confirm_removals)
        missing = self._missing().subquery()
        connection.execute(update(absences).where(absences.c.model_pk.in_(select(missing.c.model_pk))).values(runs=absences.c.runs + 1))
        connection.execute(
            insert(absences).from_select(
                ["model_pk", "first_absent_run", "runs"],
                select(missing.c.model_pk, literal(self.run_id, Integer), literal(1, Integer)).where(
                    ~exists().where(absences.c.model_pk == missing.c.model_pk)
                ),
            )
        )
        store_absences = absences.join(models, models.c.id == absences.c.model_pk)
        confirmed = (
            select(absences.c.model_pk, versions.c.id, versions.c.elements, absences.c.first_absent_run.label("first_run"), runs.c.observed_at.label("first_at"))
            .select_from(store_absences.join(runs, runs.c.id == absences.c.first_absent_run))
            .join(versions, and_(versions.c.model_pk == absences.c.model_pk, versions.c.valid_to.is_(None)))
            .where(models.c.store == self.store, absences.c.runs >= needed)
        )
        closed_now, closed_keys = 0, Counter()
        for chunk in keyset_chunks(connection, confirmed, absences.c.model_pk):  # a confirmed drop can be most of a store
            closed, keys = self._close_removed(chunk, summary)
            closed_now, closed_keys = closed_now + closed, closed_keys + keys
        summary.absent = connection.execute(select(func.count()).select_from(store_absences).where(models.c.store == self.store)).scalar_one()
        return closed_now, closed_keys

    def _close_removed(self, removed, summary: RunSummary) -> tuple[int, Counter]:
        """Close the versions of removed models, each as of the run it was first missing from (`first_run`,
        `first_at`); a removal dated at an earlier run is counted there and taken out of the coverage recorded
        since. Returns how many were closed as of this run, and how many of them showed each element."""
        closed_now, closed_keys = 0, Counter()
        by_first_run: dict[tuple[int, datetime], list] = {}
        for row in removed:
            by_first_run.setdefault((row.first_run, row.first_at), []).append(row)
        for (first_run, first_at), rows in by_first_run.items():
            self._close_versions([row.id for row in rows], at=first_at, by_run=first_run)
            keys = element_key_counts(row.elements for row in rows)
            if first_run == self.run_id:
                summary.removed += len(rows)
                closed_now += len(rows)
                closed_keys += keys
            else:
                self._connection.execute(update(runs).where(runs.c.id == first_run).values(removed=runs.c.removed + len(rows)))
                self._backdate_coverage(first_run, first_at, len(rows), keys)
        pks = [row.model_pk for row in removed]
        for start in range(0, len(pks), 500):
            self._connection.execute(absences.delete().where(absences.c.model_pk.in_(pks[start : start + 500])))
        return closed_now, closed_keys

    def accept(self, run: dict[str, Any]) -> RunSummary:
        """Apply what suspect run `run` held, as of that run (see `accept_run`)."""
        self.run_id = run["id"]
        self._connection = self.lock.connection or self.engine.connect()
        summary = RunSummary(
            self.run_id, self.store, self.observed_at, "complete", models_seen=run["models_seen"], added=run["added"],
            returned=run["returned"], errors=run["errors"],
        )
        first_absence = (
            select(absences.c.model_pk, absences.c.first_absent_run, runs.c.observed_at)
            .join(runs, runs.c.id == absences.c.first_absent_run)
            .subquery()
        )
        held_rows = (
            select(
                held.c.model_pk, held.c.content_hash, held.c.elements.label("new_elements"), held.c.raw,
                versions.c.id, versions.c.elements, versions.c.content_hash.label("open_hash"),
                func.coalesce(first_absence.c.first_absent_run, self.run_id).label("first_run"),
                func.coalesce(first_absence.c.observed_at, literal(self.observed_at, runs.c.observed_at.type)).label("first_at"),
            )
            .join(versions, and_(versions.c.model_pk == held.c.model_pk, versions.c.valid_to.is_(None)))
            .outerjoin(first_absence, first_absence.c.model_pk == held.c.model_pk)
            .where(held.c.run_id == self.run_id)
        )
        try:
            with self._connection.begin():
                closed, opened_keys, closed_keys = 0, Counter(), Counter()
                # a suspect run can hold most of a store: its held rows are applied a chunk at a time
                for rows in keyset_chunks(self._connection, held_rows, held.c.model_pk):
                    changed = [row for row in rows if row.content_hash is not None and row.content_hash != row.open_hash]
                    self._close_versions([row.id for row in changed], at=self.observed_at, by_run=self.run_id)
                    removed, removed_keys = self._close_removed([row for row in rows if row.content_hash is None], summary)
                    closed += len(changed) + removed
                    closed_keys += element_key_counts(row.elements for row in changed) + removed_keys
                    opened_keys += element_key_counts(row.new_elements for row in changed)
                    if changed:
                        self._connection.execute(
                            insert(versions),
                            [self._version_row(row.model_pk, "changed", changed_keys(row.elements, row.new_elements), row.content_hash, row.new_elements, row.raw) for row in changed],
                        )
                    summary.changed += len(changed)
                if summary.changed or closed:
                    self._record_coverage(summary.changed, opened_keys, closed, closed_keys)
                self._connection.execute(held.delete().where(held.c.run_id == self.run_id))
                summary.error_summary = f"accepted {isoformat(utcnow())}; " + (run["error_summary"] or "")
                self._connection.execute(
                    update(runs)
                    .where(runs.c.id == self.run_id, runs.c.status == "suspect")
                    .values(status="complete", changed=summary.changed, removed=runs.c.removed + summary.removed, error_summary=summary.error_summary)
                )
        finally:
            self.close()
        return summary

    def _hold_missing(self) -> int:
        """Keep a suspect run's missing models for `storewatch accept` (its changes are held as they are read);
        returns how many were missing."""
        connection = self._connection
        missing = self._missing().subquery()
        connection.execute(insert(held).from_select(["run_id", "model_pk"], select(literal(self.run_id, Integer), missing.c.model_pk)))
        return connection.execute(select(func.count()).where(held.c.run_id == self.run_id, held.c.content_hash.is_(None))).scalar_one()

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

    def _record_coverage(self, opened: int, opened_keys: Counter, closed: int, closed_keys: Counter) -> None:
        """The store's coverage after this run: its row so far (or the previous run's), plus the versions
        opened, minus those closed."""
        own = self._connection.execute(select(coverage.c.models, coverage.c.elements).where(coverage.c.run_id == self.run_id)).first()
        previous = own or self._connection.execute(
            select(coverage.c.models, coverage.c.elements)
            .join(runs, runs.c.id == coverage.c.run_id)
            .where(runs.c.store == self.store, runs.c.id != self.run_id)
            .order_by(runs.c.observed_at.desc(), runs.c.id.desc())
            .limit(1)
        ).first()
        models_count, counts = (previous.models, Counter(previous.elements)) if previous else (0, Counter())
        counts.update(opened_keys)
        counts.subtract(closed_keys)
        values = {
            "models": models_count + opened - closed,
            "elements": {key: count for key, count in sorted(counts.items()) if count > 0},
        }
        if own:
            self._connection.execute(update(coverage).where(coverage.c.run_id == self.run_id).values(**values))
        else:
            self._connection.execute(insert(coverage).values(run_id=self.run_id, **values))

    def _backdate_coverage(self, first_run: int, first_at: datetime, closed: int, closed_keys: Counter) -> None:
        """Removals confirmed now but dated at run `first_run`: subtract them from the coverage the store
        recorded from that run on (giving that run a row if it had none)."""
        store_rows = select(coverage.c.run_id, coverage.c.models, coverage.c.elements, runs.c.observed_at).join(runs, runs.c.id == coverage.c.run_id).where(
            runs.c.store == self.store, runs.c.id != self.run_id
        )
        at_or_after = (runs.c.observed_at > first_at) | and_(runs.c.observed_at == first_at, runs.c.id >= first_run)
        later = self._connection.execute(store_rows.where(at_or_after)).all()
        if first_run not in {row.run_id for row in later}:
            before = self._connection.execute(store_rows.where(~at_or_after).order_by(runs.c.observed_at.desc(), runs.c.id.desc()).limit(1)).first()
            self._connection.execute(
                insert(coverage).values(run_id=first_run, models=before.models if before else 0, elements=dict(before.elements) if before else {})
            )
            later = self._connection.execute(store_rows.where(at_or_after)).all()
        for row in later:
            counts = Counter(row.elements)
            counts.subtract(closed_keys)
            self._connection.execute(
                update(coverage)
                .where(coverage.c.run_id == row.run_id)
                .values(models=row.models - closed, elements={key: n for key, n in sorted(counts.items()) if n > 0})
            )

    def _close_versions(self, version_ids: list[int], *, at: datetime, by_run: int) -> None:
        for start in range(0, len(version_ids), 500):
            chunk = version_ids[start : start + 500]
            self._connection.execute(update(versions).where(versions.c.id.in_(chunk)).values(valid_to=at, closed_by_run=by_run))

    def _changed_since_last(self, model_pk: int, elements: dict[str, Any]) -> list[str]:
        last = self._connection.execute(
            select(versions.c.elements)
            .where(versions.c.model_pk == model_pk)
            .order_by(versions.c.valid_from.desc(), versions.c.id.desc())
            .limit(1)
        ).scalar_one()
        return changed_keys(last, elements)


def keyset_chunks(connection: Connection, query, key) -> Iterator[list]:
    """`query`'s rows in the order of `key` (a column unique among them, selected by `query` under its own name),
    CHANGED_CHUNK at a time: each chunk starts after the last key of the one before, so rows the caller updates
    or deletes as it goes are neither skipped nor read twice, and never all are held at once."""
    last = None
    while True:
        page = query if last is None else query.where(key > last)
        chunk = connection.execute(page.order_by(key).limit(CHANGED_CHUNK)).all()
        if not chunk:
            return
        yield chunk
        last = chunk[-1]._mapping[key.name]


def element_key_counts(records) -> Counter:
    """How many of `records` (element dicts) show each element key."""
    counts: Counter = Counter()
    for elements in records:
        counts.update(elements.keys())
    return counts


class LostLock(StorewatchError):
    """The writer can no longer prove it is the store's only writer: it records nothing."""


def latest_observed_at(bind: Engine | Connection, store: str, *, excluding: int | None = None) -> datetime | None:
    """The instant of the store's latest run that recorded anything (complete, suspect or partial)."""
    query = select(func.max(runs.c.observed_at)).where(runs.c.store == store, runs.c.status.in_(RECORDED_STATUSES))
    if excluding is not None:
        query = query.where(runs.c.id != excluding)
    if isinstance(bind, Connection):
        return bind.execute(query).scalar()
    with bind.connect() as connection:
        return connection.execute(query).scalar()


def check_not_future(store: str, observed_at: datetime) -> None:
    """Refuse a run observed more than a day from now: recorded, it would block every later crawl of the store."""
    if observed_at > utcnow() + FUTURE_TOLERANCE:
        raise StorewatchError(
            f"{store}: observed at {isoformat(observed_at)}, more than a day in the future; "
            f"check the snapshot's SNAPSHOT.json and this machine's clock"
        )


def check_time_order(engine: Engine, store: str, observed_at: datetime, what: str = "snapshot") -> None:
    """Refuse a snapshot (`what`, as named in the message) observed before the store's latest recorded run:
    history is appended in time order."""
    latest = latest_observed_at(engine, store)
    if latest is not None and observed_at < latest:
        raise StorewatchError(
            f"{store}: {what} observed at {isoformat(observed_at)} is older than the latest run "
            f"({isoformat(latest)}); storewatch appends history in time order, so replay older snapshots "
            f"into a new database"
        )


def accept_run(engine: Engine, run_id: int) -> RunSummary:
    """A person checked a `suspect` run and found the drop real: apply the changes and removals it held.

    Only the store's latest recorded run can be accepted (history is appended in time order). Removals apply
    as of the run (or of an earlier complete run the model was already missing from).
    """
    with engine.connect() as connection:
        run = connection.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
    if run is None:
        raise StorewatchError(f"no run {run_id} in the database (see `storewatch runs --status suspect`)")
    if run["status"] != "suspect":
        raise StorewatchError(f"run {run_id} is {run['status']}, not suspect: only a suspect run holds changes to accept")
    lock = acquire_store_lock(engine, run["store"])
    try:
        with engine.connect() as connection:
            later = connection.execute(
                select(func.min(runs.c.id)).where(
                    runs.c.store == run["store"],
                    runs.c.id != run_id,
                    runs.c.status.in_(RECORDED_STATUSES),
                    (runs.c.observed_at > run["observed_at"]) | and_(runs.c.observed_at == run["observed_at"], runs.c.id > run_id),
                )
            ).scalar()
        if later is not None:
            raise StorewatchError(
                f"run {run_id} is not {run['store']}'s latest run (run {later} came after it): only the latest can be "
                f"accepted; a later complete run has already settled what run {run_id} held"
            )
        writer = SnapshotWriter(engine, run["store"], run["observed_at"], run["spider_version"], lock=lock)
        return writer.accept(dict(run))
    finally:
        lock.release()
