"""`storewatch backfill STORE --git`: a small repository built here, commit by commit (pages added, changed,
renamed, deleted), backfilled and checked run by run.

The files follow the real repositories' structure (reconstructed, not copied): a pytorch/hub page is Jekyll
front matter with the keys the hub's sanity check requires (title, summary, author, tags, github-link) and a
`layout: hub_detail`; a tfhub.dev doc is `# Module <handle>/<version>` then `<!-- key: value -->` lines under
`assets/docs/<publisher>/models/<model>/<version>.md` (`assets/g3doc/` before 2021); the ONNX manifest is a
JSON list of entries naming `model`, `model_path`, `opset_version` and `metadata.tags` (ONNX_HUB_MANIFEST.json
of github.com/onnx/models).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from storage import queries
from storage.db import open_database
from storage.writer import SnapshotWriter
from tests.conftest import run_cli


def hub_page(title: str, summary: str, layout: str = "hub_detail") -> str:
    return (
        f"---\nlayout: {layout}\nbackground-class: hub-background\ntitle: {title}\nsummary: {summary}\n"
        f"category: researchers\nauthor: Pytorch Team\ntags: [vision]\ngithub-link: https://github.com/pytorch/vision\n"
        f"github-id: pytorch/vision\naccelerator: cuda-optional\n---\n\n### Model Description\n\n"
        f"```python\nimport torch\nmodel = torch.hub.load('pytorch/vision', '{title.lower()}')\n```\n"
    )


class Repository:
    """A git repository in a temporary folder, committed to with chosen author and committer dates."""

    def __init__(self, path: Path, branch: str = "master") -> None:
        self.path = path
        self.commits: list[str] = []
        path.mkdir()
        self.git("init", "--quiet", "-b", branch)

    def git(self, *args: str, env: dict | None = None) -> str:
        identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
        return subprocess.run(
            ["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True, env={**os.environ, **identity, **(env or {})}
        ).stdout

    def commit(self, committed: str, files: dict[str, str | bytes | None], *, authored: str | None = None) -> str:
        """Write (a text or bytes) or delete (None) each file, and commit at `committed` (UTC)."""
        for name, content in files.items():
            path = self.path / name
            if content is None:
                self.git("rm", "--quiet", name)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
            self.git("add", name)
        dates = {"GIT_COMMITTER_DATE": f"{committed}T12:00:00Z", "GIT_AUTHOR_DATE": f"{authored or committed}T12:00:00Z"}
        self.git("commit", "--quiet", "-m", f"commit of {committed}", env=dates)
        self.commits.append(self.git("rev-parse", "HEAD").strip())
        return self.commits[-1]


@pytest.fixture
def hub_repo(tmp_path) -> Repository:
    repo = Repository(tmp_path / "hub")
    repo.commit("2020-01-10", {"README.md": "# PyTorch Hub\n", "resnet.md": hub_page("ResNet", "Residual networks"), "vgg.md": hub_page("VGG", "Very deep")})
    # Written in December, merged in January: the store showed it from the committer time.
    repo.commit("2020-01-20", {"resnet.md": hub_page("ResNet", "Deep residual networks")}, authored="2019-12-01")
    repo.commit("2020-02-05", {"vgg.md": None, "vgg_nets.md": hub_page("VGG", "Very deep"), "broken.md": "<!DOCTYPE html><html><body>oops</body></html>"})
    repo.commit("2020-02-06", {"images/logo.png": b"\x89PNG not a page"})
    repo.commit("2020-03-15", {"resnet.md": None})
    return repo


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def models(engine, store: str, when: datetime) -> dict[str, dict]:
    return {row.pop("model_id"): row for row in queries.models_as_of(engine, store, when)}


def test_every_commit_records_one_run_per_commit_at_its_committer_time(hub_repo, db_url):
    result = run_cli("backfill", "pytorch_hub", "--git", str(hub_repo.path), "--every", "commit", db=db_url)
    assert "4 snapshots recorded from git" in result.stdout
    engine = open_database(db_url)
    try:
        runs = queries.list_runs(engine, "pytorch_hub")
        # The logo-only commit touched no model file; the January change is observed when committed, not authored.
        assert [run["observed_at"][:10] for run in runs] == ["2020-01-10", "2020-01-20", "2020-02-05", "2020-03-15"]
        assert [run["source"].split()[0] for run in runs] == [f"git:{sha}" for sha in [*hub_repo.commits[:3], hub_repo.commits[4]]]
        assert [(run["status"], run["added"], run["changed"], run["removed"]) for run in runs] == [
            ("complete", 2, 0, 0), ("complete", 0, 1, 0), ("complete", 1, 0, 1), ("complete", 0, 0, 1)
        ]
        assert runs[2]["errors"] == 1  # the HTML page: counted, never a model
        first, second, third, last = (models(engine, "pytorch_hub", at(day)) for day in ("2020-01-10", "2020-01-20", "2020-02-05", "2020-03-15"))
        assert set(first) == {"resnet", "vgg"}  # README is the repository's own document
        assert first["resnet"]["description"] == "Residual networks" and second["resnet"]["description"] == "Deep residual networks"
        assert first["resnet"]["usage"] == "import torch\nmodel = torch.hub.load('pytorch/vision', 'resnet')"
        assert set(third) == {"resnet", "vgg_nets"}  # a renamed page is another model: its id is its file name
        assert set(last) == {"vgg_nets"}
    finally:
        engine.dispose()


def test_an_interval_records_the_head_at_each_end_and_a_stopped_backfill_goes_on(hub_repo, tmp_path):
    db = str(tmp_path / "monthly.db")
    run_cli("backfill", "pytorch_hub", "--git", str(hub_repo.path), "--every", "1M", "--to", "2020-01-31", db=db)
    again = run_cli("backfill", "pytorch_hub", "--git", str(hub_repo.path), "--every", "1M", db=db)
    assert "1 commit recorded already" in again.stderr
    engine = open_database(db)
    try:
        runs = queries.list_runs(engine, "pytorch_hub")
        # January's last commit, February's (the logo commit: the head at the month's end), March's.
        assert [run["source"].split()[0].removeprefix("git:") for run in runs] == [hub_repo.commits[1], hub_repo.commits[3], hub_repo.commits[4]]
        assert [(run["added"], run["changed"], run["removed"]) for run in runs] == [(2, 0, 0), (1, 0, 1), (0, 0, 1)]
    finally:
        engine.dispose()


def test_a_url_is_cloned_bare_into_the_cache(hub_repo, tmp_path):
    db = str(tmp_path / "cloned.db")
    cache = tmp_path / "cache"
    result = run_cli("backfill", "pytorch_hub", "--git", f"file://{hub_repo.path}", "--every", "commit", db=db, env={"STOREWATCH_GIT_CACHE": str(cache)})
    assert "4 snapshots recorded from git" in result.stdout
    assert [path.name for path in cache.iterdir()] == [f"{hub_repo.path.parent.name}+hub.git"]  # bare: no work tree
    assert (cache / f"{hub_repo.path.parent.name}+hub.git" / "HEAD").is_file()
    hub_repo.commit("2020-04-01", {"alexnet.md": hub_page("AlexNet", "One weird trick")})
    result = run_cli("backfill", "pytorch_hub", "--git", f"file://{hub_repo.path}", "--every", "commit", db=db, env={"STOREWATCH_GIT_CACHE": str(cache)})
    assert "1 snapshot recorded from git" in result.stdout  # fetched into the cached clone, then resumed


def test_history_older_than_the_stores_latest_run_is_refused_with_one_line(hub_repo, tmp_path):
    db = str(tmp_path / "live.db")
    engine = open_database(db)
    writer = SnapshotWriter(engine, "pytorch_hub", datetime(2021, 1, 1, tzinfo=timezone.utc), "pytorch_hub/1", source="live")
    writer.start()
    writer.add("resnet", {"name": "ResNet"}, {})
    writer.finish("complete")
    engine.dispose()
    result = run_cli("backfill", "pytorch_hub", "--git", str(hub_repo.path), db=db, check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "backfill into a new database" in lines[0]


def test_user_mistakes_are_one_error_line(hub_repo, tmp_path):
    for args, words in (
        (("huggingface", "--git", str(hub_repo.path)), "not built from a git repository"),
        (("pytorch_hub", "--git", str(tmp_path / "nowhere")), "no such folder"),
        (("pytorch_hub", "--git", str(tmp_path)), "not a git repository"),
        (("pytorch_hub", "--git", str(hub_repo.path), "--every", "fortnightly"), "not an interval"),
    ):
        result = run_cli("backfill", *args, db=str(tmp_path / "x.db"), check=False)
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], (args, result.stderr)


def tfhub_doc(handle: str, version: int, description: str, kind: str = "Module") -> str:
    return f"# {kind} {handle}/{version}\n{description}\n\n<!-- asset-path: https://storage.googleapis.com/{handle}.tar.gz -->\n<!-- task: image-classification -->\n<!-- format: saved_model_2 -->\n"


def test_tfhub_identity_survives_the_docs_folder_move_and_versions_are_read_from_the_tree(tmp_path):
    repo = Repository(tmp_path / "tfhub")
    repo.commit("2020-10-01", {
        "assets/g3doc/google/models/mobilenet/1.md": tfhub_doc("google/mobilenet", 1, "A mobile network."),
        "assets/g3doc/google/google.md": "# Publisher google\nGoogle.\n",
        "assets/g3doc/google/collections/vision/1.md": "# Collection google/vision/1\nVision models.\n<!-- module-type: image -->\n",
    })
    moved = {"assets/g3doc/google/models/mobilenet/1.md": None, "assets/docs/google/models/mobilenet/1.md": tfhub_doc("google/mobilenet", 1, "A mobile network.")}
    repo.commit("2021-01-05", moved)
    repo.commit("2021-02-01", {"assets/docs/google/models/mobilenet/2.md": tfhub_doc("google/mobilenet", 2, "A faster mobile network.")})
    db = str(tmp_path / "tfhub.db")
    run_cli("backfill", "tfhub", "--git", str(repo.path), "--every", "commit", db=db)
    engine = open_database(db)
    try:
        runs = queries.list_runs(engine, "tfhub")
        assert [(run["added"], run["changed"], run["removed"]) for run in runs] == [(1, 0, 0), (0, 0, 0), (0, 1, 0)]
        assert set(models(engine, "tfhub", at("2020-10-01"))) == {"google/mobilenet"}  # publisher and collection pages are not models
        latest = models(engine, "tfhub", at("2021-02-01"))["google/mobilenet"]
        assert latest["version"] == "2" and latest["release_notes"] == ["1", "2"] and latest["description"] == "A faster mobile network."
    finally:
        engine.dispose()


def manifest_entry(name: str, path: str) -> dict:
    return {"model": name, "model_path": path, "onnx_version": "1.7", "opset_version": 12,
            "metadata": {"model_sha": "0" * 64, "model_bytes": 1000, "tags": ["vision", "classification", name.lower()]}}


def test_onnx_moves_change_access_not_identity_and_a_malformed_manifest_removes_nothing(tmp_path):
    repo = Repository(tmp_path / "models", branch="main")
    names = ("ResNet", "VGG")
    paths = [f"vision/classification/{name.lower()}/model/{name.lower()}.onnx" for name in names]
    repo.commit("2022-01-01", {"ONNX_HUB_MANIFEST.json": json.dumps([manifest_entry(n, p) for n, p in zip(names, paths)])})
    repo.commit("2022-02-01", {"ONNX_HUB_MANIFEST.json": "<!DOCTYPE html><html>rate limited</html>"})
    repo.commit("2022-03-01", {"ONNX_HUB_MANIFEST.json": json.dumps([manifest_entry(n, f"validated/{p}") for n, p in zip(names, paths)])})
    db = str(tmp_path / "onnx.db")
    result = run_cli("backfill", "onnx_zoo", "--git", str(repo.path), "--every", "commit", db=db)
    assert "suspect" in result.stdout
    engine = open_database(db)
    try:
        runs = queries.list_runs(engine, "onnx_zoo")
        assert [(run["status"], run["added"], run["changed"], run["removed"]) for run in runs] == [
            ("complete", 2, 0, 0), ("suspect", 0, 0, 0), ("complete", 0, 2, 0)
        ]
        after = models(engine, "onnx_zoo", at("2022-03-01"))
        assert set(after) == set(paths) and after[paths[0]]["access"]["model_path"] == f"validated/{paths[0]}"
    finally:
        engine.dispose()


def test_the_blobs_read_are_archived_once_and_reextract_rebuilds_the_backfilled_history(hub_repo, tmp_path):
    from webarchive.warc_records import read_records

    db, archive = str(tmp_path / "archived.db"), tmp_path / "archive"
    run_cli("backfill", "pytorch_hub", "--git", str(hub_repo.path), "--every", "commit", db=db, env={"STOREWATCH_ARCHIVE_DIR": str(archive)})
    resources = [record for warc in sorted((archive / "pytorch_hub").glob("*.warc.gz")) for record in read_records(warc) if record.type == "resource"]
    blobs = [record for record in resources if record.uri.startswith("https://raw.githubusercontent.com/pytorch/hub/")]
    # resnet twice, vgg, vgg_nets (the same bytes as vgg: one blob), the HTML page; one listing a commit.
    assert len(blobs) == 4 and len(resources) - len(blobs) == 4
    assert any(record.body.startswith(b"---\nlayout: hub_detail") for record in blobs)
    result = run_cli("reextract", "pytorch_hub", "--into", str(tmp_path / "rebuilt.db"), db=db, env={"STOREWATCH_ARCHIVE_DIR": str(archive)})
    assert "4 runs re-extracted" in result.stdout and "identical to the recorded history" in result.stdout


def test_git_alone_clones_the_stores_own_repository(tmp_path):
    # git may use file:// only here: the clone of github.com is refused at once, whatever the network
    result = run_cli(
        "backfill", "onnx_zoo", "--git", "--every", "commit", db=f"sqlite:///{tmp_path / 'sw.db'}", check=False,
        env={"STOREWATCH_GIT_CACHE": str(tmp_path / "cache"), "GIT_ALLOW_PROTOCOL": "file"},
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.count("error:") == 1 and "git clone https://github.com/onnx/models failed" in result.stderr


def test_only_a_valueless_git_gets_the_implied_value():
    from crawler.cli.app import optional_values

    assert optional_values(["backfill", "tfhub", "--git"]) == ["backfill", "tfhub", "--git", "@store"]
    assert optional_values(["backfill", "tfhub", "--git", "--every", "1M"]) == ["backfill", "tfhub", "--git", "@store", "--every", "1M"]
    assert optional_values(["backfill", "tfhub", "--git", "/clone"]) == ["backfill", "tfhub", "--git", "/clone"]
    assert optional_values(["crawl", "tfhub", "--git"]) == ["crawl", "tfhub", "--git"]
