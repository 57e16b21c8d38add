"""`storewatch reextract`: a store's archived runs replayed through today's spider, compared, swapped in;
`storewatch archive pack`: a run as a WACZ file the `wacz` package's own validator accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, cli_json, demo_copy, run_cli, snapshot_dir, snapshot_dirs
from storage.history_compare import iter_versions
from storage.db import open_database
from webarchive.wacz_pack import validate

SNAPSHOTS = snapshot_dirs("pytorch_hub")[:4]

# The PyTorch Hub extractor with a "fix": every model's framework is read as "PyTorch (torch.hub)".
FIXED_EXTRACTOR = """
import sys
import spiders.pytorch_hub as hub

original = hub.extract_model


def fixed(path, text):
    record = original(path, text)
    if record is not None:
        record.elements["framework"] = "PyTorch (torch.hub)"
    return record


hub.extract_model = fixed
from crawler.cli.app import main

sys.argv = ["storewatch", *sys.argv[1:]]
main()
"""


def recorded(db: str, *extra: str) -> None:
    args = [arg for directory in SNAPSHOTS for arg in ("--replay", str(directory))]
    run_cli("crawl", "pytorch_hub", *args, *extra, db=db)


def reextract_with_fixed_extractor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", FIXED_EXTRACTOR, "reextract", *args], capture_output=True, text=True, cwd=ROOT, timeout=600)


def versions(db: str, store: str = "pytorch_hub") -> list[dict]:
    """Every version of every model the store ever listed, removed ones included."""
    engine = open_database(db)
    try:
        return [
            {"model_id": row.model_id, "valid_from": row.valid_from, "valid_to": row.valid_to, "change": row.change, "elements": json.loads(row.elements_json)}
            for row in iter_versions(engine, store)
        ]
    finally:
        engine.dispose()


def test_with_the_extractor_unchanged_the_rebuilt_history_is_identical(db_url, tmp_path):
    recorded(db_url)
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    result = run_cli("reextract", "pytorch_hub", "--into", rebuilt, "--format", "json", db=db_url)
    report = json.loads(result.stdout)
    assert report["identical"] is True and report["runs"] == len(SNAPSHOTS)
    assert report["versions"]["original"] == report["versions"]["rebuilt"] == len(versions(db_url)) > 0
    assert versions(rebuilt) == versions(db_url)
    text = run_cli("reextract", "pytorch_hub", "--into", f"sqlite:///{tmp_path / 'again.db'}", db=db_url).stdout
    assert "identical to the recorded history" in text


def test_a_fixed_extractor_changes_exactly_its_element_in_every_version(db_url, tmp_path):
    recorded(db_url)
    before = versions(db_url)
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    result = reextract_with_fixed_extractor("pytorch_hub", "--into", rebuilt, "--db", db_url, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["elements"] == {"framework": len(before)}
    assert report["only_original"] == report["only_rebuilt"] == report["ended_differently"] == 0
    assert versions(db_url) == before  # --into leaves the recorded history alone

    result = reextract_with_fixed_extractor("pytorch_hub", "--in-place", "--db", db_url)
    assert result.returncode == 0, result.stderr
    assert "framework" in result.stdout and "replaced" in result.stdout
    after = versions(db_url)
    assert len(after) == len(before)
    for old, new in zip(before, after):
        assert new["elements"]["framework"] == "PyTorch (torch.hub)"
        assert {**new["elements"], "framework": old["elements"]["framework"]} == old["elements"]
        assert (new["model_id"], new["valid_from"], new["valid_to"], new["change"]) == (old["model_id"], old["valid_from"], old["valid_to"], old["change"])
    runs = run_cli("runs", "--store", "pytorch_hub", "--format", "json", db=db_url).stdout
    assert [run["id"] for run in json.loads(runs)] == list(range(1, len(SNAPSHOTS) + 1))  # the runs keep their numbers


def test_runs_without_an_archive_are_named_and_in_place_refuses_them(tmp_path):
    db = f"sqlite:///{tmp_path / 'storewatch.db'}"
    recorded(db, "--no-archive")
    result = run_cli("reextract", "pytorch_hub", "--into", f"sqlite:///{tmp_path / 'rebuilt.db'}", db=db, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: pytorch_hub: no archived run to re-extract") and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("pytorch_hub",), "--into"),
        (("nosuchstore", "--into", "x.db"), "unknown store"),
        (("pytorch_hub", "--into", "x.db", "--from", "2020-01-01", "--to", "2019-01-01"), "after --to"),
        (("pytorch_hub", "--in-place", "--from", "2020-01-01"), "--in-place"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path, args, message):
    db = f"sqlite:///{tmp_path / 'storewatch.db'}"
    recorded(db)
    result = run_cli("reextract", *args, db=db, check=False)
    assert result.returncode != 0
    assert result.stderr.startswith("error:") and message in result.stderr and "Traceback" not in result.stderr


def test_into_a_database_that_holds_the_store_already_is_refused(tmp_path):
    db = f"sqlite:///{tmp_path / 'storewatch.db'}"
    recorded(db)
    result = run_cli("reextract", "pytorch_hub", "--into", db, db=db, check=False)
    assert result.returncode == 2 and "already holds runs of the store" in result.stderr


def test_a_damaged_archive_rebuilds_its_run_partial_and_goes_on(tmp_path):
    db = f"sqlite:///{tmp_path / 'storewatch.db'}"
    archive = tmp_path / "archive"
    args = [arg for directory in SNAPSHOTS[:2] for arg in ("--replay", str(directory))]
    run_cli("crawl", "pytorch_hub", *args, db=db, env={"STOREWATCH_ARCHIVE_DIR": str(archive)})
    first = sorted((archive / "pytorch_hub").glob("pytorch_hub-run1-*.warc.gz"))[0]
    first.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    result = run_cli("reextract", "pytorch_hub", "--into", rebuilt, db=db, check=False)
    assert result.returncode == 1
    assert f"error: {first}: damaged WARC file at byte" in result.stderr
    statuses = [run["status"] for run in json.loads(run_cli("runs", "--format", "json", db=rebuilt).stdout)]
    assert statuses == ["partial", "partial"]  # the second run's revisits repeat payloads of the damaged file

    before = versions(db)
    in_place = run_cli("reextract", "pytorch_hub", "--in-place", db=db, check=False)
    assert in_place.returncode == 1
    assert "error: pytorch_hub: --in-place replaced nothing: an archive file was damaged" in in_place.stderr
    assert versions(db) == before


def test_a_file_cut_between_two_records_is_found_short(tmp_path):
    """A file cut exactly at a record boundary reads as a whole one: its recorded size gives it away."""
    db = f"sqlite:///{tmp_path / 'storewatch.db'}"
    archive = tmp_path / "archive"
    run_cli("crawl", "pytorch_hub", "--replay", str(SNAPSHOTS[0]), db=db, env={"STOREWATCH_ARCHIVE_DIR": str(archive)})
    [warc] = sorted((archive / "pytorch_hub").glob("pytorch_hub-run1-*.warc.gz"))
    from webarchive.warc_records import read_records

    offsets = [record.offset for record in read_records(warc)]
    cut = offsets[len(offsets) // 2]
    warc.write_bytes(warc.read_bytes()[:cut])
    result = run_cli("reextract", "pytorch_hub", "--into", f"sqlite:///{tmp_path / 'rebuilt.db'}", db=db, check=False)
    assert result.returncode == 1
    assert f"error: {warc}: damaged WARC file at byte {cut}: shorter than recorded" in result.stderr


def test_a_span_given_in_dates_between_runs_compares_equal(db_url, tmp_path):
    recorded(db_url)
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    result = run_cli("reextract", "pytorch_hub", "--from", "2019-08-01", "--to", "2020-03-01", "--into", rebuilt, "--format", "json", db=db_url)
    report = json.loads(result.stdout)
    assert report["runs"] == 2 and report["identical"] is True, report


def test_a_demo_run_packs_as_a_wacz_the_validator_accepts(demo, tmp_path):
    db = demo_copy(demo, tmp_path)
    runs = json.loads(run_cli("runs", "--store", "pytorch_hub", "--format", "json", db=str(db)).stdout)
    last = runs[-1]["id"]
    out = tmp_path / "pytorch_hub.wacz"
    result = run_cli("archive", "pack", f"run:{last}", "--out", str(out), db=str(db))
    assert out.is_file() and str(out) in result.stdout
    assert validate(out) is None
    import zipfile

    names = zipfile.ZipFile(out).namelist()
    assert "datapackage.json" in names and any(name.startswith("indexes/") for name in names)
    assert any(name.startswith(f"archive/pytorch_hub-run{last}-") for name in names)  # its own file, plus those its revisits need

    bad = run_cli("archive", "pack", "run:9999", "--out", str(tmp_path / "x.wacz"), db=str(db), check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error: no run 9999")


WAYBACK = snapshot_dir("modeldepot", "wayback")


def test_a_backfill_is_archived_once_and_its_runs_re_extract_identically(tmp_path):
    db, archive = f"sqlite:///{tmp_path / 'sw.db'}", tmp_path / "archive"
    env = {"STOREWATCH_ARCHIVE_DIR": str(archive)}
    run_cli("backfill", "modeldepot", "--to", "2019-12-31", "--replay", str(WAYBACK), db=db, env=env)
    run_cli("backfill", "modeldepot", "--replay", str(WAYBACK), db=db, env=env)  # goes on from the last day
    files = sorted(archive.rglob("*.warc.gz"))
    assert [file.name.startswith("modeldepot-crawl-") for file in files] == [True, True]  # one set of files per crawl

    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    text = run_cli("reextract", "modeldepot", "--into", rebuilt, db=db, env=env).stdout
    # the second backfill read its first day again (a run with no change): four runs, each rebuilt and printed
    days = ["2018-06-15", "2019-03-20", "2019-03-20", "2020-01-10"]
    assert [line.split()[1] for line in text.splitlines() if line.startswith("modeldepot 20")] == days
    assert "4 runs re-extracted" in text and "identical to the recorded history" in text
    assert versions(rebuilt, "modeldepot") == versions(db, "modeldepot")
    assert [run["observed_at"] for run in cli_json("runs", "--store", "modeldepot", db=rebuilt)] == [
        run["observed_at"] for run in cli_json("runs", "--store", "modeldepot", db=db)
    ]

    span = json.loads(run_cli("reextract", "modeldepot", "--from", "2019-01-01", "--into", f"sqlite:///{tmp_path / 'span.db'}", "--format", "json", db=db, env=env).stdout)
    assert span["runs"] == 3 and span["identical"] is True  # one day of the first crawl, both of the second's

    alone = run_cli("crawl", "modeldepot", "--replay", "run:2", db=db, env=env, check=False)
    assert alone.returncode != 0 and alone.stderr.count("error:") == 1 and "storewatch reextract modeldepot" in alone.stderr


def test_a_web_store_backfilled_from_its_archived_pages_re_extracts_identically(tmp_path):
    from test_crawl_study_stores import wayback_replay_of

    db, env = f"sqlite:///{tmp_path / 'sw.db'}", {"STOREWATCH_ARCHIVE_DIR": str(tmp_path / "archive")}
    run_cli("backfill", "wolfram_nnr", "--replay", str(wayback_replay_of("wolfram_nnr", tmp_path / "wayback")), db=db, env=env)
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    report = json.loads(run_cli("reextract", "wolfram_nnr", "--into", rebuilt, "--format", "json", db=db, env=env).stdout)
    assert report["runs"] == 2 and report["identical"] is True and report["skipped"] == []
    assert versions(rebuilt, "wolfram_nnr") == versions(db, "wolfram_nnr") != []


def test_a_full_disk_during_a_backfill_records_no_day(tmp_path):
    from test_webarchive import FULL_DISK

    db, archive = f"sqlite:///{tmp_path / 'sw.db'}", tmp_path / "archive"
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, "3000", "2", "backfill", "modeldepot", "--replay", str(WAYBACK), "--db", db],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "STOREWATCH_ARCHIVE_DIR": str(archive)}, timeout=300,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert "writing the web archive failed" in result.stderr and "No space left on device" in result.stderr
    assert cli_json("runs", "--store", "modeldepot", db=db) == []
    assert list(archive.rglob("*.warc.gz")) == []
