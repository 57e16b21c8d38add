"""`storewatch serve`: Datasette over a database recorded from real snapshots, each canned query read as JSON and
checked against the command that answers the same question."""

from __future__ import annotations

import html
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from datetime import datetime
from itertools import product
from pathlib import Path
from urllib.parse import urlencode

import pytest

from conftest import ROOT, cli_json, run_cli, snapshot_dir
from queryui.canned import canned_queries
from queryui.functions import add_functions
from storage.models import Base
from storage.timeutil import UTCDateTime

FAILED_STATUSES = {"failed", "suspect", "partial"}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\.\d{6}Z?")


def snapshot_copy(tmp: Path, store: str, date: str, observed_at: str) -> Path:
    """A shipped snapshot observed again at another instant."""
    copy = tmp / f"{store}-{observed_at[:10]}"
    shutil.copytree(snapshot_dir(store, date), copy)
    meta = json.loads((copy / "SNAPSHOT.json").read_text())
    (copy / "SNAPSHOT.json").write_text(json.dumps({**meta, "observed_at": observed_at}))
    return copy


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> str:
    """PyTorch Hub on four dates (the last, at 10:30, brings back the four models removed on the second), then a
    suspect, a partial and a failed run; ONNX Model Zoo on two dates; ModelDepot's three capture days (at times
    other than midnight)."""
    tmp = tmp_path_factory.mktemp("serve")
    db = str(tmp / "storewatch.db")
    pytorch = [snapshot_dir("pytorch_hub", d) for d in ("2019-06-30", "2019-09-30", "2019-12-31")]
    pytorch.append(snapshot_copy(tmp, "pytorch_hub", "2019-06-30", "2020-03-15T10:30:00Z"))
    run_cli("crawl", "pytorch_hub", *(arg for path in pytorch for arg in ("--replay", str(path))), db=db)
    for observed_at, fault in [
        ("2020-04-01T00:00:00Z", 'api.github.com/*=json:{"tree":[]}'),  # a listing of nothing: suspect
        ("2020-05-01T00:00:00Z", "raw.githubusercontent.com/*=404"),  # every model page fails: partial
        ("2020-06-01T00:00:00Z", "api.github.com/*=404"),  # no listing: failed
    ]:
        copy = snapshot_copy(tmp, "pytorch_hub", "2019-12-31", observed_at)
        run_cli("crawl", "pytorch_hub", "--replay", str(copy), "--fail", fault, db=db, check=False)
    run_cli("crawl", "onnx_zoo", "--replay", str(snapshot_dir("onnx_zoo", "2023-07-12")), "--replay", str(snapshot_dir("onnx_zoo", "2023-12-08")), db=db)
    run_cli("crawl", "modeldepot", "--replay", str(ROOT / "snapshots" / "modeldepot" / "wayback"), db=db)
    return db


@contextmanager
def served(db: str, *args: str):
    """`storewatch serve` on a free port, its base URL once it answers; always stopped afterwards."""
    command = [sys.executable, "-m", "crawler.cli", "serve", "--db", db, "--port", "0", *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else ""
        assert "http://" in line, f"storewatch serve did not start: {line!r} {process.stderr.read() if process.poll() is not None else ''}"
        url = line.split("http://", 1)[1].split()[0]
        yield process, f"http://{url}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        process.stderr.close()


@pytest.fixture(scope="module")
def server(recorded) -> str:
    with served(recorded) as (_, url):
        yield url


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def rows(server: str, query: str, **params: str) -> list[dict]:
    answer = json.loads(fetch(f"{server}/{query}.json?{urlencode({**params, '_shape': 'objects'})}"))
    assert not answer.get("truncated") and not answer.get("error"), answer
    return answer["rows"]


def instant(text: str | None) -> datetime | None:
    """A timestamp as stored ('2020-03-15 10:30:00.000000' or '2020-03-15T10:30:00.000000Z') or as the CLI prints it."""
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def test_every_canned_query_answers(server):
    for query in canned_queries():
        answer = json.loads(fetch(f"{server}/{query.name}.json?{urlencode({'store': 'pytorch_hub', '_shape': 'objects'})}"))
        assert "rows" in answer and not answer.get("error"), (query.name, answer)


@pytest.mark.parametrize(
    ("store", "date"),
    [
        ("pytorch_hub", "2019-09-30"),
        ("pytorch_hub", "2020-03-14"),
        ("pytorch_hub", "2020-03-15"),  # the run at 10:30 that day counts: a date means its end
        ("pytorch_hub", ""),
        ("modeldepot", "2019-03-19"),
        ("modeldepot", "2019-03-20"),
        ("onnx_zoo", "2023-12-08"),
    ],
)
def test_a_store_as_of_a_date_is_what_models_as_of_lists(server, recorded, store, date):
    listed = cli_json("models", store, *(["--as-of", date] if date else []), db=recorded)
    answer = rows(server, "store_as_of", store=store, date=date)
    assert [row["model_id"] for row in answer] == [model["model_id"] for model in listed]
    assert [json.loads(row["elements"]) for row in answer] == [{k: v for k, v in model.items() if k != "model_id"} for model in listed]
    assert answer and all(row["name"] == json.loads(row["elements"]).get("name") for row in answer)


def test_the_end_of_the_day_decides_and_a_malformed_date_matches_nothing(server):
    day_before = {row["model_id"] for row in rows(server, "store_as_of", store="pytorch_hub", date="2020-03-14")}
    that_day = {row["model_id"] for row in rows(server, "store_as_of", store="pytorch_hub", date="2020-03-15")}
    assert day_before != that_day
    assert rows(server, "store_as_of", store="pytorch_hub", date="2019-06-29") == []
    for malformed in ("2020-3-15", "2020-02-30", "2020-03-15T10:30:00Z", "yesterday"):
        assert rows(server, "store_as_of", store="pytorch_hub", date=malformed) == []


def test_the_history_of_a_model_is_what_history_shows(server, recorded):
    diff = cli_json("diff", "pytorch_hub", "--from", "2019-09-30", "--to", "2020-03-15", db=recorded)
    assert diff["returned"] and diff["removed"] and diff["changed"]
    for model_id in (diff["returned"][0], diff["removed"][0], diff["changed"][0]["model_id"], "pytorch_vision_resnet"):
        shown = cli_json("history", "pytorch_hub", model_id, db=recorded)
        answer = rows(server, "model_history", store="pytorch_hub", model_id=model_id)
        assert [
            (instant(r["valid_from"]), instant(r["valid_to"]), r["change"], r["ended_by"], json.loads(r["changes"]), json.loads(r["elements"]))
            for r in answer
        ] == [
            (instant(v["valid_from"]), instant(v["valid_to"]), v["change"], v["ended_by"], v["changes"], v["elements"])
            for v in shown
        ], model_id
    assert rows(server, "model_history", store="onnx_zoo", model_id="pytorch_vision_resnet") == []


@pytest.mark.parametrize(
    ("store", "start", "end"),
    [
        ("pytorch_hub", "2019-06-30", "2019-09-30"),
        ("pytorch_hub", "2019-09-30", "2020-03-15"),  # four models come back
        ("pytorch_hub", "2019-06-30", ""),
        ("pytorch_hub", "2020-03-15", "2020-03-15"),
        ("onnx_zoo", "2023-07-12", "2023-12-08"),  # every model moved: 184 changes
        ("modeldepot", "2018-06-15", "2020-01-10"),
    ],
)
def test_the_diff_between_two_dates_is_what_diff_lists(server, recorded, store, start, end):
    expected = cli_json("diff", store, "--from", start, *(["--to", end] if end else []), db=recorded)
    answer = rows(server, "store_diff", store=store, **{"from": start, "to": end})
    by_change = {kind: [row["model_id"] for row in answer if row["change"] == kind] for kind in ("added", "removed", "returned")}
    assert by_change == {kind: expected[kind] for kind in ("added", "removed", "returned")}
    changed = {row["model_id"]: json.loads(row["changes"]) for row in answer if row["change"] == "changed"}
    assert changed == {change["model_id"]: change["elements"] for change in expected["changed"]}
    assert len(answer) == sum(len(expected[kind]) for kind in ("added", "removed", "returned", "changed"))


def test_a_diff_backwards_matches_nothing(server):
    assert rows(server, "store_diff", store="pytorch_hub", **{"from": "2020-03-15", "to": "2019-06-30"}) == []


def test_models_with_the_same_name_in_several_stores_are_pairs_compare_proposes(server, recorded):
    groups = rows(server, "same_name_in_several_stores", date="")
    proposed = {
        frozenset((model["store"], model["model_id"]) for model in match["models"]) for match in cli_json("compare", db=recorded)["matches"]
    }
    alexnet = next(group for group in groups if group["same_name"] == "alexnet")
    assert ("pytorch_hub", "pytorch_vision_alexnet") in {(m["store"], m["model_id"]) for m in json.loads(alexnet["members"])}
    for group in groups:
        members = json.loads(group["members"])
        assert group["stores"] == len({m["store"] for m in members}) >= 2 and group["models"] == len(members)
        for a, b in product(members, members):
            if a["store"] < b["store"]:
                assert frozenset([(a["store"], a["model_id"]), (b["store"], b["model_id"])]) in proposed, (a, b)
    assert rows(server, "same_name_in_several_stores", date="2022-12-31") == []  # ONNX not yet recorded


@pytest.mark.parametrize("store", ["", "pytorch_hub", "onnx_zoo"])
def test_runs_that_failed_are_the_failed_suspect_and_partial_runs(server, recorded, store):
    expected = [run for run in cli_json("runs", *(["--store", store] if store else []), db=recorded) if run["status"] in FAILED_STATUSES]
    answer = rows(server, "runs_that_failed", store=store)
    assert [(row["id"], row["status"], row["error_summary"]) for row in answer] == [
        (run["id"], run["status"], run["error_summary"]) for run in reversed(expected)
    ]
    if store != "onnx_zoo":
        assert {row["status"] for row in answer} == FAILED_STATUSES


def test_every_table_and_column_is_explained_and_foreign_keys_show_the_model(server):
    for table in Base.metadata.tables.values():
        page = html.unescape(fetch(f"{server}/{table.name}").decode())
        for column in table.columns:
            assert column.doc, f"{table.name}.{column.name} has no doc="
            assert f"<dt>{column.name}</dt><dd>{column.doc}</dd>" in page, (table.name, column.name)
    index = fetch(server).decode()
    assert "alembic_version" not in index and all(query.title in html.unescape(index) for query in canned_queries())
    version = json.loads(fetch(f"{server}/model_versions.json?_labels=on&_size=1&_shape=array"))[0]
    model = json.loads(fetch(f"{server}/models/{version['model_pk']['value']}.json?_shape=array"))[0]
    assert version["model_pk"]["label"] == model["model_id"]


def _other_timestamp_form(path: Path) -> None:
    """Rewrite every timestamp in the other text form storewatch writes (with a space and no zone, or ISO with T...Z)."""
    connection = sqlite3.connect(path)
    for table in Base.metadata.tables.values():
        for column in (c.name for c in table.columns if isinstance(c.type, UTCDateTime)):
            connection.execute(
                f"UPDATE {table.name} SET {column} = CASE WHEN substr({column}, 11, 1) = ' '"
                f" THEN substr({column}, 1, 10) || 'T' || substr({column}, 12) || 'Z'"
                f" ELSE substr({column}, 1, 10) || ' ' || substr({column}, 12, 15) END WHERE {column} IS NOT NULL"
            )
    connection.commit()
    connection.close()


def _same_form(value):
    return instant(value) if isinstance(value, str) and TIMESTAMP.fullmatch(value) else value


def test_the_queries_answer_the_same_whichever_way_timestamps_are_written(recorded, tmp_path):
    other = tmp_path / "other.db"
    shutil.copy(recorded, other)
    _other_timestamp_form(other)
    asked = [
        ("store_as_of", {"store": "pytorch_hub", "date": date}) for date in ("2019-09-29", "2019-09-30", "2020-03-15", "")
    ] + [
        ("store_as_of", {"store": "modeldepot", "date": "2019-03-20"}),
        ("model_history", {"store": "pytorch_hub", "model_id": "pytorch_vision_resnet"}),
        ("store_diff", {"store": "pytorch_hub", "from": "2019-09-30", "to": "2020-03-15"}),
        ("store_diff", {"store": "modeldepot", "from": "2018-06-15", "to": "2019-03-20"}),
        ("same_name_in_several_stores", {"date": "2023-12-08"}),
        ("runs_that_failed", {"store": ""}),
    ]
    sql = {query.name: query.sql for query in canned_queries()}
    answers = {}
    for path in (Path(recorded), other):
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        add_functions(connection)
        answers[path] = [[tuple(map(_same_form, row)) for row in connection.execute(sql[name], params)] for name, params in asked]
        connection.close()
    assert answers[Path(recorded)] == answers[other]
    assert all(answers[other][:5]) and answers[other][0] != answers[other][1]


def test_ctrl_c_stops_the_server_and_frees_its_port(recorded):
    with served(recorded) as (process, url):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def one_error_line(result: subprocess.CompletedProcess, *parts: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])


def test_without_datasette_it_says_how_to_install_it(recorded):
    hide_datasette = "import sys; sys.modules['datasette'] = None; from crawler.cli.app import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", hide_datasette, "serve", "--db", recorded], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    one_error_line(result, "storewatch serve needs Datasette: pip install 'storewatch[serve]'")


def test_postgresql_is_refused_in_one_line_with_the_password_hidden():
    result = run_cli("serve", "--db", "postgresql://user:secret@127.0.0.1:5432/test", check=False)
    one_error_line(result, "reads SQLite files only", "postgresql://user:***@127.0.0.1:5432/test")
    assert "secret" not in result.stderr


def test_a_port_in_use_is_refused_in_one_line(recorded):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--db", recorded, "--port", str(port), check=False)
    one_error_line(result, f"cannot listen on 127.0.0.1:{port}: Address already in use")
