"""The crawl-health gate: a listing that looks like an outage removes nothing, and removals wait for evidence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import cli_json, run_cli, snapshot_dir
from test_crawl_replay import TFHUB_TREE, pytorch_models_in, replay_args, tfhub_handles

ONNX_OLD, ONNX_NEW = snapshot_dir("onnx_zoo", "2023-12-08"), snapshot_dir("onnx_zoo", "2023-12-26")


def write_config(tmp_path: Path, store: str, **settings) -> Path:
    lines = [f"[stores.{store}]"] + [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    path = tmp_path / "storewatch.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def last_run(db: str, store: str) -> dict:
    return cli_json("runs", "--store", store, db=db)[-1]


def test_an_empty_listing_is_suspect_removes_nothing_and_the_next_good_run_returns_nothing(db_url):
    run_cli("crawl", "onnx_zoo", *replay_args(ONNX_OLD), db=db_url)
    outage = run_cli("crawl", "onnx_zoo", *replay_args(ONNX_NEW), "--fail", "raw.githubusercontent.com/onnx/*=json:[]", db=db_url, check=False)
    assert outage.returncode == 1
    assert "suspect" in outage.stdout and "-0 removed" in outage.stdout
    run = last_run(db_url, "onnx_zoo")
    assert (run["status"], run["models_seen"], run["removed"]) == ("suspect", 0, 0)
    assert run["error_summary"].startswith("suspect: the listing named no models; the store's last complete runs listed 184")
    assert len(cli_json("models", "onnx_zoo", db=db_url)) == 184
    assert [r["id"] for r in cli_json("runs", "--status", "suspect", db=db_url)] == [run["id"]]

    status = run_cli("status", "--format", "json", db=db_url, check=False)
    assert status.returncode == 1
    onnx = next(store for store in json.loads(status.stdout)["stores"] if store["store"] == "onnx_zoo")
    assert not onnx["healthy"] and f"run {run['id']} is suspect" in onnx["health_reasons"][0]

    run_cli("crawl", "onnx_zoo", *replay_args(ONNX_NEW), db=db_url)
    good = last_run(db_url, "onnx_zoo")
    assert (good["status"], good["added"], good["removed"], good["returned"]) == ("complete", 0, 0, 0)
    history = cli_json("history", "onnx_zoo", "vision/classification/resnet/model/resnet50-v1-12.onnx", db=db_url)
    # changed (the real December 2023 move to validated/), but never removed and back: no outage recorded
    assert [(version["change"], version["ended_by"]) for version in history] == [("added", "changed"), ("changed", None)]


def half_tfhub_snapshot(tmp_path: Path) -> tuple[Path, set[str]]:
    """The real 2021-06-30 TF Hub snapshot a day later, its tree listing cut to the docs of half the models."""
    real = snapshot_dir("tfhub", "2021-06-30")
    copy = tmp_path / "2021-07-01"
    shutil.copytree(real, copy, symlinks=True)
    tree_file = copy / TFHUB_TREE
    listing = json.loads(tree_file.read_text())
    dropped = set(sorted(tfhub_handles(real))[::2])
    listing["tree"] = [entry for entry in listing["tree"] if tfhub_handle(entry["path"]) not in dropped]
    tree_file.write_text(json.dumps(listing))
    (copy / "SNAPSHOT.json").write_text(json.dumps({"store": "tfhub", "observed_at": "2021-07-01T00:00:00Z"}))
    assert tfhub_handles(copy) == tfhub_handles(real) - dropped
    return copy, dropped


def tfhub_handle(path: str) -> str | None:
    parts = path.split("/")
    if parts[:2] == ["assets", "docs"] and len(parts) > 4 and parts[3] == "models":
        return "/".join([parts[2], *parts[4:-1]])
    return None


def test_half_a_listing_is_suspect_until_a_person_accepts_it(db_url, tmp_path):
    real = snapshot_dir("tfhub", "2021-06-30")
    run_cli("crawl", "tfhub", *replay_args(real), db=db_url)
    half, dropped = half_tfhub_snapshot(tmp_path)
    run_cli("crawl", "tfhub", *replay_args(half), db=db_url, check=False)
    run = last_run(db_url, "tfhub")
    assert run["status"] == "suspect" and run["removed"] == 0
    assert f"held for `storewatch accept {run['id']}`: {len(dropped)} missing models" in run["error_summary"]
    assert len(cli_json("models", "tfhub", db=db_url)) == len(tfhub_handles(real))

    refused = run_cli("accept", str(run["id"] - 1), db=db_url, check=False)
    assert refused.returncode == 2 and "is complete, not suspect" in refused.stderr
    accepted = run_cli("accept", str(run["id"]), db=db_url)
    assert f"run {run['id']} accepted" in accepted.stdout
    after = last_run(db_url, "tfhub")
    assert (after["status"], after["removed"]) == ("complete", len(dropped))
    assert {m["model_id"] for m in cli_json("models", "tfhub", db=db_url)} == tfhub_handles(real) - dropped
    assert {m["model_id"] for m in cli_json("models", "tfhub", "--as-of", "2021-06-30", db=db_url)} == tfhub_handles(real)
    diff = cli_json("diff", "tfhub", "--from", "2021-06-30", "--to", "2021-07-01", db=db_url)
    assert set(diff["removed"]) == dropped and diff["models"]["to"] == len(tfhub_handles(real)) - len(dropped)
    again = run_cli("accept", str(run["id"]), db=db_url, check=False)
    assert again.returncode == 2 and "is complete, not suspect" in again.stderr


def test_only_the_latest_run_can_be_accepted(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    run_cli("crawl", "onnx_zoo", *replay_args(ONNX_OLD), db=db)
    run_cli("crawl", "onnx_zoo", *replay_args(ONNX_NEW), "--fail", "*=json:[]", db=db, check=False)
    suspect = last_run(db, "onnx_zoo")
    run_cli("crawl", "onnx_zoo", *replay_args(ONNX_NEW), db=db)
    refused = run_cli("accept", str(suspect["id"]), db=db, check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith(f"error: run {suspect['id']} is not onnx_zoo's latest run")


def test_a_listing_of_the_wrong_shape_is_suspect(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    first, second = snapshot_dir("pytorch_hub", "2019-06-30"), snapshot_dir("pytorch_hub", "2019-09-30")
    run_cli("crawl", "pytorch_hub", *replay_args(first), db=db)
    run_cli("crawl", "pytorch_hub", *replay_args(second), "--fail", "api.github.com/*=html", db=db, check=False)
    run = last_run(db, "pytorch_hub")
    assert (run["status"], run["removed"]) == ("suspect", 0)
    assert "1 listing document not in the expected shape" in run["error_summary"]
    assert {m["model_id"] for m in cli_json("models", "pytorch_hub", db=db)} == pytorch_models_in(first).keys()


def test_most_model_pages_failing_is_partial_and_unhealthy(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    first, second = snapshot_dir("pytorch_hub", "2019-06-30"), snapshot_dir("pytorch_hub", "2019-09-30")
    run_cli("crawl", "pytorch_hub", *replay_args(first), db=db)
    run_cli("crawl", "pytorch_hub", *replay_args(second), "--fail", "raw.githubusercontent.com/*=503", db=db)
    run = last_run(db, "pytorch_hub")
    seen = len(pytorch_models_in(second))
    assert (run["status"], run["removed"], run["errors"]) == ("partial", 0, seen)
    assert run["error_summary"].startswith(f"{seen} of {seen} model pages unreadable")
    status = run_cli("status", "--format", "json", db=db, check=False)
    pytorch = next(store for store in json.loads(status.stdout)["stores"] if store["store"] == "pytorch_hub")
    assert status.returncode == 1 and f"{seen} of {seen} model pages could not be read" in pytorch["health_reasons"][0]


def test_with_confirm_removals_2_a_model_is_removed_as_of_its_first_absence(db_url, tmp_path):
    config = write_config(tmp_path, "pytorch_hub", confirm_removals=2)
    dates = ("2019-06-30", "2019-09-30", "2019-12-31")
    models = [pytorch_models_in(snapshot_dir("pytorch_hub", d)).keys() for d in dates]
    gone = models[0] - models[1]
    assert gone and not gone & models[2]  # the real history: models dropped in September 2019 stayed gone

    run_cli("crawl", "pytorch_hub", *replay_args(snapshot_dir("pytorch_hub", dates[0])), "--config", str(config), db=db_url)
    run_cli("crawl", "pytorch_hub", *replay_args(snapshot_dir("pytorch_hub", dates[1])), "--config", str(config), db=db_url)
    second = last_run(db_url, "pytorch_hub")
    assert (second["removed"], second["absent"]) == (0, len(gone))
    assert {m["model_id"] for m in cli_json("models", "pytorch_hub", db=db_url)} >= gone  # not removed on one absence

    out = run_cli("crawl", "pytorch_hub", *replay_args(snapshot_dir("pytorch_hub", dates[2])), "--config", str(config), db=db_url).stdout
    runs = cli_json("runs", "--store", "pytorch_hub", db=db_url)
    assert (runs[1]["removed"], runs[2]["removed"], runs[2]["absent"]) == (len(gone), 0, 0)  # dated at the first absence
    assert "-0 removed" in out
    for model_id in gone:
        history = cli_json("history", "pytorch_hub", model_id, db=db_url)
        assert (history[-1]["valid_to"], history[-1]["ended_by"]) == ("2019-09-30T00:00:00Z", "removed")
    assert {m["model_id"] for m in cli_json("models", "pytorch_hub", "--as-of", "2019-10-01", db=db_url)} == models[1]
    diff = cli_json("diff", "pytorch_hub", "--from", "2019-06-30", "--to", "2019-10-01", db=db_url)
    assert set(diff["removed"]) == gone and diff["models"]["to"] == len(models[1])


def test_a_model_missing_once_and_back_is_never_removed(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    config = write_config(tmp_path, "onnx_zoo", confirm_removals=2)
    model = "vision/classification/resnet/model/resnet50-v1-12.onnx"
    run_cli("crawl", "onnx_zoo", *replay_args(ONNX_OLD), "--config", str(config), db=db)
    dropped = tmp_path / "2023-12-20"
    shutil.copytree(ONNX_NEW, dropped, symlinks=True)
    manifest = dropped / "raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json"
    entries = json.loads(manifest.read_text())
    manifest.write_text(json.dumps([entry for entry in entries if not entry["model_path"].endswith(model)]))
    (dropped / "SNAPSHOT.json").write_text(json.dumps({"store": "onnx_zoo", "observed_at": "2023-12-20T00:00:00Z"}))
    run_cli("crawl", "onnx_zoo", *replay_args(dropped, ONNX_NEW), "--config", str(config), db=db)
    runs = cli_json("runs", db=db)
    assert [(run["removed"], run["absent"], run["returned"]) for run in runs[1:]] == [(0, 1, 0), (0, 0, 0)]
    assert cli_json("history", "onnx_zoo", model, db=db)[-1]["ended_by"] is None
