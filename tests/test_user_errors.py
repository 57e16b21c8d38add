"""A user's mistake is one `error:` line on stderr, exit status 2, no traceback, no password shown, nothing created."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from conftest import run_cli, snapshot_dir
from storage.db import open_database
from storage.writer import SnapshotWriter

SNAPSHOT = str(snapshot_dir("onnx_zoo", "2023-12-26"))
# Root ignores file permissions; without these capabilities it meets them as any user does.
UNPRIVILEGED = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner") if os.geteuid() == 0 else ()


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def assert_one_error_line(result, *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in expected:
        assert part in lines[0], lines[0]
    assert "secret" not in result.stdout + result.stderr


def record_one_model(db_url: str) -> None:
    engine = open_database(db_url)
    writer = SnapshotWriter(engine, "onnx_zoo", datetime(2023, 12, 26, tzinfo=timezone.utc), "onnx_zoo/1")
    writer.start()
    for index in range(300):  # several pages, so that a truncated copy loses tables
        writer.add(f"vision/model-{index}", {"name": f"Model {index}", "description": "x" * 200}, {})
    writer.finish("complete")
    engine.dispose()


@pytest.mark.parametrize("command", [["runs"], ["models", "onnx_zoo"], ["crawl", "onnx_zoo", "--replay", SNAPSHOT]], ids=" ".join)
@pytest.mark.parametrize("damage", ["not a database", "truncated"])
def test_a_file_that_is_not_a_database(command, damage, tmp_path):
    path = tmp_path / "storewatch.db"
    if damage == "not a database":
        path.write_text("model_id,name\nresnet,ResNet\n" * 200)
        expected = "file is not a database"
    else:
        record_one_model(f"sqlite:///{path}")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        expected = "database disk image is malformed"
    before = files_under(tmp_path)
    result = run_cli(*command, db=str(path), check=False)
    assert_one_error_line(result, f"cannot open database sqlite:///{path}: {expected}")
    assert files_under(tmp_path) == before


@pytest.mark.parametrize(
    "url", ["mysql://user:secret@localhost/storewatch", "oracle://user:secret@localhost/storewatch", "postgresql+asyncpg://user:secret@localhost/storewatch"]
)
def test_a_database_other_than_sqlite_or_postgresql_is_refused_naming_both(url, tmp_path):
    result = run_cli("runs", db=url, check=False)
    assert_one_error_line(result, "cannot use", ":***@localhost/storewatch", "SQLite", "PostgreSQL")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://user:secret@localhost:notaport/storewatch", "not a database URL: postgresql://user:***@localhost:notaport/storewatch"),
        ("postgres ql://user:secret@localhost/storewatch", "not a database URL: postgres ql://user:***@localhost/storewatch"),
        ("postgresql://user:secret@localhost:99999/storewatch", "port 99999 is not between 1 and 65535"),
        ("postgresql://user:sec@ret@localhost/storewatch", "write an @ in the user or password as %40"),
        ("postgresql://user:secret@127.0.0.1:1/storewatch", "cannot open database postgresql://user:***@127.0.0.1:1/storewatch: connection failed"),
    ],
)
@pytest.mark.parametrize("command", [["runs"], ["crawl", "onnx_zoo", "--replay", SNAPSHOT]], ids=" ".join)
def test_a_bad_url_is_named_with_its_password_masked(command, url, reason):
    result = run_cli(*command, db=url, check=False)
    assert_one_error_line(result, reason)
    assert "ret@" not in result.stderr


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_replay_serve_refuses_a_port_out_of_range(port):
    result = run_cli("replay", "serve", SNAPSHOT, "--port", port, check=False)
    assert_one_error_line(result, "Invalid value for '--port'", "(see `storewatch replay serve --help`)")


def test_the_last_day_a_date_can_name_is_a_date(db_url, tmp_path):
    record_one_model(db_url)
    assert "vision/model-299" in run_cli("models", "onnx_zoo", "--as-of", "9999-12-31", db=db_url).stdout
    assert "+ vision/model-299" in run_cli("diff", "onnx_zoo", "--from", "2020-01-01", "--to", "9999-12-31", db=db_url).stdout
    run_cli("compare", "--as-of", "9999-12-31", db=db_url)
    run_cli("report", "--out", str(tmp_path / "report"), "--since", "9999-12-31", db=db_url)
    result = run_cli("models", "onnx_zoo", "--as-of", "9999-12-31T23:00:00-05:00", db=db_url, check=False)
    assert_one_error_line(result, "not a date: '9999-12-31T23:00:00-05:00' is out of range")


def make_read_only(db_url: str, what: str, tmp_path: Path) -> tuple[str, ...]:
    """Make the database read-only; the command prefix that then meets the restriction."""
    if db_url.startswith("sqlite"):
        if UNPRIVILEGED and not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: file permissions do not apply")
        (tmp_path / "storewatch.db").chmod(0o444) if what == "file" else tmp_path.chmod(0o555)
        return UNPRIVILEGED
    if what == "folder":
        pytest.skip("a PostgreSQL database has no folder")
    name = make_url(db_url).database
    admin = open_database(db_url)
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        connection.commit()
    admin.dispose()
    return ()


@pytest.mark.parametrize(
    "command",
    [["crawl", "onnx_zoo", "--replay", SNAPSHOT], ["db", "upgrade"], ["demo", "--snapshots", "EMPTY"]],
    ids=lambda command: command[0],
)
@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_write_command_on_a_read_only_database_stops_before_it_starts(command, what, db_url, tmp_path):
    open_database(db_url).dispose()
    empty = tmp_path.parent / f"{tmp_path.name}-empty"
    empty.mkdir()
    command = [str(empty) if part == "EMPTY" else part for part in command]
    prefix = make_read_only(db_url, what, tmp_path)
    before = files_under(tmp_path)
    try:
        result = run_cli(*command, db=db_url, check=False, prefix=prefix)
    finally:
        tmp_path.chmod(0o755)
    assert_one_error_line(result, "cannot write to the database")
    assert files_under(tmp_path) == before
    assert "running" not in run_cli("runs", "--format", "json", db=db_url).stdout


READ_COMMANDS = [
    ["runs"],
    ["models", "onnx_zoo"],
    ["history", "onnx_zoo", "vision/resnet"],
    ["diff", "onnx_zoo", "--from", "2020-01-01"],
    ["compare"],
    ["report", "--out", "REPORT"],
    ["status"],
    ["serve"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda command: command[0])
def test_a_read_command_on_a_missing_database_says_so_and_creates_nothing(command, tmp_path):
    path = tmp_path / "no" / "such" / "storewatch.db"
    command = [str(tmp_path / "report") if part == "REPORT" else part for part in command]
    result = run_cli(*command, db=str(path), check=False)
    assert_one_error_line(result, f"no database at {path}; crawl a store or run `storewatch demo` first")
    assert files_under(tmp_path) == []


def test_a_write_command_still_creates_a_new_database(tmp_path):
    path = tmp_path / "new" / "storewatch.db"
    run_cli("db", "upgrade", db=str(path))
    assert path.is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "--colour"], "No such option: --colour (see `storewatch runs --help`)"),
        (["runs", "--format", "xml"], "Invalid value for '--format'"),
        (["compare", "--limit", "many"], "Invalid value for '--limit'"),
        (["history", "onnx_zoo"], "Missing argument 'model_id'"),
        (["db", "downgrade"], "No such command 'downgrade'"),
    ],
)
def test_a_usage_mistake_is_one_line_not_a_usage_box(args, message, tmp_path):
    result = run_cli(*args, check=False)
    assert_one_error_line(result, message)
