"""Hostile store text stays text: never rich markup, terminal escapes or spreadsheet formulas, in any output."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from datetime import datetime, timezone

import pytest

from conftest import run_cli
from crawler.cli.common import PlainFormatter
from storage.db import open_database
from storage.writer import SnapshotWriter

HYPERLINK = "\x1b]8;;https://evil.example/\x1b\\click here\x1b]8;;\x1b\\"  # OSC 8: a terminal hyperlink
ESCAPED_ID = "escape\x1b[31m"  # a model id that turns the terminal red
RECORDS = {
    "markup": {"name": "[/bold]", "provider": "[link=javascript:alert(1)]click me[/link] [red]Evil Corp[/red] :warning:"},
    "formulas": {
        "name": '=HYPERLINK("https://evil.example/","click")',
        "provider": "@SUM(1+1)*cmd|' /C calc'!A0",
        "version": "+1+2",
        "task": "-2+3;cmd|' /C calc'!A0",
        "license": "\t=1+2",
    },
    ESCAPED_ID: {
        "name": f"ResNet50 {HYPERLINK} bell\x07 csi\x9b31m",
        "description": "line one\nline two\tafter a tab",
        "popularity\x1b[5m": 3,  # an element key a chart labels
    },
}
CHANGED_DESCRIPTION = f"[bold]changed[/bold] {HYPERLINK}"
ERROR_SUMMARY = f"GET https://evil.example/[/bold] failed {HYPERLINK}"
# Output shows store text once these are gone: OSC sequences, the store's own red, BEL and C1 CSI.
TERMINAL_ESCAPES = ("\x1b]", "\x1b[31m", "\x07", "\x9b")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
COLOUR = {"FORCE_COLOR": "1", "COLUMNS": "300"}  # rich writes styles (and would write links) although stdout is a pipe


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def record_run(engine, store: str, when: str, records: dict[str, dict], error_summary: str | None = None) -> None:
    writer = SnapshotWriter(engine, store, day(when), f"{store}/1")
    writer.start()
    for model_id, elements in records.items():
        writer.add(model_id, elements, {"record": elements})
    writer.finish("complete", error_summary=error_summary)


@pytest.fixture
def hostile_db(db_url) -> str:
    """Two pytorch_hub runs of hostile records (the second changes every description), and an onnx_zoo model
    sharing a hostile name, so that the text reaches tables, diffs, the report's changes and its cross-store view."""
    engine = open_database(db_url)
    record_run(engine, "pytorch_hub", "2024-01-01", RECORDS, ERROR_SUMMARY)
    changed = {model_id: {**elements, "description": CHANGED_DESCRIPTION} for model_id, elements in RECORDS.items()}
    record_run(engine, "pytorch_hub", "2024-02-01", changed, ERROR_SUMMARY)
    record_run(engine, "onnx_zoo", "2024-02-01", {"vision/resnet50": {"name": RECORDS[ESCAPED_ID]["name"]}})
    engine.dispose()
    return db_url


def assert_no_terminal_escapes(output: str) -> None:
    for sequence in TERMINAL_ESCAPES:
        assert sequence not in output, f"{sequence!r} reached the output"


def test_models_and_history_show_store_markup_as_it_is(hostile_db):
    models = run_cli("models", "pytorch_hub", db=hostile_db, env=COLOUR).stdout
    assert "[/bold]" in models and "[link=javascript:alert(1)]click me[/link] [red]Evil Corp[/red] :warning:" in models
    history = run_cli("history", "pytorch_hub", "markup", db=hostile_db, env=COLOUR).stdout
    assert "description: → [bold]changed[/bold] ]8;;https://evil.example/" in history
    for output in (models, history):
        assert_no_terminal_escapes(output)
        assert "javascript:alert(1)\x1b" not in output  # no link made of it either


def test_runs_diff_and_compare_print_store_text_without_its_escapes(hostile_db):
    runs = run_cli("runs", "--store", "pytorch_hub", db=hostile_db, env=COLOUR).stdout
    assert "GET https://evil.example/[/bold] failed ]8;;https://evil.example/" in runs
    diff = run_cli("diff", "pytorch_hub", "--from", "2024-01-01", "--to", "2024-02-01", db=hostile_db, env=COLOUR).stdout
    assert "~ escape[31m" in diff and "[bold]changed[/bold] ]8;;https://evil.example/\\click here" in diff
    markdown = run_cli("diff", "pytorch_hub", "--from", "2024-01-01", "--format", "markdown", db=hostile_db).stdout
    assert "| escape\\[31m |" in markdown
    compare = run_cli("compare", db=hostile_db, env=COLOUR).stdout
    assert "pytorch_hub: escape[31m" in compare
    for output in (runs, diff, markdown, compare):
        assert_no_terminal_escapes(output)


def test_csv_quotes_formula_cells_unless_raw(hostile_db):
    rows = {row["model_id"]: row for row in csv.DictReader(io.StringIO(run_cli("models", "pytorch_hub", "--format", "csv", db=hostile_db).stdout))}
    formulas = rows["formulas"]
    assert formulas["name"] == "'" + RECORDS["formulas"]["name"]
    assert [formulas[key] for key in ("provider", "version", "task", "license")] == [
        "'" + RECORDS["formulas"][key] for key in ("provider", "version", "task", "license")
    ]
    escaped = rows["escape[31m"]
    assert escaped["name"] == "ResNet50 ]8;;https://evil.example/\\click here]8;;\\ bell csi31m"
    assert escaped["description"] == CHANGED_DESCRIPTION.replace("\x1b", "")
    assert rows["markup"]["name"] == "[/bold]"  # nothing to neutralise: unchanged

    raw = run_cli("models", "pytorch_hub", "--format", "csv", "--raw", db=hostile_db).stdout
    raw_rows = {row["model_id"]: row for row in csv.DictReader(io.StringIO(raw))}
    assert raw_rows["formulas"]["name"] == RECORDS["formulas"]["name"] and raw_rows["formulas"]["license"] == "\t=1+2"
    assert raw_rows[ESCAPED_ID]["name"] == RECORDS[ESCAPED_ID]["name"]


def test_json_keeps_store_text_whole_and_escaped(hostile_db):
    output = run_cli("models", "pytorch_hub", "--format", "json", db=hostile_db).stdout
    assert not CONTROL.search(output.replace("\n", ""))  # written as \u escapes, C1 included
    models = {model["model_id"]: model for model in json.loads(output)}
    assert models[ESCAPED_ID]["name"] == RECORDS[ESCAPED_ID]["name"]
    assert models["formulas"]["name"] == RECORDS["formulas"]["name"]


def test_report_files_carry_no_control_characters(hostile_db, tmp_path):
    run_cli("report", "--out", str(tmp_path / "report"), db=hostile_db)
    out = tmp_path / "report"
    files = [out / "report.md", out / "report.html", *sorted((out / "charts").glob("*.svg")), *sorted((out / "tables").glob("*.csv"))]
    shown = {path.name: path.read_text(encoding="utf-8") for path in files}
    for name, text in shown.items():
        assert not CONTROL.search(text.replace("\n", "").replace("\t", "")), f"a control character in {name}"
    assert "escape[31m" in shown["report.html"] and "escape\\[31m" in shown["report.md"]
    assert "ResNet50 ]8;;https://evil.example/\\click here" in shown["report.html"]  # the cross-store pair, as text
    assert "popularity[5m" in shown["coverage-matrix.svg"]
    assert any("escape[31m" in text for name, text in shown.items() if name.endswith("-latest-changes.csv"))
    assert "escape\\u001b[31m" in (out / "report.json").read_text(encoding="utf-8")  # kept whole in the JSON report


def test_scheduler_log_lines_quote_error_summaries_without_their_escapes():
    record = logging.LogRecord("storewatch", logging.WARNING, __file__, 1, "pytorch_hub run %s: %s -- marked failed", (7, ERROR_SUMMARY), None)
    line = PlainFormatter("%(levelname)s %(message)s").format(record)
    assert line == "WARNING pytorch_hub run 7: GET https://evil.example/[/bold] failed ]8;;https://evil.example/\\click here]8;;\\ -- marked failed"
