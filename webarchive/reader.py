"""A run's WARC files, or one WARC file, as a replay snapshot directory: a WARC is a snapshot like a directory.

The directory holds SNAPSHOT.json (the store, observed_at and source) and WARC_INDEX.json: each URL's
answers (status, headers, and the WARC file and offset of the payload), which crawler/replay_server.py serves
as it serves files, reading each payload from its WARC file when asked. So everything downstream -- the
replay server, `storewatch crawl --replay`, the spiders -- is reused as it is, and no body is copied.

The API, for commands built on the archive (`storewatch crawl --replay run:N`, re-extraction):

    with run_snapshot(engine, run_id) as snapshot:   # a temporary directory, removed afterwards
        Snapshot.load(snapshot.path)                  # crawler.replay.Snapshot: what run_crawls() replays

`snapshot.observed_at` and `snapshot.source` are the run's own; `snapshot.incomplete` says why some answers
are missing (a damaged file: read up to the damage, each damage reported with its file and byte offset), and
SNAPSHOT.json carries it, so a replay of the directory records its run `partial`. A `revisit` record is
resolved through `archived_payloads`: the payload it repeats may be in an earlier run's file.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from crawler.replay_server import SNAPSHOT_FILE, WARC_INDEX_FILE
from storage.archive_index import PayloadOrigin, payload_origins, run_archive_files
from storage.errors import StorewatchError
from storage.runs import get_run
from storage.timeutil import isoformat, parse_instant
from webarchive.run_archive import INDEX_SUFFIX, RENDERED_STATUS, answer_key, header_map
from webarchive.warc_records import DamagedArchive, WarcRecord, check_members, payload_at, read_records


@dataclass
class ArchivedSnapshot:
    """A snapshot directory written from WARC records, and what is known about it."""

    path: Path
    store: str
    observed_at: datetime
    source: str
    run_id: int | None = None
    answers: int = 0  # URLs answered in the directory
    problems: list[str] = field(default_factory=list)  # damaged files (with their offsets), unresolved revisits
    crawl_settings: dict | None = None  # the archive of a crawl of several runs (a backfill): what it was asked

    @property
    def incomplete(self) -> str | None:
        """Why some recorded answers are missing from the directory; None when every record was read."""
        return "; ".join(self.problems) or None


def write_run_snapshot(engine: Engine, run_id: int, into: Path) -> ArchivedSnapshot:
    """Write run `run_id`'s archived answers into the new directory `into` (the run's observed_at and source)."""
    try:
        run = get_run(engine, run_id)
    except Exception:  # noqa: BLE001 -- NoResultFound: say it in the user's terms
        raise StorewatchError(f"no run {run_id} in this database (see `storewatch runs`)") from None
    files = run_archive_files(engine, run_id)
    if not files:
        raise StorewatchError(f"run {run_id} has no web archive (it was crawled with archiving off, or it failed)")
    snapshot = ArchivedSnapshot(into, run["store"], run["observed_at"], run["source"] or "live", run_id)
    for file in files:  # a file cut between two records reads as a whole one: its recorded size tells
        size = Path(file.path).stat().st_size if Path(file.path).is_file() else None
        if size is not None and size < file.bytes:
            snapshot.problems.append(f"{file.path}: damaged WARC file at byte {size}: shorter than recorded ({size:,} of {file.bytes:,} bytes)")
    paths = [Path(file.path) for file in files]
    snapshot.crawl_settings = crawl_settings(paths[0])
    indexed = None if snapshot.problems else indexed_answers(paths)
    if indexed is None:
        _write_snapshot(snapshot, paths, engine)
    else:
        _write_index(snapshot, indexed)
    return snapshot


def indexed_answers(files: list[Path]) -> _AnswerIndex | None:
    """The files' answers from the indexes written beside them (webarchive/run_archive.py), once every file has
    been checked whole (each gzip member decompressed, as many as its index says) and every payload they point
    at is in a file that is there; None when any of that fails, and the records themselves are read instead."""
    answers = _AnswerIndex()
    sizes: dict[str, int] = {}
    for number, path in enumerate(files):
        try:
            index = json.loads(Path(f"{path}{INDEX_SUFFIX}").read_bytes())
            if check_members(path) != index["records"]:
                return None
            for key, order, answer in index["answers"]:
                warc = answer["warc"]
                if warc not in sizes:
                    sizes[warc] = Path(warc).stat().st_size
                if answer["offset"] >= sizes[warc]:
                    return None
                answers.add(key, (number, order), answer)
        except (OSError, ValueError, KeyError, TypeError, DamagedArchive):
            return None
    return answers


def _write_index(snapshot: ArchivedSnapshot, index: _AnswerIndex) -> None:
    """The snapshot directory: its answers (WARC_INDEX.json) and what it is (SNAPSHOT.json)."""
    snapshot.path.mkdir(parents=True)
    snapshot.answers = len(index.answers)
    (snapshot.path / WARC_INDEX_FILE).write_text(json.dumps(index.in_order()))
    meta = {"store": snapshot.store, "observed_at": isoformat(snapshot.observed_at), "source": snapshot.source}
    if snapshot.incomplete:
        meta["incomplete"] = snapshot.incomplete
    (snapshot.path / SNAPSHOT_FILE).write_text(json.dumps(meta, indent=1))


def write_file_snapshot(warc: Path, into: Path, engine: Engine | None = None) -> ArchivedSnapshot:
    """Write one WARC file's answers into the new directory `into`, observed at its warcinfo's observed-at.

    Revisits of payloads in other files are resolved through `engine`'s archive index when one is given."""
    if not warc.is_file():
        raise StorewatchError(f"WARC file not found: {warc}")
    info = _warcinfo(warc)
    if "store" not in info or "observed-at" not in info:
        raise StorewatchError(f"{warc}: not a storewatch WARC file (its warcinfo record names no store and observed-at)")
    run_id = int(info["run-id"]) if info.get("run-id", "").isdigit() else None
    snapshot = ArchivedSnapshot(into, info["store"], parse_instant(info["observed-at"], end_of_day=False), info.get("source", ""), run_id)
    snapshot.crawl_settings = _settings_field(info)
    _write_snapshot(snapshot, [warc], engine)
    return snapshot


@contextmanager
def run_snapshot(engine: Engine, run_id: int) -> Iterator[ArchivedSnapshot]:
    """`write_run_snapshot` into a temporary directory `run<N>`, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="storewatch-warc-") as parent:
        yield write_run_snapshot(engine, run_id, Path(parent) / f"run{run_id}")


@contextmanager
def file_snapshot(warc: Path, engine: Engine | None = None) -> Iterator[ArchivedSnapshot]:
    """`write_file_snapshot` into a temporary directory named after the file, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="storewatch-warc-") as parent:
        yield write_file_snapshot(warc, Path(parent) / warc.name.removesuffix(".gz").removesuffix(".warc"), engine)


def crawl_settings(warc: Path) -> dict | None:
    """What the crawl that wrote `warc` was asked, when it recorded several runs (a backfill); else None."""
    try:
        return _settings_field(_warcinfo(warc))
    except (OSError, DamagedArchive):
        return None  # the damage is reported when the records are read


def _settings_field(info: dict[str, str]) -> dict | None:
    try:
        return json.loads(info["crawl-settings"]) if "crawl-settings" in info else None
    except ValueError:
        return None


def _warcinfo(warc: Path) -> dict[str, str]:
    for record in read_records(warc, limit=1):
        if record.type == "warcinfo":
            return record.fields
    return {}


def _write_snapshot(snapshot: ArchivedSnapshot, files: list[Path], engine: Engine | None) -> None:
    """Index the files' answers into the snapshot directory: no body is copied, the replay server reads each
    from its WARC file when it is asked for (writing TF Hub's 1,671 answers out as files took longer than
    crawling them: a file and folders per answer)."""
    index = _AnswerIndex()
    seen: dict[str, PayloadOrigin] = {}  # payloads read in this pass: a revisit of one needs no query
    revisits: list[tuple[tuple[int, int], WarcRecord]] = []
    for number, path in enumerate(files):
        path = path.resolve()  # the replay server may run elsewhere: payloads are named by absolute path
        try:
            for record in read_records(path):
                order = (number, record.offset)  # a URL's answers are served in the order they were received
                if record.type == "response":
                    digest = record.fields.get("WARC-Payload-Digest")
                    if digest:
                        seen.setdefault(digest, PayloadOrigin(record.uri, snapshot.observed_at, str(path), record.offset))
                    index.answer(record.uri, record.status or 200, record.http_headers, path, record.offset, order)
                elif record.type == "revisit":
                    revisits.append((order, record))
                elif record.type == "conversion":  # a rendered page's DOM
                    status = int(record.fields.get(RENDERED_STATUS) or 200)
                    index.answer(record.uri, status, [("Content-Type", "text/html; charset=utf-8")], path, record.offset, order)
        except DamagedArchive as error:
            _problem(snapshot, f"{path}:", str(error))
        except FileNotFoundError:
            _problem(snapshot, f"{path}:", f"{path}: WARC file missing")
    _resolve_revisits(snapshot, index, revisits, seen, engine)
    _write_index(snapshot, index)


def _resolve_revisits(snapshot, index, revisits: list, seen: dict[str, PayloadOrigin], engine) -> None:
    """Answer each revisit with the payload it repeats: read in this pass, else found through the archive index
    (and read once here, so that a missing or damaged earlier file is reported now, once, not as 404s mid-crawl)."""
    wanted = {record.fields.get("WARC-Payload-Digest", "") for _, record in revisits} - seen.keys()
    origins = {**(payload_origins(engine, wanted) if engine is not None and wanted else {}), **seen}
    readable: dict[tuple[str, int], bool] = {(origin.warc_file, origin.offset): True for origin in seen.values()}
    lost = 0
    for order, record in revisits:
        origin = origins.get(record.fields.get("WARC-Payload-Digest", ""))
        where = (origin.warc_file, origin.offset) if origin is not None else None
        if where is not None and where not in readable:
            readable[where] = _payload_at(origin, snapshot) is not None
        if where is None or not readable[where]:
            lost += 1
            continue
        index.answer(record.uri, record.status or 200, record.http_headers, Path(origin.warc_file), origin.offset, order)
    if lost:
        snapshot.problems.append(f"{lost} revisit record{'s' if lost != 1 else ''} refer to payloads that cannot be read from the archive")


def _payload_at(origin: PayloadOrigin, snapshot: ArchivedSnapshot) -> bytes | None:
    """The payload a revisit repeats; None (and the reason, once per damaged file) when it cannot be read."""
    try:
        return payload_at(origin.warc_file, origin.offset)
    except DamagedArchive as error:
        _problem(snapshot, f"{error.path}:", str(error))
    except FileNotFoundError:
        _problem(snapshot, f"{origin.warc_file}:", f"{origin.warc_file}: WARC file missing")
    return None


def _problem(snapshot: ArchivedSnapshot, about: str, problem: str) -> None:
    if not any(known.startswith(about) for known in snapshot.problems):
        snapshot.problems.append(problem)


class _AnswerIndex:
    """Request target -> its answers in the order received (a 429, then the page), each with where its payload lies."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[tuple[int, int], dict]]] = {}

    def add(self, key: str, order: tuple[int, int], answer: dict) -> None:
        self.answers.setdefault(key, []).append((order, answer))

    def answer(self, url: str | None, status: int, headers: list[tuple[str, str]], warc: Path, offset: int, order: tuple[int, int]) -> None:
        if url:
            self.add(answer_key(url), order, {"status": status, "headers": header_map(headers), "warc": str(warc), "offset": offset})

    def in_order(self) -> dict[str, list[dict]]:
        return {key: [entry for _, entry in sorted(answers, key=lambda pair: pair[0])] for key, answers in self.answers.items()}
