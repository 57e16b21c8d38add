"""`storewatch models --format json|jsonl|csv` streams the store's rows: the same rows as the whole list, as they come."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timezone

from conftest import ROOT, run_cli, snapshot_dir
from crawler.safetext import json_line_with_id
from storage import queries
from storage.writer import SnapshotWriter

DAYS = ("2021-08-20", "2023-12-26")  # the manifest grows from 120 to 184 models and moves every path


def crawled(tmp_path) -> str:
    db = str(tmp_path / "storewatch.db")
    run_cli("crawl", "onnx_zoo", *(arg for day in DAYS for arg in ("--replay", str(snapshot_dir("onnx_zoo", day)))), db=db)
    return db


def models(db: str, *args: str) -> str:
    return run_cli("models", "onnx_zoo", *args, db=db).stdout


def test_jsonl_holds_the_rows_json_holds_one_a_line_at_each_date(tmp_path):
    db = crawled(tmp_path)
    for as_of in ([], ["--as-of", DAYS[0]]):
        listed = json.loads(models(db, *as_of, "--format", "json"))
        lines = models(db, *as_of, "--format", "jsonl").splitlines()
        assert [json.loads(line) for line in lines] == listed
    assert len(lines) == 120 and len(listed) == 120


def test_csv_columns_are_the_elements_the_models_show_at_that_date(tmp_path):
    db = crawled(tmp_path)
    for as_of in ([], ["--as-of", DAYS[0]]):
        listed = json.loads(models(db, *as_of, "--format", "json"))
        reader = csv.DictReader(io.StringIO(models(db, *as_of, "--format", "csv")))
        shown = {key for row in listed for key in row}
        assert set(reader.fieldnames) == shown
        assert [row["model_id"] for row in reader] == [row["model_id"] for row in listed]


def test_a_reader_that_stops_early_ends_the_listing_quietly(tmp_path):
    db = crawled(tmp_path)  # 184 models, about 140 KB of JSONL: more than a pipe holds
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "models", "onnx_zoo", "--format", "jsonl", "--db", db],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    first = process.stdout.readline()
    process.stdout.close()
    process.wait(timeout=60)
    assert json.loads(first)["model_id"]
    assert b"Traceback" not in process.stderr.read()


def test_streamed_rows_are_the_recorded_models_in_id_order_on_either_database(engine):
    recorded = {f"model-{index:05d}": {"name": f"Model {index}", "keywords": ["a", f"é\u2028{index}"]} for index in range(2500)}
    writer = SnapshotWriter(engine, "teststore", datetime(2024, 1, 1, tzinfo=timezone.utc), "teststore/1")
    writer.start()
    for model_id in reversed(recorded):  # more models than one fetch of STREAM_ROWS, recorded out of order
        writer.add(model_id, recorded[model_id], {})
    writer.finish("complete")
    expected = [{"model_id": model_id, **recorded[model_id]} for model_id in sorted(recorded)]

    assert list(queries.iter_models_as_of(engine, "teststore")) == expected
    lines = [json_line_with_id(model_id, elements) for model_id, elements in queries.iter_model_elements_json(engine, "teststore")]
    assert [json.loads(line) for line in lines] == expected
    assert not any("\u2028" in line or "\n" in line for line in lines)  # one line each, whatever splitlines() a reader uses
