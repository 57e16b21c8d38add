"""The replay server: a snapshot answers as the live hosts did, through one local port."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from conftest import snapshot_dir
from crawler.replay import ReplayServer, Snapshot
from storage.errors import StorewatchError

TREE = "/api.github.com/repos/tensorflow/tfhub.dev/git/trees/master?recursive=1"


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers["Content-Type"]


def test_serves_files_by_host_path_and_query():
    directory = snapshot_dir("tfhub", "2021-06-30")
    with ReplayServer(directory) as server:
        status, body, kind = fetch(server.url + TREE)
    assert status == 200 and kind.startswith("application/json")
    assert body == (directory / TREE.lstrip("/")).read_bytes()


def test_missing_file_snapshot_metadata_and_escapes_are_404():
    with ReplayServer(snapshot_dir("onnx_zoo", "2021-08-20")) as server:
        for path in ("/raw.githubusercontent.com/onnx/models/main/nope.json", "/SNAPSHOT.json", "/../../../etc/passwd",
                     "/%2e%2e/%2e%2e/conftest.py"):
            assert fetch(server.url + path)[0] == 404, path


def test_fault_rules_answer_with_the_given_status():
    with ReplayServer(snapshot_dir("onnx_zoo", "2021-08-20"), {"/raw.githubusercontent.com/*": 500}) as server:
        assert fetch(server.url + "/raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json")[0] == 500


def test_snapshot_metadata_is_read_and_checked(tmp_path):
    snapshot = Snapshot.load(snapshot_dir("pytorch_hub", "2020-12-31"))
    assert (snapshot.store, snapshot.observed_at.isoformat()) == ("pytorch_hub", "2020-12-31T00:00:00+00:00")
    with pytest.raises(StorewatchError, match="no SNAPSHOT.json"):
        Snapshot.load(tmp_path)
    (tmp_path / "SNAPSHOT.json").write_text(json.dumps({"store": "x", "observed_at": "last tuesday"}))
    with pytest.raises(StorewatchError, match="not a date"):
        Snapshot.load(tmp_path)
