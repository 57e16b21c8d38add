"""`storewatch import`: a dump of API records recorded as a run, the same history a crawl of those records gives."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, cli_json, run_cli, snapshot_dir
from crawler.dump_import import ImportJob, dump_rows, import_dump
from storage import queries

EXCERPT = ROOT / "tests" / "data" / "hub_stats_excerpt.parquet"
API_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # as the Hub API writes createdAt


def manifest(date: str) -> list[dict]:
    path = snapshot_dir("onnx_zoo", date) / "raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json"
    return json.loads(path.read_text())


def write_jsonl(path: Path, lines: list) -> Path:
    """One line per entry: a record as JSON, or a string written as it is (a malformed line)."""
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def import_file(db: Path, path: Path, observed_at: str, *, check: bool = True, store: str = "onnx_zoo"):
    return run_cli("import", store, str(path), "--observed-at", observed_at, db=str(db), check=check)


def runs(db: Path) -> list[dict]:
    return cli_json("runs", db=str(db))


def test_importing_two_days_of_the_manifest_gives_the_history_a_crawl_of_them_gives(tmp_path):
    crawled, imported = tmp_path / "crawled.db", tmp_path / "imported.db"
    days = ("2023-12-08", "2023-12-26")  # the `validated/` move: every model changes its access element
    run_cli("crawl", "onnx_zoo", *(arg for day in days for arg in ("--replay", str(snapshot_dir("onnx_zoo", day)))), db=str(crawled))
    for day in days:
        import_file(imported, write_jsonl(tmp_path / f"manifest-{day}.jsonl", manifest(day)), day)

    for command in (["models", "onnx_zoo"], ["diff", "onnx_zoo", "--from", days[0], "--to", days[1]]):
        assert cli_json(*command, db=str(imported)) == cli_json(*command, db=str(crawled))
    imported_runs = runs(imported)
    assert [(run["status"], run["added"], run["changed"]) for run in imported_runs] == [
        (run["status"], run["added"], run["changed"]) for run in runs(crawled)
    ]
    assert [run["source"] for run in imported_runs] == [f"import:manifest-{day}.jsonl" for day in days]


def test_a_malformed_line_is_counted_and_the_run_removes_nothing(tmp_path):
    db = tmp_path / "storewatch.db"
    entries = manifest("2023-12-26")
    import_file(db, write_jsonl(tmp_path / "full.jsonl", entries), "2023-12-26")
    cut = write_jsonl(tmp_path / "cut.jsonl", [*entries[3:10], "{not json", "[1, 2]", *entries[10:]])

    result = import_file(db, cut, "2023-12-27")

    assert "partial" in result.stdout
    latest = runs(db)[-1]
    assert (latest["status"], latest["errors"], latest["removed"]) == ("partial", 2, 0)
    assert "line 8: not JSON" in latest["error_summary"] and "line 9: a JSON list, not an object" in latest["error_summary"]
    assert len(cli_json("models", "onnx_zoo", db=str(db))) == len(entries)  # the three left out are not removed


def test_many_records_without_an_id_are_counted_and_named_once(tmp_path):
    db = tmp_path / "storewatch.db"
    nameless = [{"model": "resnet", "opset_version": 7}] * 3  # no model_path: nobody can tell which model

    import_file(db, write_jsonl(tmp_path / "nameless.jsonl", [*manifest("2023-12-26"), *nameless]), "2023-12-26")

    latest = runs(db)[-1]
    assert (latest["status"], latest["errors"]) == ("partial", 3)
    assert latest["error_summary"].count("a record names no model id") == 1


def test_an_unreadable_record_with_an_id_keeps_its_model_unchanged(tmp_path):
    db = tmp_path / "storewatch.db"
    entries = manifest("2023-12-26")
    import_file(db, write_jsonl(tmp_path / "day1.jsonl", entries), "2023-12-26")
    broken = [dict(entry) for entry in entries]
    broken[0]["metadata"] = "not an object"
    broken[1]["opset_version"] = 99  # a real change beside it, so the run is seen to record changes

    import_file(db, write_jsonl(tmp_path / "day2.jsonl", broken), "2023-12-27")

    latest = runs(db)[-1]
    assert (latest["status"], latest["errors"], latest["changed"], latest["removed"]) == ("complete", 1, 1, 0)
    unreadable_id = broken[0]["model_path"].removeprefix("validated/")
    assert len(cli_json("history", "onnx_zoo", unreadable_id, db=str(db))) == 1


def test_a_gzipped_dump_reads_as_the_plain_one_and_a_cut_one_is_partial(tmp_path):
    entries = manifest("2023-12-26")
    plain, zipped = tmp_path / "plain.db", tmp_path / "zipped.db"
    import_file(plain, write_jsonl(tmp_path / "manifest.jsonl", entries), "2023-12-26")
    dump = write_jsonl(tmp_path / "manifest.jsonl.gz", entries)
    import_file(zipped, dump, "2023-12-26")
    assert cli_json("models", "onnx_zoo", db=str(zipped)) == cli_json("models", "onnx_zoo", db=str(plain))

    data = dump.read_bytes()
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    result = import_file(zipped, tmp_path / "cut.jsonl.gz", "2023-12-27")

    assert "partial" in result.stdout
    latest = runs(zipped)[-1]
    assert latest["status"] == "partial" and latest["removed"] == 0
    assert "breaks off" in latest["error_summary"]


def test_a_parquet_dump_reads_as_the_same_records_in_jsonl(tmp_path):
    # A Parquet column has one type, and the manifest's io_ports shapes mix names and sizes (["N", 3, 224]):
    # the records go in without io_ports, both ways.
    entries = [{**entry, "metadata": {key: value for key, value in entry["metadata"].items() if key != "io_ports"}} for entry in manifest("2023-12-26")]
    table = pa.Table.from_pylist(entries)  # a struct of the union of the entries' keys: null where one lacks a key
    assert table.column("metadata").null_count == 0 and pa.types.is_struct(table.schema.field("metadata").type)
    pq.write_table(table, tmp_path / "manifest.parquet", row_group_size=50)  # several row groups
    from_parquet, from_jsonl = tmp_path / "parquet.db", tmp_path / "jsonl.db"

    import_file(from_parquet, tmp_path / "manifest.parquet", "2023-12-26")
    import_file(from_jsonl, write_jsonl(tmp_path / "manifest.jsonl", entries), "2023-12-26")

    assert runs(from_parquet)[-1]["status"] == "complete"
    assert cli_json("models", "onnx_zoo", db=str(from_parquet)) == cli_json("models", "onnx_zoo", db=str(from_jsonl))


def test_hub_dump_rows_come_out_in_the_api_shape():
    table = pq.read_table(EXCERPT)
    stored = table.to_pylist()
    shaped = list(dump_rows(EXCERPT))

    assert len(shaped) == table.num_rows
    for row, record in zip(stored, shaped):
        assert record["id"] == row["id"]
        for key in ("createdAt", "lastModified"):
            assert API_INSTANT.match(record[key]), record[key]
            assert datetime.fromisoformat(record[key]) == row[key].replace(tzinfo=timezone.utc, microsecond=row[key].microsecond // 1000 * 1000)
        for key in ("cardData", "gguf"):  # JSON text in the dump, an object in the API; a null is no key at all
            assert record.get(key) == (json.loads(row[key]) if row[key] is not None else None)
        if row["safetensors"] is None:
            assert "safetensors" not in record
        else:
            dtypes = {dtype: count for dtype, count in row["safetensors"]["parameters"].items() if count is not None}
            assert record["safetensors"] == {"parameters": dtypes, "total": row["safetensors"]["total"]}
        assert record.get("baseModels") == row["baseModels"]
    assert any(isinstance(record.get("gguf"), dict) for record in shaped)
    assert any(len(record.get("baseModels", {}).get("models", [])) > 2 for record in shaped)


def test_the_hub_dump_imports_as_huggingface_models(tmp_path):
    db = tmp_path / "storewatch.db"
    ids = pq.read_table(EXCERPT, columns=["id"]).column("id").to_pylist()

    import_file(db, EXCERPT, "2026-06-05", store="huggingface")
    import_file(db, EXCERPT, "2026-06-06", store="huggingface")

    first, second = runs(db)
    assert (first["status"], first["models_seen"], first["added"]) == ("complete", len(ids), len(ids))
    assert (second["status"], second["added"], second["changed"], second["removed"]) == ("complete", 0, 0, 0)
    assert sorted(model["model_id"] for model in cli_json("models", "huggingface", db=str(db))) == sorted(ids)


def test_an_import_records_its_run_on_either_database(engine, tmp_path):
    entries = manifest("2023-12-26")
    job = ImportJob("onnx_zoo", write_jsonl(tmp_path / "manifest.jsonl", [*entries, "garbage"]), datetime(2023, 12, 26, tzinfo=timezone.utc), "onnx_zoo/1")

    summary = import_dump(engine, job)

    assert (summary.status, summary.models_seen, summary.added, summary.errors) == ("partial", len(entries), len(entries), 1)
    assert queries.list_runs(engine, "onnx_zoo")[-1]["status"] == "partial"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["onnx_zoo", "missing.jsonl", "--observed-at", "2023-12-26"], "no such file"),
        (["nowhere", "{dump}", "--observed-at", "2023-12-26"], "unknown store 'nowhere'"),
        (["pytorch_hub", "{dump}", "--observed-at", "2023-12-26"], "pytorch_hub: no importer"),
        (["onnx_zoo", "{csv}", "--observed-at", "2023-12-26"], "expected .jsonl, .jsonl.gz or .parquet"),
        (["onnx_zoo", "{fake_parquet}", "--observed-at", "2023-12-26"], "not a Parquet file"),
        (["onnx_zoo", "{fake_gzip}", "--observed-at", "2023-12-26"], "not a gzip file"),
        (["onnx_zoo", "{dump}", "--observed-at", "yesterday"], "not a date: 'yesterday'"),
    ],
    ids=["missing file", "unknown store", "no importer", "file type", "not parquet", "not gzip", "bad instant"],
)
def test_a_mistake_is_one_line_and_records_nothing(tmp_path, args, expected):
    files = {
        "dump": write_jsonl(tmp_path / "manifest.jsonl", manifest("2023-12-26")[:3]),
        "csv": tmp_path / "manifest.csv",
        "fake_parquet": tmp_path / "manifest.parquet",
        "fake_gzip": tmp_path / "manifest.jsonl.gz",
    }
    for name in ("csv", "fake_parquet", "fake_gzip"):
        files[name].write_text("model_path,model\nvision/a.onnx,A\n")
    db = tmp_path / "storewatch.db"

    result = run_cli("import", *(arg.format(**files) for arg in args), db=str(db), check=False)

    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert not db.exists()


def test_a_dump_older_than_the_latest_run_is_refused(tmp_path):
    db = tmp_path / "storewatch.db"
    dump = write_jsonl(tmp_path / "manifest.jsonl", manifest("2023-12-26"))
    import_file(db, dump, "2023-12-26")

    result = import_file(db, dump, "2023-12-08", check=False)

    assert result.returncode == 2 and "older than the latest run" in result.stderr and "manifest.jsonl" in result.stderr
    assert len(runs(db)) == 1
