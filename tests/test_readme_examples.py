"""Every console example in the README runs as written on the demo database, and prints what the README shows.

Each ```console block runs in a folder of its own holding a copy of the demo database at the default path
(`data/storewatch.db`) and the shipped `snapshots/`, its `$ storewatch ...` lines in order. A line followed
by output in the README must print output of the same shape: the same table headers and number of cells, the
same JSON keys, the same lines once numbers are set aside. Lines that cannot run here are listed below with
the reason; a console line that is neither run nor listed fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from conftest import ROOT, demo_copy

README = ROOT / "README.md"

NOT_RUN = {  # the line as written, without its comment
    "python3 -m venv ~/storewatch && ~/storewatch/bin/pip install .": "builds and installs the package: tests/test_packaging.py",
    'cd "$(mktemp -d)" && ~/storewatch/bin/storewatch demo': "the installed package's demo: tests/test_packaging.py",
    "pip install 'storewatch[serve]'": "installs a package (the test environment has the extra)",
    "storewatch serve": "a server that runs until it is stopped: tests/test_serve.py starts it on a free port",
    "storewatch serve --db data/storewatch.db --host 127.0.0.1 --port 8001": "a server that runs until it is stopped",
    "make demo": "builds the virtual environment, then runs `storewatch demo`: the `demo` fixture runs it",
    "make test": "the test suite itself",
    "make run": "the scheduler on the live stores, until it is stopped",
    "make check": "`alembic check`: tests/test_migrations.py runs it",
    "make bench": "the benchmarks, tens of minutes",
    ".venv/bin/pytest tests/test_snapshot_writer.py -k partial": "part of the test suite",
    "storewatch crawl onnx_zoo": "crawls the live store; the tests never touch the network",
    "storewatch crawl replicate": "crawls the live store when REPLICATE_API_TOKEN is set; tests/test_spider_replicate.py runs it without",
    "storewatch crawl kaggle_models": "crawls the live store when Kaggle credentials exist; tests/test_spider_kaggle_models.py runs it without",
    "storewatch backfill modeldepot --from 2018-01-01 --to 2020-12-31 --every 1M": "reads the live Wayback Machine",
    "storewatch backfill pytorch_hub --git ~/src/pytorch-hub --from 2019-06-01 --to 2024-04-30 --every 1M": "needs a clone of pytorch/hub: tests/test_git_backfill.py backfills repositories it builds",
    "storewatch backfill tfhub --git --every commit": "clones from GitHub; the tests never touch the network (tests/test_git_backfill.py clones a file:// URL and checks that --git alone names the store's repository)",
    "storewatch replay serve snapshots/onnx_zoo/2023-12-26 --port 8000": "a server that runs until it is stopped",
    "storewatch crawl pytorch_hub --replay run:38": "the demo copy holds the database, not its archive: tests/test_webarchive.py replays run:N",
    "storewatch crawl pytorch_hub --replay data/archive/pytorch_hub/pytorch_hub-run38-*.warc.gz": "the demo copy holds the database, not its archive: tests/test_webarchive.py replays a WARC file",
    "storewatch reextract pytorch_hub --into rebuilt.db": "the demo copy holds the database, not its archive: tests/test_reextract.py re-extracts",
    "storewatch reextract pytorch_hub --in-place": "the demo copy holds the database, not its archive: tests/test_reextract.py re-extracts in place",
    "storewatch archive pack run:38 --out pytorch_hub-2024-04-30.wacz": "the demo copy holds the database, not its archive: tests/test_reextract.py packs a demo run",
    "curl http://127.0.0.1:8000/raw.githubusercontent.com/onnx/models/main/ONNX_HUB_MANIFEST.json": "asks the server above",
    "createdb storewatch": "the PostgreSQL quick start: needs a server of its own and its tools",
    "export STOREWATCH_DATABASE_URL=postgresql://localhost/storewatch": "the PostgreSQL quick start",
    "storewatch demo": "the PostgreSQL quick start (on SQLite the `demo` fixture runs it)",
    "storewatch schedule --config storewatch.toml --db postgresql://localhost/storewatch": "a service that runs until it is stopped",
}

# Examples whose documented exit status is not 0.
EXIT_STATUS = {
    "storewatch crawl onnx_zoo --replay snapshots/onnx_zoo/2023-12-26 --fail 'raw.githubusercontent.com/onnx/*=json:[]'": 1,  # suspect
}


@dataclass
class Example:
    line: int  # in README.md
    command: str  # as written, continuation lines joined, without its comment
    shown: list[str] = field(default_factory=list)  # the output the README shows after it


def console_blocks() -> list[tuple[int, list[Example]]]:
    """(line, examples) of every ```console block in the README."""
    blocks, examples, start, continued = [], None, 0, False
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if examples is None:
            if line.strip() == "```console":
                examples, start = [], number
            continue
        if line.strip() == "```":
            blocks.append((start, examples))
            examples = None
        elif continued:
            examples[-1].command += " " + line.strip().removesuffix("\\").strip()
            continued = line.rstrip().endswith("\\")
        elif line.startswith("$ "):
            examples.append(Example(number, line[2:].rstrip().removesuffix("\\").strip()))
            continued = line.rstrip().endswith("\\")
        elif examples:
            examples[-1].shown.append(line)
    return blocks


def written(command: str) -> str:
    """The command as written, without a `# comment` after it."""
    return re.sub(r"\s+#\s.*$", "", " ".join(command.split()))


BLOCKS = console_blocks()


def test_the_readme_has_console_examples_and_lists_only_lines_it_has():
    commands = {written(example.command) for _, examples in BLOCKS for example in examples}
    assert len(BLOCKS) > 10 and {"storewatch runs --format json", "storewatch compare"} <= commands
    assert set(NOT_RUN) <= commands and set(EXIT_STATUS) <= commands  # no reason kept for a line the README lost


@pytest.mark.parametrize("block", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_each_console_example_runs_as_written_on_the_demo_database(block, demo, tmp_path):
    _, examples = block
    demo_copy(demo, tmp_path)
    (tmp_path / "snapshots").symlink_to(ROOT / "snapshots")
    env = {key: value for key, value in os.environ.items() if key not in ("STOREWATCH_DATABASE_URL", "STOREWATCH_CONFIG")}
    for example in examples:
        command = written(example.command)
        if command in NOT_RUN:
            continue
        args = shlex.split(command)
        assert args[0] == "storewatch", f"README.md:{example.line}: {command!r} is neither run nor listed in NOT_RUN"
        result = subprocess.run(
            [sys.executable, "-m", "crawler.cli", *args[1:]], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
        )
        where = f"README.md:{example.line}: {command}"
        assert result.returncode == EXIT_STATUS.get(command, 0), f"{where} exited {result.returncode}:\n{result.stderr}"
        assert_same_shape(example.shown, result.stdout, where)


def assert_same_shape(shown: list[str], output: str, where: str) -> None:
    """Each line the README shows (`...` stands for lines left out) has its counterpart in the output, in order."""
    shown = [line for line in shown if line.strip() not in ("...", "…")]
    if not shown:
        return
    if shown[0].startswith(("{", "[")):
        assert json_keys(json.loads("\n".join(shown))) == json_keys(json.loads(output)), where
        return
    actual = output.splitlines()
    position = 0
    for line in shown:
        match = next((index for index in range(position, len(actual)) if same_shape(line, actual[index])), None)
        assert match is not None, f"{where}: nothing in the output is shaped like the README's\n{line}\noutput:\n{output}"
        position = match + 1


def same_shape(shown: str, actual: str) -> bool:
    """Table lines: the same header cells, or as many cells; other lines: the same once numbers are set aside."""
    shown, actual = shown.strip(), actual.strip()
    if shown.startswith("┃"):
        return cells(shown, "┃") == cells(actual, "┃")
    if shown.startswith("│"):
        return actual.startswith("│") and len(cells(shown, "│")) == len(cells(actual, "│"))
    if shown[:1] in "┏┡└┗━":
        return actual[:1] == shown[:1]
    return without_numbers(shown) == without_numbers(actual)


def cells(line: str, bar: str) -> list[str]:
    return [cell.strip() for cell in line.strip(bar).split(bar)]


def without_numbers(line: str) -> str:
    return re.sub(r"\d+", "0", " ".join(line.split()))


def json_keys(value):
    """The shape of a JSON value: an object's keys (and theirs), a list's first item's."""
    if isinstance(value, dict):
        return {key: json_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_keys(value[0])] if value else []
    return None


def test_the_demo_prints_the_lines_the_quick_start_shows(demo):
    text = README.read_text()
    sample = text[text.index("printing one\nline per store and date") :].split("```", 2)[1].strip().splitlines()
    printed = demo[1].splitlines()
    assert printed[0].startswith("replaying 45 snapshots of 9 stores through the scheduler")
    assert [line for line in printed if line in sample] == sample  # every one of them, oldest first


def test_the_store_table_lists_the_elements_the_stores_showed(demo):
    """The README's store table, `storewatch stores` and the shipped snapshots agree on what each store provides."""
    from sqlalchemy import select

    from storage.db import open_database
    from storage.models import CrawlRun, StoreCoverage

    listed = json.loads(subprocess.run(
        [sys.executable, "-m", "crawler.cli", "stores", "--format", "json"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout)
    readme, text = {}, README.read_text()
    table = text[text.index("Stores it crawls today:") :].split("\n\n", 2)[1]
    for row in re.findall(r"^\| `(\w+)` — .*\| (.+) \|$", table, re.MULTILINE):
        readme[row[0]] = {item.strip() for item in re.sub(r"\([^)]*\)", "", row[1]).split(",")}
    engine = open_database(f"sqlite:///{demo[0] / 'data' / 'storewatch.db'}", create=False)
    shown: dict[str, set[str]] = {}
    with engine.connect() as connection:
        for store, elements in connection.execute(
            select(CrawlRun.store, StoreCoverage.elements).join(CrawlRun, CrawlRun.id == StoreCoverage.run_id)
        ):
            shown.setdefault(store, set()).update(elements)
    engine.dispose()
    # Elements a store began to show after its shipped snapshots were recorded: declared, documented, not in the demo.
    later = {"replicate": {"published_at"}}  # the model object's `created_at`, from 2024 on
    shown = {store: elements | later.get(store, set()) for store, elements in shown.items()}
    assert {store["store"]: set(store["elements"]) for store in listed} == readme == shown
