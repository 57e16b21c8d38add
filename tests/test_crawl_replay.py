"""End to end: `storewatch crawl --replay` over the recorded snapshots, checked against the snapshot files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT, cli_json, run_cli, snapshot_dir, snapshot_dirs

PYTORCH_RAW = "raw.githubusercontent.com/pytorch/hub/master"
ONNX_MANIFEST = "raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json"
TFHUB_TREE = "api.github.com/repos/tensorflow/tfhub.dev/git/trees/master?recursive=1"


def replay_args(*directories: Path) -> list[str]:
    return [arg for directory in directories for arg in ("--replay", str(directory))]


def pytorch_models_in(directory: Path) -> dict[str, dict]:
    """Truth from the files: top-level markdown pages with Jekyll front matter, minus the repository docs."""
    pages = {}
    for path in (directory / PYTORCH_RAW).glob("*.md"):
        text = path.read_text()
        if path.name not in {"README.md", "CONTRIBUTING.md", "CODE_OF_CONDUCT.md"} and text.startswith("---"):
            pages[path.stem] = yaml.safe_load(text.split("---")[1])
    return pages


def test_models_as_of_a_date_are_exactly_that_snapshots_models(db_url):
    directories = snapshot_dirs("pytorch_hub")
    run_cli("crawl", "pytorch_hub", *replay_args(*directories), db=db_url)
    runs = cli_json("runs", "--store", "pytorch_hub", db=db_url)
    assert [run["status"] for run in runs] == ["complete"] * len(directories)
    listed = cli_json("models", "pytorch_hub", "--as-of", "2021-01-01", db=db_url)
    truth = pytorch_models_in(snapshot_dir("pytorch_hub", "2020-12-31"))
    assert {model["model_id"] for model in listed} == truth.keys()
    assert {model["model_id"]: model["name"] for model in listed} == {key: fm["title"] for key, fm in truth.items()}
    for directory in directories:
        ids = {model["model_id"] for model in cli_json("models", "pytorch_hub", "--as-of", directory.name, db=db_url)}
        assert ids == pytorch_models_in(directory).keys(), directory.name


def test_history_shows_a_front_matter_change_with_its_dates(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    before, after = snapshot_dir("pytorch_hub", "2019-09-30"), snapshot_dir("pytorch_hub", "2019-12-31")
    run_cli("crawl", "pytorch_hub", *replay_args(before, after), db=db)
    old_tags = pytorch_models_in(before)["pytorch_vision_resnet"]["tags"]
    new_tags = pytorch_models_in(after)["pytorch_vision_resnet"]["tags"]
    assert old_tags != new_tags
    history = cli_json("history", "pytorch_hub", "pytorch_vision_resnet", db=db)
    assert [(v["valid_from"], v["valid_to"], v["change"]) for v in history] == [
        ("2019-09-30T00:00:00Z", "2019-12-31T00:00:00Z", "added"),
        ("2019-12-31T00:00:00Z", None, "changed"),
    ]
    assert history[1]["changes"]["keywords"] == {"old": old_tags, "new": new_tags}
    table = run_cli("history", "pytorch_hub", "pytorch_vision_resnet", db=db).stdout
    assert "2019-12-31" in table and "keywords" in table


def test_replaying_a_snapshot_twice_adds_no_version_rows(db_url):
    directory = snapshot_dir("onnx_zoo", "2023-12-26")
    result = run_cli("crawl", "onnx_zoo", *replay_args(directory), "--verbose", db=db_url, env={"GITHUB_TOKEN": "secret"})
    assert not re.search(r"WARNING|ERROR|Traceback", result.stderr), result.stderr  # nothing to worry a user
    first = cli_json("history", "onnx_zoo", "vision/classification/resnet/model/resnet50-v1-12.onnx", db=db_url)
    run_cli("crawl", "onnx_zoo", *replay_args(directory), db=db_url)
    again = cli_json("runs", "--store", "onnx_zoo", db=db_url)[-1]
    assert again["status"] == "complete" and again["models_seen"] == 184
    assert (again["added"], again["changed"], again["removed"], again["returned"]) == (0, 0, 0, 0)
    assert cli_json("history", "onnx_zoo", "vision/classification/resnet/model/resnet50-v1-12.onnx", db=db_url) == first


def test_onnx_path_moves_are_changes_not_new_models(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    dates = ("2023-07-12", "2023-12-08", "2023-12-26")
    run_cli("crawl", "onnx_zoo", *replay_args(*(snapshot_dir("onnx_zoo", d) for d in dates)), db=db)
    runs = cli_json("runs", "--store", "onnx_zoo", db=db)
    entries = json.loads((snapshot_dir("onnx_zoo", "2023-12-26") / ONNX_MANIFEST).read_text())
    for run in runs[1:]:
        assert (run["added"], run["removed"], run["changed"]) == (0, 0, len(entries))
    model_id = "text/machine_comprehension/bert-squad/model/bertsquad-10.onnx"
    history = cli_json("history", "onnx_zoo", model_id, db=db)
    paths = [v["changes"].get("access", {}).get("new", {}).get("model_path") for v in history[1:]]
    assert paths == ["archive/" + model_id, "validated/" + model_id]


def tfhub_handles(directory: Path) -> set[str]:
    listing = json.loads((directory / TFHUB_TREE).read_text())
    handles = set()
    for entry in listing["tree"]:
        parts = entry["path"].split("/")
        if parts[:2] == ["assets", "docs"] and parts[3] == "models":
            handles.add("/".join([parts[2], *parts[4:-1]]))
    return handles


def test_tfhub_models_and_identity_across_the_docs_folder_move(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    real = snapshot_dir("tfhub", "2021-06-30")
    run_cli("crawl", "tfhub", *replay_args(real), db=db)
    assert {m["model_id"] for m in cli_json("models", "tfhub", db=db)} == tfhub_handles(real)

    # The same snapshot as it would look with the docs under the older assets/g3doc/ folder, a day later.
    moved = tmp_path / "2021-07-01"
    shutil.copytree(real, moved)
    docs = moved / "raw.githubusercontent.com/tensorflow/tfhub.dev/master/assets"
    (docs / "docs").rename(docs / "g3doc")
    tree = moved / TFHUB_TREE
    tree.write_text(tree.read_text().replace('"assets/docs/', '"assets/g3doc/'))
    meta = json.loads((moved / "SNAPSHOT.json").read_text())
    (moved / "SNAPSHOT.json").write_text(json.dumps({**meta, "observed_at": "2021-07-01T00:00:00Z"}))

    run_cli("crawl", "tfhub", *replay_args(moved), db=db)
    run = cli_json("runs", "--store", "tfhub", db=db)[-1]
    assert run["status"] == "complete" and run["models_seen"] == len(tfhub_handles(real))
    assert (run["added"], run["removed"], run["changed"]) == (0, 0, 0)


def test_failed_listing_removes_nothing_and_the_next_run_continues(db_url):
    first, second, third = (snapshot_dir("pytorch_hub", d) for d in ("2019-06-30", "2019-09-30", "2019-12-31"))
    run_cli("crawl", "pytorch_hub", *replay_args(first), db=db_url)
    failed = run_cli("crawl", "pytorch_hub", *replay_args(second), "--fail", "/api.github.com/*=500", db=db_url, check=False)
    assert failed.returncode == 1
    run = cli_json("runs", "--store", "pytorch_hub", db=db_url)[-1]
    assert run["status"] == "failed" and run["removed"] == 0 and "HTTP 500" in run["error_summary"]
    still = {m["model_id"] for m in cli_json("models", "pytorch_hub", db=db_url)}
    assert still == pytorch_models_in(first).keys()
    run_cli("crawl", "pytorch_hub", *replay_args(third), db=db_url)
    assert {m["model_id"] for m in cli_json("models", "pytorch_hub", db=db_url)} == pytorch_models_in(third).keys()


def test_failed_model_page_keeps_the_model(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    first, second = snapshot_dir("pytorch_hub", "2019-06-30"), snapshot_dir("pytorch_hub", "2019-09-30")
    run_cli("crawl", "pytorch_hub", *replay_args(first), db=db)
    run_cli("crawl", "pytorch_hub", *replay_args(second), "--fail", "*/pytorch_vision_alexnet.md=503", db=db)
    run = cli_json("runs", "--store", "pytorch_hub", db=db)[-1]
    assert run["status"] == "complete" and run["errors"] == 1
    assert "pytorch_vision_alexnet" in {m["model_id"] for m in cli_json("models", "pytorch_hub", db=db)}


def test_crawl_stopped_midway_is_partial_and_removes_nothing(db_url):
    """A crawl cut short (Scrapy closes the spider early, as on Ctrl-C) records a partial run."""
    first, second = snapshot_dir("tfhub", "2020-12-31"), snapshot_dir("tfhub", "2021-06-30")
    run_cli("crawl", "tfhub", *replay_args(first), db=db_url)
    before = {m["model_id"] for m in cli_json("models", "tfhub", db=db_url)}
    script = (
        "from crawler.runner import run_crawls; from crawler.replay import Snapshot; import sys; "
        "run_crawls([('tfhub', Snapshot.load(sys.argv[1]))], database_url=sys.argv[2], "
        "extra_settings={'CLOSESPIDER_ITEMCOUNT': 200})"
    )
    subprocess.run([sys.executable, "-c", script, str(second), db_url], check=True, cwd=ROOT, capture_output=True)
    run = cli_json("runs", "--store", "tfhub", db=db_url)[-1]
    assert run["status"] == "partial" and run["removed"] == 0 and "ended early" in run["error_summary"]
    assert run["models_seen"] < len(tfhub_handles(second))
    after = {m["model_id"] for m in cli_json("models", "tfhub", db=db_url)}
    assert before <= after
