"""Every command that prints a table speaks text, JSON and CSV alike, on the demo database."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from conftest import demo_copy, run_cli

TABLE_COMMANDS = {
    "stores": [],
    "runs": ["--store", "modeldepot"],
    "models": ["pytorch_hub", "--as-of", "2020-01-01"],
    "history": ["pytorch_hub", "pytorch_vision_resnet"],
    "diff": ["pytorch_hub", "--from", "2019-06-30", "--to", "2019-12-31"],
    "compare": ["--as-of", "2019-12-31"],
    "status": [],
}


@pytest.fixture(scope="module")
def folder(demo, tmp_path_factory):
    """A copy of the demo database, at the default path of commands run in this folder."""
    folder = tmp_path_factory.mktemp("formats")
    demo_copy(demo, folder)
    return folder


def storewatch(folder, *args: str) -> str:
    env = {key: value for key, value in os.environ.items() if key not in ("STOREWATCH_DATABASE_URL", "STOREWATCH_CONFIG")}
    result = subprocess.run([sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True, cwd=folder, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("command", TABLE_COMMANDS)
def test_each_table_command_prints_text_json_and_csv(folder, command):
    args = [command, *TABLE_COMMANDS[command]]
    assert "--format [text|json|csv" in " ".join(run_cli(command, "--help").stdout.split())
    text = storewatch(folder, *args)
    assert text.strip() and storewatch(folder, *args, "--format", "table") == text  # the old name of text still works
    data = json.loads(storewatch(folder, *args, "--format", "json"))
    rows = list(csv.DictReader(io.StringIO(storewatch(folder, *args, "--format", "csv"))))
    assert rows, f"{command}: no CSV rows"
    if isinstance(data, list):  # a row per item
        assert len(rows) == len(data)


def test_csv_rows_say_what_the_json_says(folder):
    stores = {row["store"]: row for row in csv.DictReader(io.StringIO(storewatch(folder, "stores", "--format", "csv")))}
    assert stores["onnx_zoo"]["elements"] == "name, task, input_domain, keywords, version, size, io_format, framework, access"

    runs = list(csv.DictReader(io.StringIO(storewatch(folder, "runs", "--store", "modeldepot", "--format", "csv"))))
    assert [run["observed_at"] for run in runs] == ["2018-06-15T08:30:12Z", "2019-03-20T11:45:08Z", "2020-01-10T07:22:33Z"]

    diff = json.loads(storewatch(folder, *["diff", *TABLE_COMMANDS["diff"]], "--format", "json"))
    rows = list(csv.DictReader(io.StringIO(storewatch(folder, *["diff", *TABLE_COMMANDS["diff"]], "--format", "csv"))))
    for kind in ("added", "removed", "returned"):
        assert sorted(row["model_id"] for row in rows if row["change"] == kind) == diff[kind]
    changed = {(row["model_id"], row["element"]) for row in rows if row["change"] == "changed"}
    assert changed == {(change["model_id"], key) for change in diff["changed"] for key in change["elements"] or [""]}

    history = list(csv.DictReader(io.StringIO(storewatch(folder, "history", "pytorch_hub", "pytorch_vision_resnet", "--format", "csv"))))
    assert history[0]["valid_from"] == "2019-06-30T00:00:00Z" and history[0]["name"] == "ResNet"
    assert json.loads(history[1]["changes"])["keywords"] == {"old": ["vision"], "new": ["vision", "scriptable"]}

    status = {row["store"]: row for row in csv.DictReader(io.StringIO(storewatch(folder, "status", "--format", "csv")))}
    assert (status["pytorch_hub"]["last_observed_at"], status["pytorch_hub"]["last_status"]) == ("2024-04-30T00:00:00Z", "complete")
    assert status["pytorch_hub"]["last_started_at"] > status["pytorch_hub"]["last_observed_at"]  # it ran long after

    compare = {row["element"]: row for row in csv.DictReader(io.StringIO(storewatch(folder, "compare", "--format", "csv")))}
    assert compare["name"]["onnx_zoo"] == "1.0" and compare["description"]["onnx_zoo"] == "0.0"


def test_status_tells_what_the_last_run_observed_from_when_it_ran(folder):
    table = storewatch(folder, "status")
    header = next(line for line in table.splitlines() if line.startswith("┃"))
    assert [cell.strip() for cell in header.strip("┃").split("┃")][3:6] == ["last run", "observed", "ran at"]
    row = next(line for line in table.splitlines() if "pytorch_hub" in line)
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells[4] == "2024-04-30" and cells[5].endswith("Z")  # observed: a snapshot's date; ran at: an instant


def test_an_unknown_format_is_one_error_line(folder):
    result = run_cli("runs", "--format", "yaml", check=False)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "error: Invalid value for '--format': 'yaml' is not one of text, json, csv (see `storewatch runs --help`)"
    ]
