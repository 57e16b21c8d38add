"""Every fault class of the replay server, on each store family's listing and then on its model pages: the run
says what went wrong, nothing is removed, and the next good run carries on as if the outage never happened.

Families: API JSON (onnx_zoo: one manifest, no model pages), paged API JSON (kaggle_models: token pages, a JSON
answer per model), markdown (pytorch_hub), HTML (wolfram_nnr), browser (aws_marketplace), archive (modeldepot,
one run per capture day). Each test replays the store's good
snapshot (built once per module, copied per test), then its next snapshot with the fault on every listing
request, then with the fault on every model page, then cleanly; the truth is the same snapshots replayed
without faults.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import require_chromium, run_cli, snapshot_dir
from storage import queries
from storage.db import open_database

FAULTS = {  # fault class -> the action that rehearses it
    "status": "503",
    "empty": "empty",
    "truncate": "truncate:100",
    "html": "html",
    "slow": "slow:0.05",
    "reset": "reset",
    "json": "json:[]",
}
NO_ANSWER = ("status", "reset")  # README: no listing request answered -> failed; any other junk -> suspect


def replay(store: str, date: str) -> tuple[str, ...]:
    return ("crawl", store, "--replay", str(snapshot_dir(store, date)))


def archive(**window: str) -> tuple[str, ...]:
    bounds = [arg for key, day in window.items() for arg in (f"--{key.rstrip('_')}", day)]
    return ("backfill", "modeldepot", "--replay", str(snapshot_dir("modeldepot", "wayback")), "--backoff", "0.05", *bounds)


@dataclass(frozen=True)
class Family:
    """A store of one family: a good snapshot, the next one, and globs of its listing requests and model pages."""

    store: str
    good: tuple[str, ...]
    next: tuple[str, ...]
    listing: str
    pages: str | None = None  # None: the listing holds every record


FAMILIES = {
    "api-json": Family("onnx_zoo", replay("onnx_zoo", "2023-12-08"), replay("onnx_zoo", "2023-12-26"), "raw.githubusercontent.com/onnx/*"),
    "api-paged": Family(
        "kaggle_models", replay("kaggle_models", "2024-06-02"), replay("kaggle_models", "2026-01-14"), "www.kaggle.com/api/v1/models/list*",
        "www.kaggle.com/api/v1/models/*/*/get",
    ),
    "markdown": Family(
        "pytorch_hub", replay("pytorch_hub", "2019-06-30"), replay("pytorch_hub", "2019-09-30"), "api.github.com/*", "raw.githubusercontent.com/*"
    ),
    "html": Family(
        "wolfram_nnr", replay("wolfram_nnr", "2019-03-01"), replay("wolfram_nnr", "2024-06-01"), "www.wolframcloud.com/*",
        "resources.wolframcloud.com/*",
    ),
    "browser": Family(
        "aws_marketplace", replay("aws_marketplace", "2025-09-01"), replay("aws_marketplace", "2026-08-20"),
        "aws.amazon.com/marketplace/sitemap*", "aws.amazon.com/marketplace/pp/*",
    ),
    "archive": Family(
        "modeldepot", archive(to="2019-12-31"), archive(from_="2020-01-01"), "/web.archive.org/web/*/modeldepot.io/browse",
        "/web.archive.org/web/*modeldepot.io*/*/*",  # /<user>/<slug> captures, not /browse
    ),
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """`recorded(family, n)`: a SQLite file holding the family's good snapshot and then `n` clean runs of the
    next one; each built once per module, from the one with n - 1."""
    folder = tmp_path_factory.mktemp("fault-classes")
    built: dict[tuple[str, int], Path] = {}

    def build(family: Family, clean_runs: int) -> Path:
        key = (family.store, clean_runs)
        if key not in built:
            path = folder / f"{family.store}-{clean_runs}.db"
            if clean_runs:
                copy_database(build(family, clean_runs - 1), path)
            run_cli(*(family.next if clean_runs else family.good), db=f"sqlite:///{path}")
            built[key] = path
        return built[key]

    return build


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its write-ahead log included), by SQLite's backup API."""
    with sqlite3.connect(source) as reading, sqlite3.connect(target) as writing:
        reading.backup(writing)
    reading.close()
    writing.close()


class Database:
    """A recorded database, read the way `runs` and `models` read it."""

    def __init__(self, path: Path):
        self.url = f"sqlite:///{path}"
        self.engine = open_database(self.url)

    def runs(self, store: str) -> list[dict]:
        return queries.list_runs(self.engine, store)

    def models(self, store: str) -> dict[str, dict]:
        return {model["model_id"]: model for model in queries.models_as_of(self.engine, store)}

    def crawl(self, args: tuple[str, ...], *rules: str):
        """Run a crawl (or backfill) to its end; its result and the runs it recorded, none left `running`."""
        before = len(self.runs(args[1]))
        result = run_cli(*args, *(arg for rule in rules for arg in ("--fail", rule)), db=self.url, check=False)
        assert "Traceback" not in result.stderr, result.stderr
        runs = self.runs(args[1])[before:]
        assert "running" not in {run["status"] for run in runs}
        return result, runs


def totals(runs: list[dict]) -> tuple[int, ...]:
    return tuple(sum(run[key] for run in runs) for key in ("added", "changed", "removed", "returned"))


@pytest.fixture
def copy_of(recorded, tmp_path):
    """`copy_of(family, n)`: a copy of `recorded(family, n)` to crawl into; its engine disposed after the test."""
    opened: list[Database] = []

    def open_copy(family: Family, clean_runs: int = 0) -> Database:
        path = tmp_path / f"copy-{len(opened)}.db"
        copy_database(recorded(family, clean_runs), path)
        opened.append(Database(path))
        return opened[-1]

    yield open_copy
    for database in opened:
        database.engine.dispose()


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("family_name", FAMILIES)
def test_a_fault_removes_nothing_and_the_next_good_run_carries_on(family_name, fault, copy_of):
    family = FAMILIES[family_name]
    if family.store == "aws_marketplace":
        require_chromium()
    store, action, late = family.store, FAULTS[fault], fault == "slow"
    db = copy_of(family)
    good = db.models(store)
    clean_runs = 0

    # Every listing request faulted: a late answer is still the answer; anything else says so and removes nothing.
    result, runs = db.crawl(family.next, f"{family.listing}={action}")
    if late:
        assert [run["status"] for run in runs] == ["complete"] and result.returncode == 0
        clean_runs += 1
    elif family.store == "modeldepot":  # a day whose browse capture is unreadable or junk is not recorded
        assert runs == [] and result.returncode == 2
        assert result.stderr.splitlines()[-1].startswith("error: modeldepot: the archive gave no capture day to record")
        assert db.models(store) == good
    else:
        expected = "failed" if fault in NO_ANSWER else "suspect"
        assert [(run["status"], run["removed"]) for run in runs] == [(expected, 0)], runs
        assert result.returncode == 1 and expected in result.stdout
        assert db.models(store) == good

    # Every model page faulted: each model keeps its last record and counts as an error; the run is partial.
    if family.pages:
        result, runs = db.crawl(family.next, f"{family.pages}={action}")
        (run,) = runs
        if late:
            assert (run["status"], run["errors"]) == ("complete", 0)
            clean_runs += 1
        else:
            failed = run["errors"]
            assert (run["status"], run["removed"]) == ("partial", 0) and failed > 0, run
            assert run["error_summary"].startswith(f"{failed} of {failed} model pages unreadable")
            assert db.models(store) == good

    # The next good run continues the history exactly as a clean replay of the same runs does.
    result, runs = db.crawl(family.next)
    assert [run["status"] for run in runs] == ["complete"] * len(runs) and runs
    clean_runs += 1
    truth = copy_of(family, clean_runs)
    recorded_runs = db.runs(store)
    assert totals(recorded_runs) == totals(truth.runs(store)) and totals(recorded_runs)[3] == 0  # nothing "returned"
    assert db.models(store) == truth.models(store)


def test_archive_captures_cut_short_are_not_the_days_pages(copy_of):
    """The archive keeps some captures cut short; half a browse page must not read as a day with fewer models,
    nor half a model page as a model with fewer fields."""
    family = FAMILIES["archive"]
    captures = snapshot_dir("modeldepot", "wayback") / "web.archive.org/web"
    browse = captures / "20200110072233id_/https:/modeldepot.io/browse"
    overview = captures / "20200110073340id_/https:/modeldepot.io/hellochick/icnet/overview"
    db = copy_of(family)
    good = db.models("modeldepot")

    result, runs = db.crawl(family.next, f"{family.listing}=truncate:{browse.stat().st_size // 2}")
    assert runs == [] and result.returncode == 2 and "(no model list, or cut short): day not recorded" in result.stderr

    result, runs = db.crawl(family.next, f"{family.pages}=truncate:{overview.stat().st_size // 2}")
    assert [(run["status"], run["removed"], run["errors"]) for run in runs] == [("partial", 0, 3)]
    assert db.models("modeldepot") == good
