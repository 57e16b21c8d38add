"""The web archive: every crawl's responses in WARC files a third-party reader opens, deduplicated across runs,
replayed back (`--replay run:N`, `--replay FILE.warc.gz`), and damaged files read up to the damage."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from conftest import ROOT, cli_json, run_cli, snapshot_dir
from crawler.replay_server import ReplayHandler, local_path
from crawler.runner import spider_class
from spiders.pytorch_hub import PytorchHubSpider
from storage.db import open_database
from storage.models import ArchivedPayload, ArchiveFile, CrawlRun

FIRST, SECOND = snapshot_dir("pytorch_hub", "2019-06-30"), snapshot_dir("pytorch_hub", "2019-09-30")


def crawl(db: str, archive: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_cli("crawl", "pytorch_hub", *args, db=db, check=check, env={"STOREWATCH_ARCHIVE_DIR": str(archive)})


def warc_files(archive: Path, run_id: int) -> list[Path]:
    return sorted((archive / "pytorch_hub").glob(f"pytorch_hub-run{run_id}-*.warc.gz"))


def records(path: Path) -> list:
    """(type, WARC headers, HTTP status, body) of every record, read by warcio's own iterator."""
    with open(path, "rb") as file:
        return [
            (record.rec_type, dict(record.rec_headers.headers), record.http_headers.get_statuscode() if record.http_headers else None, record.content_stream().read())
            for record in ArchiveIterator(file)
        ]


def run_row(db: str, run_id: int) -> CrawlRun:
    engine = open_database(db)
    try:
        with engine.connect() as connection:
            return connection.execute(select(CrawlRun).where(CrawlRun.id == run_id)).one()
    finally:
        engine.dispose()


def index_rows(db: str, model) -> list:
    engine = open_database(db)
    try:
        with engine.connect() as connection:
            return connection.execute(select(model)).all()
    finally:
        engine.dispose()


def test_a_crawl_archives_every_response_as_received_with_the_live_url(db_url, tmp_path):
    archive = tmp_path / "archive"
    crawl(db_url, archive, "--replay", str(FIRST))
    [warc] = warc_files(archive, 1)
    found = records(warc)
    kinds = Counter(kind for kind, *_ in found)
    stats = run_row(db_url, 1).stats
    assert found[0][0] == "warcinfo" and kinds["response"] == kinds["request"] == stats["downloader/response_count"] > 20
    info = dict(line.split(": ", 1) for line in found[0][3].decode().splitlines() if ": " in line)
    assert (info["store"], info["run-id"], info["observed-at"]) == ("pytorch_hub", "1", "2019-06-30T00:00:00Z")
    assert info["spider-version"] == f"pytorch_hub/{PytorchHubSpider.version}" and info["source"] == run_row(db_url, 1).source
    responses = [(headers, status, body) for kind, headers, status, body in found if kind == "response"]
    uris = [headers["WARC-Target-URI"] for headers, _, _ in responses]
    assert len(set(uris)) == len(uris) and all(uri.startswith("https://") and "127.0.0.1" not in uri for uri in uris)
    for headers, status, body in responses:  # each body is the recorded file the live URL is replayed from
        target = headers["WARC-Target-URI"].removeprefix("https:/")
        assert (status, body) == ("200", local_path(FIRST.resolve(), target).read_bytes()), target
    [row] = index_rows(db_url, ArchiveFile)
    assert (Path(row.path), row.run_id, row.records, row.bytes) == (warc, 1, len(found), warc.stat().st_size)


def test_an_unchanged_second_crawl_writes_revisits_only_and_is_far_smaller(db_url, tmp_path):
    archive = tmp_path / "archive"
    crawl(db_url, archive, "--replay", str(FIRST), "--replay", str(FIRST))
    [first], [second] = warc_files(archive, 1), warc_files(archive, 2)
    originals = {headers["WARC-Target-URI"]: headers for kind, headers, _, _ in records(first) if kind == "response"}
    kinds = [kind for kind, *_ in records(second)]
    assert kinds[0] == "warcinfo" and set(kinds[1:]) == {"revisit"}, Counter(kinds)
    again = [(kind, headers) for kind, headers, _, _ in records(second)[1:]]
    assert len(again) == len(originals)
    for _, headers in again:
        original = originals[headers["WARC-Target-URI"]]
        assert headers["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
        assert (headers["WARC-Refers-To-Target-URI"], headers["WARC-Refers-To-Date"], headers["WARC-Payload-Digest"]) == (
            original["WARC-Target-URI"], original["WARC-Date"], original["WARC-Payload-Digest"]
        )
    assert second.stat().st_size < first.stat().st_size / 3
    payloads = index_rows(db_url, ArchivedPayload)
    assert len(payloads) == len({headers["WARC-Payload-Digest"] for headers in originals.values()})
    assert {row.run_id for row in payloads} == {1} and {row.warc_file for row in payloads} == {str(first)}


def test_replaying_an_archived_run_records_it_again_unchanged(db_url, tmp_path):
    archive = tmp_path / "archive"
    crawl(db_url, archive, "--replay", str(FIRST), "--replay", str(SECOND))
    assert Counter(kind for kind, *_ in records(warc_files(archive, 2)[0]))["revisit"] > 0  # run:2 needs run 1's file
    result = crawl(db_url, archive, "--replay", "run:2")
    assert "2019-09-30  complete    24 seen  +0 added  ~0 changed  -0 removed  ^0 returned  0 errors" in result.stdout
    assert run_row(db_url, 3).observed_at == run_row(db_url, 2).observed_at
    diff = cli_json("diff", "pytorch_hub", "--from", "run:2", "--to", "run:3", db=db_url)
    assert [diff[key] for key in ("added", "removed", "returned", "changed")] == [[], [], [], []]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_archived_runs_rebuild_the_same_history_in_another_database(db_url, tmp_path):
    """The API re-extraction builds on: each run's archive as a snapshot directory, replayed into a new database."""
    from webarchive.reader import run_snapshot

    archive = tmp_path / "archive"
    crawl(db_url, archive, "--replay", str(FIRST), "--replay", str(SECOND))
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    engine = open_database(db_url)
    with run_snapshot(engine, 1) as one, run_snapshot(engine, 2) as two:
        assert (one.incomplete, two.incomplete, one.observed_at, two.source) == (None, None, run_row(db_url, 1).observed_at, run_row(db_url, 2).source)
        crawl(rebuilt, archive, "--no-archive", "--replay", str(one.path), "--replay", str(two.path))
    engine.dispose()
    for day in ("2019-07-01", "2019-10-01"):
        assert cli_json("models", "pytorch_hub", "--as-of", day, db=rebuilt) == cli_json("models", "pytorch_hub", "--as-of", day, db=db_url)
    diffs = [cli_json("diff", "pytorch_hub", "--from", "2019-07-01", "--to", "2019-10-01", db=db) for db in (db_url, rebuilt)]
    assert diffs[0] == diffs[1] and len(diffs[0]["changed"]) == 3


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_a_damaged_warc_file_gives_one_error_line_with_its_offset_and_a_partial_run(tmp_path, damage):
    archive = tmp_path / "archive"
    crawl(f"sqlite:///{tmp_path / 'a.db'}", archive, "--replay", str(FIRST))
    [warc] = warc_files(archive, 1)
    with open(warc, "rb") as file:
        iterator = ArchiveIterator(file)
        offsets = [iterator.get_record_offset() for _ in iterator]
    data, broken_record = warc.read_bytes(), offsets[len(offsets) // 2]
    damaged = tmp_path / "damaged.warc.gz"
    if damage == "truncated":
        damaged.write_bytes(data[: broken_record + 40])
    else:
        damaged.write_bytes(data[: broken_record + 30] + b"\0" * 20 + data[broken_record + 50 :])
    result = crawl(f"sqlite:///{tmp_path / 'b.db'}", archive, "--no-archive", "--replay", str(damaged), check=False)
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"error: {damaged}: damaged WARC file at byte {broken_record}:"), result.stderr
    assert "Traceback" not in result.stderr and result.returncode == 1
    run = run_row(f"sqlite:///{tmp_path / 'b.db'}", 1)
    assert run.status == "partial" and f"at byte {broken_record}" in run.error_summary
    assert 0 < run.added < run.models_seen == 23 and run.errors == 23 - run.added and run.removed == 0  # what was read is recorded


@pytest.mark.parametrize("how", ["--no-archive", "STOREWATCH_ARCHIVE=off", "[archive] enabled = false"])
def test_archiving_turned_off_writes_nothing(tmp_path, how):
    db, archive = f"sqlite:///{tmp_path / 'sw.db'}", tmp_path / "archive"
    (tmp_path / "storewatch.toml").write_text("[stores.pytorch_hub]\n" + ("[archive]\nenabled = false\n" if how.startswith("[") else ""))
    env = {"STOREWATCH_ARCHIVE_DIR": str(archive), **({"STOREWATCH_ARCHIVE": "off"} if how.startswith("STOREWATCH") else {})}
    options = ["--no-archive"] if how == "--no-archive" else []
    run_cli("crawl", "pytorch_hub", "--replay", str(FIRST), *options, "--config", str(tmp_path / "storewatch.toml"), db=db, env=env)
    assert run_row(db, 1).status == "complete"
    assert not archive.exists() and index_rows(db, ArchiveFile) == [] and index_rows(db, ArchivedPayload) == []


def test_the_archive_goes_beside_the_sqlite_database_by_default(tmp_path):
    db = f"sqlite:///{tmp_path / 'here' / 'sw.db'}"
    run_cli("crawl", "pytorch_hub", "--replay", str(FIRST), db=db, env={"STOREWATCH_ARCHIVE_DIR": ""})
    assert len(list((tmp_path / "here" / "archive" / "pytorch_hub").glob("pytorch_hub-run1-*.warc.gz"))) == 1


def test_the_config_file_can_put_the_archive_elsewhere(tmp_path):
    (tmp_path / "storewatch.toml").write_text('[stores.pytorch_hub]\n[archive]\ndir = "warcs"\n')
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    run_cli("crawl", "pytorch_hub", "--replay", str(FIRST), "--config", str(tmp_path / "storewatch.toml"), db=db, env={"STOREWATCH_ARCHIVE_DIR": ""})
    assert len(list((tmp_path / "warcs" / "pytorch_hub").glob("pytorch_hub-run1-*.warc.gz"))) == 1  # relative to the file
    assert not (tmp_path / "archive").exists()


# Runs `storewatch` with the archive's files failing as a full disk does after LIMIT bytes, writing BATCH exchanges at a time.
FULL_DISK = """
import errno, io, sys
import webarchive.run_archive as archive

LIMIT = int(sys.argv[1])
archive.BATCH_EXCHANGES = int(sys.argv[2])  # small: the disk fills mid-crawl; large: when the run's archive is closed

class FullDisk(io.FileIO):
    def write(self, data):
        if self.tell() + len(data) > LIMIT:
            raise OSError(errno.ENOSPC, "No space left on device", self.name)
        return super().write(data)

archive.open = lambda path, mode: FullDisk(path, mode.replace("b", ""))
from crawler.cli.app import main
sys.argv = ["storewatch", *sys.argv[3:]]
main()
"""


@pytest.mark.parametrize("batch", [5, 200])
def test_a_full_disk_fails_the_run_and_records_no_archive(tmp_path, batch):
    db, archive = f"sqlite:///{tmp_path / 'sw.db'}", tmp_path / "archive"
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, "20000", str(batch), "crawl", "pytorch_hub", "--replay", str(FIRST), "--db", db],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "STOREWATCH_ARCHIVE_DIR": str(archive)}, timeout=300,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    run = run_row(db, 1)
    assert run.status == "failed" and "writing the web archive failed" in run.error_summary and "No space left on device" in run.error_summary
    assert cli_json("models", "pytorch_hub", "--as-of", "2019-07-01", db=db) == []
    assert index_rows(db, ArchiveFile) == [] and index_rows(db, ArchivedPayload) == []
    assert list(archive.rglob("*.warc.gz")) == []  # the half-written file is not left as if whole


def test_the_demo_leaves_warc_files_with_a_record_for_every_url_its_runs_fetched(demo):
    folder, _ = demo
    engine = open_database(f"sqlite:///{folder / 'data' / 'storewatch.db'}")
    with engine.connect() as connection:
        runs = connection.execute(select(CrawlRun.id, CrawlRun.store, CrawlRun.stats).where(CrawlRun.status != "failed")).all()
        files = connection.execute(select(ArchiveFile.run_id, ArchiveFile.path)).all()
    engine.dispose()
    by_run = {run_id: [path for other, path in files if other == run_id] for run_id, _, _ in runs}
    for run_id, store, stats in runs:
        if spider_class(store).store_config.crawled_via == "archive":  # one crawl records a run per capture day: not archived
            continue
        assert by_run[run_id], (run_id, store)
        answered = Counter()
        for path in by_run[run_id]:
            assert Path(path).is_relative_to(folder / "data" / "archive" / store)
            answered.update(kind for kind, *_ in records(Path(path)))
        assert answered["response"] + answered["revisit"] + answered["conversion"] == stats["downloader/response_count"], (run_id, store)


def test_a_stores_token_is_never_archived():
    from scrapy.http import Request, TextResponse

    from webarchive.middleware import exchange_of

    request = Request("https://api.github.com/repos/pytorch/hub", headers={"Authorization": "Bearer ghp_secret", "Accept": "application/json"})
    response = TextResponse(request.url, body=b"{}", headers={"Content-Type": "application/json"}, request=request)
    exchange = exchange_of(request, response)
    assert exchange.request_headers == [("Accept", "application/json")]
    assert (exchange.url, exchange.status, exchange.body) == ("https://api.github.com/repos/pytorch/hub", 200, b"{}")


def test_a_run_past_the_rotation_size_goes_on_in_new_files_that_read_back_whole(tmp_path):
    from storage.writer import SnapshotWriter
    from webarchive.reader import write_run_snapshot
    from webarchive.run_archive import Exchange, RunArchive, RunInfo

    engine = open_database(f"sqlite:///{tmp_path / 'sw.db'}")
    observed_at = datetime(2019, 6, 30, tzinfo=timezone.utc)
    writer = SnapshotWriter(engine, "pytorch_hub", observed_at, "pytorch_hub/1")
    run_id = writer.start()
    pages = {path: path.read_bytes() for path in FIRST.rglob("*") if path.is_file() and path.name != "SNAPSHOT.json"}
    archive = RunArchive(engine, tmp_path / "archive", RunInfo("pytorch_hub", run_id, "pytorch_hub/1", observed_at, "test"), rotate_bytes=20_000)
    for path, body in pages.items():
        archive.add(Exchange(f"https://{path.relative_to(FIRST).as_posix()}", "GET", [], b"", 200, "OK", [("Content-Type", "text/plain")], body))
    files = archive.close()
    writer.finish("failed")
    assert len(files) >= 3 and [row.path for row in sorted(index_rows(f"sqlite:///{tmp_path / 'sw.db'}", ArchiveFile), key=lambda row: row.number)] == [file.path for file in files]
    for file in files:
        kinds = [kind for kind, *_ in records(Path(file.path))]
        assert kinds[0] == "warcinfo" and kinds.count("warcinfo") == 1 and file.records == len(kinds) and file.bytes == Path(file.path).stat().st_size
    snapshot = write_run_snapshot(engine, run_id, tmp_path / "snapshot")
    engine.dispose()
    assert snapshot.incomplete is None and snapshot.answers == len(pages)
    served = ReplayHandler(snapshot.path)  # answers from the WARC files, as the replay server does
    for path, body in pages.items():
        answer = served.respond("GET", "/" + path.relative_to(FIRST).as_posix())
        assert (answer.status, answer.body) == (200, body)


def test_the_index_beside_each_file_gives_what_reading_its_records_gives(tmp_path):
    """A replay reads the answers from the index written beside each WARC file; without it, from the records:
    the same answers, in the same order, the revisits pointing at the same payloads."""
    import json

    from webarchive.reader import write_run_snapshot
    from webarchive.run_archive import INDEX_SUFFIX

    db = f"sqlite:///{tmp_path / 'a.db'}"
    archive = tmp_path / "archive"
    crawl(db, archive, "--replay", str(FIRST), "--replay", str(SECOND))
    engine = open_database(db)
    indexes = sorted((archive / "pytorch_hub").glob(f"*{INDEX_SUFFIX}"))
    assert len(indexes) == 2
    fast = write_run_snapshot(engine, 2, tmp_path / "fast")
    for index in indexes:
        index.unlink()
    slow = write_run_snapshot(engine, 2, tmp_path / "slow")
    engine.dispose()
    answers = [json.loads((snapshot.path / "WARC_INDEX.json").read_text()) for snapshot in (fast, slow)]
    assert answers[0] == answers[1] and fast.answers == slow.answers > 0
    assert any(answer["warc"] == str(warc_files(archive, 1)[0]) for answers_of_url in answers[0].values() for answer in answers_of_url)
