"""`storewatch export`: the models as of a date, the version table and the counters, in Parquet, CSV and JSONL,
agree with what `models`, `history` and `metrics` show; bad input gives one line; a file is replaced whole."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, cli_json, run_cli, snapshot_dir
from crawler.elements import ELEMENTS
from crawler.export.output import replaced_when_done
from storage.writer import SnapshotWriter

STORE = "modeldepot"  # a store the CLI knows; the history below is written through the snapshot writer
DAYS = ("2024-01-01", "2024-02-01", "2024-03-01")
RECORDS = {  # model -> its elements on each day (None: not listed that day)
    "a/alpha": [
        {"name": "Alpha", "keywords": ["vision", "é\u2028x"], "size": {"parameters": 12}, "task": "image-classification"},
        {"name": "Alpha", "keywords": ["vision"], "size": {"parameters": 13}, "task": "image-classification"},
        {"name": "Alpha", "keywords": ["vision"], "size": {"parameters": 13}, "task": "image-classification"},
    ],
    "b/beta": [{"name": "Beta", "paper": ["arxiv:1"], "license": "mit"}, None, {"name": "Beta", "paper": ["arxiv:1"], "license": "mit"}],
    "c/odd": [  # values that do not fit their column's kind: kept as JSON text
        {"name": {"en": "Odd"}, "keywords": "single", "popularity": ["stars", 3], "description": "=1+1"},
    ] * 3,
    "d/delta": [None, {"name": "Delta", "keywords": [], "description": ""}, {"name": "Delta", "keywords": [], "description": ""}],
}
STARS = {"a/alpha": [5, 7, 7], "b/beta": [1, None, 2]}


def record_history(db: str) -> None:
    from storage.db import open_database

    engine = open_database(db)
    for day, date in enumerate(DAYS):
        writer = SnapshotWriter(engine, STORE, datetime.fromisoformat(date).replace(tzinfo=timezone.utc), f"{STORE}/test")
        writer.start()
        for model_id, days in RECORDS.items():
            if days[day] is not None:
                stars = STARS.get(model_id, [None] * 3)[day]
                writer.add(model_id, days[day], {"id": model_id}, {"stars": stars} if stars is not None else None)
        writer.finish("complete")
    engine.dispose()


@pytest.fixture
def history_db(db_url) -> str:
    record_history(db_url)
    return db_url


def export(db: str, *args: str) -> str:
    return run_cli("export", STORE, *args, db=db).stdout


def test_as_of_rows_are_the_models_listed_at_that_date_in_every_format(history_db, tmp_path):
    for as_of in (["--as-of", DAYS[0]], ["--as-of", DAYS[1]], []):
        listed = cli_json("models", STORE, *as_of, db=history_db)
        lines = [json.loads(line) for line in export(history_db, *as_of, "--format", "jsonl").splitlines()]
        assert [{key: value for key, value in line.items() if key in ELEMENTS or key == "model_id"} for line in lines] == listed
        assert all(line["valid_from"].endswith("Z") and isinstance(line["opened_by_run"], int) for line in lines)

        out = tmp_path / "as_of.parquet"
        run_cli("export", STORE, *as_of, "--out", str(out), db=history_db)
        table = pq.read_table(out).to_pylist()
        assert [row["model_id"] for row in table] == [row["model_id"] for row in listed]
        for row, model in zip(table, listed):
            assert parquet_elements(row) == {key: value for key, value in model.items() if key != "model_id"}

        rows = list(csv.DictReader(io.StringIO(export(history_db, *as_of, "--format", "csv"))))
        assert [row["model_id"] for row in rows] == [row["model_id"] for row in listed]
        assert [row["name"] for row in rows] == [text_cell(model.get("name")) for model in listed]


def parquet_elements(row: dict) -> dict:
    """The elements a Parquet row shows, decoded back to the stored values (the columns of the test's models)."""
    shown = {}
    for key in ELEMENTS:
        value = row[key]
        if value is None:
            continue
        if key == "name":
            shown[key] = json.loads(value) if value.startswith("{") else value  # a name that was an object: its JSON text
        elif key == "keywords" and row["model_id"] == "c/odd":
            shown[key] = value[0]  # a string where a list belongs: a one-item list
        elif key == "popularity":
            shown[key] = [item if not item.isdigit() else int(item) for item in value]  # a list item not a string: its JSON text
        elif key in ("keywords", "description"):
            shown[key] = value
        else:
            shown[key] = json.loads(value)
    return shown


def text_cell(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def test_versions_match_the_history_of_each_model(history_db, tmp_path):
    out = tmp_path / "versions.parquet"
    run_cli("export", STORE, "--versions", "--out", str(out), db=history_db)
    exported = pq.read_table(out).to_pylist()
    jsonl = [json.loads(line) for line in export(history_db, "--versions", "--format", "jsonl").splitlines()]
    assert [row["model_id"] for row in exported] == [row["model_id"] for row in jsonl] == sorted(row["model_id"] for row in jsonl)
    for model_id in RECORDS:
        history = cli_json("history", STORE, model_id, db=history_db)
        mine = [row for row in jsonl if row["model_id"] == model_id]
        assert [(row["valid_from"], row["valid_to"], row["change"], row["ended_by"], row["changed_elements"]) for row in mine] == [
            (version["valid_from"], version["valid_to"], version["change"], version["ended_by"], sorted(version["changes"])) for version in history
        ]
        assert [{key: row[key] for key in row if key in ELEMENTS} for row in mine] == [version["elements"] for version in history]
    beta = [row for row in exported if row["model_id"] == "b/beta"]
    assert [(row["change"], row["ended_by"]) for row in beta] == [("added", "removed"), ("returned", None)]
    assert beta[0]["valid_to"] == datetime(2024, 2, 1, tzinfo=timezone.utc) and beta[1]["valid_to"] is None
    alpha = [row for row in exported if row["model_id"] == "a/alpha"]
    assert [row["ended_by"] for row in alpha] == ["changed", None] and alpha[1]["changed_elements"] == ["keywords", "size"]


def test_metrics_are_the_series_metrics_shows(history_db):
    rows = [json.loads(line) for line in export(history_db, "--metrics", "--format", "jsonl").splitlines()]
    for model_id in STARS:
        series = cli_json("metrics", STORE, model_id, db=history_db)
        assert [(row["metric"], row["observed_at"], row["run_id"], row["value"]) for row in rows if row["model_id"] == model_id] == [
            (row["metric"], row["observed_at"], row["run_id"], row["value"]) for row in series
        ]
    assert [row["value"] for row in rows if row["model_id"] == "a/alpha"] == [5, 7]  # a value recorded when it moved


def test_parquet_columns_are_typed_by_element_kind(history_db, tmp_path):
    out = tmp_path / "models.parquet"
    run_cli("export", STORE, "--out", str(out), db=history_db)
    schema = pq.read_schema(out)
    assert schema.names == ["model_id", "valid_from", "opened_by_run", *ELEMENTS]
    assert schema.field("valid_from").type == pa.timestamp("us", tz="UTC")
    assert schema.field("opened_by_run").type == pa.int64()
    for key in ("model_id", "name", "description", "provider", "version", "published_at", "updated_at"):
        assert schema.field(key).type == pa.string(), key
    for key in ("keywords", "popularity", "rating"):
        assert schema.field(key).type == pa.list_(pa.string()), key
    for key in ("task", "size", "paper", "license", "base_models", "evaluation", "release_notes"):
        assert schema.field(key).type == pa.json_(), key
    assert "(JSON)" in str(pq.ParquetFile(out).schema)  # Parquet's JSON logical type, which DuckDB reads as JSON
    rows = {row["model_id"]: row for row in pq.read_table(out).to_pylist()}
    assert rows["d/delta"]["keywords"] == [] and rows["d/delta"]["description"] == ""  # shown but empty is not absent
    assert rows["d/delta"]["size"] is None and rows["a/alpha"]["size"] == '{"parameters":13}'
    assert rows["c/odd"]["description"] == "=1+1"  # data, not a spreadsheet: exactly as stored


def test_versions_schema_has_the_validity_columns(history_db, tmp_path):
    out = tmp_path / "versions.parquet"
    run_cli("export", STORE, "--versions", "--out", str(out), db=history_db)
    schema = pq.read_schema(out)
    assert schema.names[:8] == ["model_id", "valid_from", "valid_to", "change", "ended_by", "changed_elements", "opened_by_run", "closed_by_run"]
    assert schema.field("valid_to").type == pa.timestamp("us", tz="UTC") and schema.field("changed_elements").type == pa.list_(pa.string())


def test_the_format_follows_the_file_suffix_and_stdout_gets_the_same_rows(tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    record_history(db)
    for format in ("csv", "jsonl"):
        out = tmp_path / f"models.{format}"
        printed = run_cli("export", STORE, "--out", str(out), db=db).stdout
        assert re.fullmatch(rf"modeldepot: 4 models as of now written to .*models\.{format} \({format}\)\n", printed)
        assert out.read_text() == export(db, "--format", format)
    out = tmp_path / "models.parquet"
    run_cli("export", STORE, "--out", str(out), db=db)
    assert pq.read_table(out).num_rows == 4


def test_an_existing_file_is_replaced_whole_and_kept_when_the_export_fails(tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    record_history(db)
    out = tmp_path / "models.csv"
    out.write_text("old\n")
    run_cli("export", STORE, "--out", str(out), db=db)
    assert out.read_text().startswith("model_id,valid_from,")
    with pytest.raises(RuntimeError), replaced_when_done(out) as temporary:
        temporary.write_text("half an expo")
        raise RuntimeError("interrupted")
    assert out.read_text().startswith("model_id,valid_from,")
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no partial file left behind


def test_an_interrupted_export_leaves_no_file_under_the_real_name(tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    record_history(db)
    out = tmp_path / "models.jsonl"
    script = (
        "import sys; from crawler.export import writers\n"
        "def broken(rows, stream, progress):\n"
        "    stream.write('{\"model_id\": \"a/alpha\"}\\n'); raise KeyboardInterrupt\n"
        "writers.WRITERS['jsonl'] = broken\n"
        "from crawler.cli.app import main; sys.argv = ['storewatch', *sys.argv[1:]]; main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "export", STORE, "--out", str(out), "--db", db], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 130 and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "x.db"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuchstore", "--format", "csv"], "unknown store 'nosuchstore'"),
        ([STORE, "--as-of", "2021-02-30", "--format", "csv"], "not a date: '2021-02-30'"),
        ([STORE, "--format", "xlsx"], "'xlsx' is not one of parquet, csv, jsonl"),
        ([STORE, "--format", "parquet"], "Parquet is written to a file: give --out FILE.parquet"),
        ([STORE], "give --format parquet, csv or jsonl"),
        ([STORE, "--out", "models.xlsx"], "cannot tell the format of models.xlsx"),
        ([STORE, "--out", "/no/such/folder/models.parquet"], "cannot write /no/such/folder/models.parquet: No such file or directory"),
        ([STORE, "--out", "db.sqlite/models.csv"], "cannot write db.sqlite/models.csv: Not a directory"),
        ([STORE, "--format", "csv", "--out", "."], "cannot write .: it is a folder"),
        ([STORE, "--versions", "--metrics", "--format", "csv"], "--versions and --metrics are two different exports"),
        ([STORE, "--versions", "--as-of", "2024-01-01", "--format", "csv"], "--as-of selects the models at one date; --versions exports every date"),
    ],
)
def test_bad_input_gives_one_error_line(args, message, tmp_path):
    (tmp_path / "db.sqlite").write_bytes(b"")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    record_history(db)
    result = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "export", *args, "--db", db], capture_output=True, text=True, cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["db.sqlite", "x.db"]  # nothing written


def readme_section() -> str:
    """The README's "Exporting" section, up to the next heading."""
    text = (ROOT / "README.md").read_text()
    start = text.index("### Exporting")
    end = re.search(r"\n#{2,3} ", text[start + 1 :])
    return text[start : start + 1 + end.start()]


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", readme_section(), re.DOTALL)


def test_the_readme_examples_run_on_an_export_of_replayed_snapshots(tmp_path):
    """The README's pandas and DuckDB examples, as written, on the export its console example makes."""
    db = str(tmp_path / "data" / "storewatch.db")
    (tmp_path / "data").mkdir()
    for day in ("2021-08-20", "2023-12-26"):
        run_cli("crawl", "onnx_zoo", "--replay", str(snapshot_dir("onnx_zoo", day)), db=db)
    run_cli("export", "onnx_zoo", "--as-of", "2023-12-26", "--out", str(tmp_path / "onnx_zoo.parquet"), db=db)
    run_cli("export", "onnx_zoo", "--versions", "--out", str(tmp_path / "onnx_zoo_versions.parquet"), db=db)
    blocks = readme_python_blocks()
    assert len(blocks) >= 2 and any("import pandas" in block for block in blocks) and any("import duckdb" in block for block in blocks)
    for block in blocks:
        result = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert result.returncode == 0, f"{block}\n{result.stderr}"
        assert result.stdout.strip(), block  # each example prints what it found


def test_the_readme_documents_every_column():
    from storage.export import AS_OF_FIELDS, METRIC_FIELDS, VERSION_FIELDS

    section = readme_section()
    for name in {field.name for field in (*AS_OF_FIELDS, *VERSION_FIELDS, *METRIC_FIELDS)} | set(ELEMENTS):
        assert f"`{name}`" in section, name


def test_a_date_before_the_history_exports_the_columns_and_no_rows(tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    record_history(db)
    out = tmp_path / "before.parquet"
    result = run_cli("export", STORE, "--as-of", "2023-01-01", "--out", str(out), db=db)
    assert "no modeldepot models recorded as of 2023-01-01" in result.stderr
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.schema.names == ["model_id", "valid_from", "opened_by_run", *ELEMENTS]
    assert export(db, "--as-of", "2023-01-01", "--format", "csv").splitlines() == [",".join(table.schema.names)]


def test_typed_element_columns_hold_what_every_store_gives(demo):
    """The README's claim for the typed columns, checked on every version the demo records from the shipped
    snapshots of every store: a text element is always a string, a list element always a list of strings."""
    import sqlite3

    from crawler.export.columns import ELEMENT_KINDS

    connection = sqlite3.connect(demo[0] / "data" / "storewatch.db")
    misfits = set()
    for store, elements in connection.execute("SELECT store, elements FROM model_versions JOIN models ON models.id = model_pk"):
        for key, value in json.loads(elements).items():
            if ELEMENT_KINDS[key] == "text" and not isinstance(value, str):
                misfits.add((store, key))
            if ELEMENT_KINDS[key] == "text_list" and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
                misfits.add((store, key))
    connection.close()
    assert misfits == set()


def test_a_full_disk_gives_one_error_line_and_keeps_the_old_file(tmp_path):
    """The file-size limit stands in for a full disk: the write fails part-way, as it would with no space left."""
    import resource
    import signal

    from storage.db import open_database

    db = f"sqlite:///{tmp_path / 'x.db'}"
    engine = open_database(db)
    writer = SnapshotWriter(engine, STORE, datetime(2024, 1, 1, tzinfo=timezone.utc), f"{STORE}/test")
    writer.start()
    for index in range(2000):  # about 300 kB of CSV, more than the limit below
        writer.add(f"user/model-{index}", {"name": f"Model {index}", "description": "A model. " * 10}, {})
    writer.finish("complete")
    engine.dispose()
    out = tmp_path / "models.csv"
    out.write_text("old\n")

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))  # SQLite's shared memory file fits

    result = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "export", STORE, "--out", str(out), "--db", db],
        capture_output=True, text=True, cwd=ROOT, preexec_fn=small_files,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: cannot write {out}: File too large; nothing was replaced"
    assert out.read_text() == "old\n" and not [path for path in tmp_path.iterdir() if path.name.endswith(".partial")]
