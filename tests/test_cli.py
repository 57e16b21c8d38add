"""What a user sees from the CLI: one clear line and a non-zero exit for mistakes, help with examples."""

from __future__ import annotations

import pytest

from conftest import ROOT, cli_json, run_cli, snapshot_dir

COMMANDS = [["crawl"], ["backfill"], ["reextract"], ["import"], ["runs"], ["accept"], ["models"], ["history"], ["metrics"], ["stores"], ["export"], ["diff"], ["compare"], ["report"], ["demo"], ["schedule"], ["status"], ["serve"], ["db", "upgrade"], ["replay", "serve"], ["archive", "pack"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "nosuchstore"], "unknown store 'nosuchstore'; known stores: aws_marketplace, huggingface, kaggle_models, modeldepot, onnx_zoo, pytorch_hub, replicate, tfhub, wolfram_nnr"),
        (["crawl", "nosuchstore"], "unknown store 'nosuchstore'"),
        (["crawl", "onnx_zoo", "--replay", "/no/such/dir"], "snapshot directory not found: /no/such/dir"),
        (["crawl", "onnx_zoo", "--replay", "tests"], "not a snapshot directory (no SNAPSHOT.json)"),
        (["crawl", "onnx_zoo", "--replay", str(snapshot_dir("pytorch_hub", "2019-06-30"))], "is a snapshot of 'pytorch_hub', not 'onnx_zoo'"),
        (["models", "onnx_zoo", "--as-of", "2021-02-30"], "not a date: '2021-02-30'"),
        (["runs", "--db", "postgresql://nobody@127.0.0.1:1/none"], "cannot open database"),
        (["runs", "--db", "sqlite:////proc/no/such/dir/x.db"], "no database at /proc/no/such/dir/x.db"),
        (["crawl", "onnx_zoo", "--db", "sqlite:////proc/no/such/dir/x.db"], "cannot open database"),
        (["replay", "serve", "/no/such/dir"], "snapshot directory not found"),
        (["crawl", "pytorch_hub", "--replay", "run:last"], "run:N takes a run number"),
        (["crawl", "pytorch_hub", "--replay", "run:7"], "no run 7 in this database"),
        (["crawl", "pytorch_hub", "--replay", "/no/such/run.warc.gz"], "WARC file not found: /no/such/run.warc.gz"),
        (["backfill", "modeldepot", "--from", "2020-13-01"], "not a date: '2020-13-01'"),
        (["backfill", "modeldepot", "--every", "monthly"], "not an interval: 'monthly'"),
        (["backfill", "modeldepot", "--from", "2020-01-01", "--to", "2019-01-01"], "--from 2020-01-01 is after --to 2019-01-01"),
        (["backfill", "modeldepot", "--replay", str(snapshot_dir("pytorch_hub", "2019-06-30"))], "is a snapshot of 'pytorch_hub', not 'modeldepot'"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_non_zero(args, message, tmp_path):
    db = [] if "--db" in args else ["--db", f"sqlite:///{tmp_path / 'x.db'}"]
    result = run_cli(*args, *db, check=False) if args[0] not in ("replay",) else run_cli(*args, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_older_snapshot_is_refused_with_a_reason(tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    run_cli("crawl", "onnx_zoo", "--replay", str(snapshot_dir("onnx_zoo", "2023-12-26")), db=db)
    result = run_cli("crawl", "onnx_zoo", "--replay", str(snapshot_dir("onnx_zoo", "2021-08-20")), db=db, check=False)
    assert result.returncode == 2
    assert "older than the latest run (2023-12-26T00:00:00Z)" in result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command):
    result = run_cli(*command, "--help")
    assert "Example:" in result.stdout and f"storewatch {' '.join(command)}" in result.stdout


def test_stores_lists_each_store_with_its_identity_rule():
    output = run_cli("stores").stdout
    for store in ("pytorch_hub", "tfhub", "onnx_zoo"):
        assert store in output
    rules = {row["store"]: row["model_id"] for row in cli_json("stores")}
    assert "archive/ or validated/" in rules["onnx_zoo"]


def test_csv_output_has_a_column_per_element(tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    run_cli("crawl", "onnx_zoo", "--replay", str(snapshot_dir("onnx_zoo", "2021-08-20")), db=db)
    lines = run_cli("models", "onnx_zoo", "--format", "csv", db=db).stdout.splitlines()
    assert lines[0].startswith("model_id,name,") and "io_format" in lines[0]
    assert len(lines) == 1 + 120


def test_store_list_matches_the_spiders():
    """Read-only commands know the stores without importing Scrapy; the list must name every spider."""
    from crawler.runner import project_settings
    from crawler.stores import known_stores
    from scrapy.spiderloader import SpiderLoader

    scrapy_loader = SpiderLoader.from_settings(project_settings())  # Scrapy's own: walks every spider module
    assert known_stores() == sorted(scrapy_loader.list())
    from crawler.stores import StoreSpiderLoader

    for store in known_stores():  # storewatch's loader, which imports only the store asked for, agrees
        assert StoreSpiderLoader().load(store) is scrapy_loader.load(store)


def registered_commands() -> list[list[str]]:
    import typer.main

    from crawler.cli.app import app

    group = typer.main.get_command(app)
    commands = []
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", None)
        commands += [[name, sub] for sub in subcommands] if subcommands else [[name]]
    return commands


def test_every_registered_command_is_checked_for_help_and_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for command in registered_commands():
        assert command in COMMANDS, f"add {command} to COMMANDS so its help is checked"
        assert f"storewatch {' '.join(command)}" in readme, f"the README does not show `storewatch {' '.join(command)}`"
