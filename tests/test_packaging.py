"""A wheel works on its own: the demo's snapshots and the default storewatch.toml travel inside it.

The wheel is built from this checkout offline (no build isolation) and unpacked into a folder that is put first
on the path of a fresh process running in an empty folder, so the checkout's files cannot be reached (an
installed wheel is exactly such a folder on sys.path).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from crawler.replay import SNAPSHOT_FILE, Snapshot
from crawler.stores import known_stores

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out)],
        capture_output=True, text=True, cwd=out, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = out.glob("storewatch-*.whl")
    site = out / "site"
    zipfile.ZipFile(wheel).extractall(site)
    return site


def storewatch(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("STOREWATCH_CONFIG", None)
    env.pop("STOREWATCH_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_the_wheel_carries_every_store_snapshot_and_the_default_config(unpacked_wheel):
    shipped = unpacked_wheel / "crawler" / "shipped"
    assert (shipped / "storewatch.toml").read_text() == (ROOT / "storewatch.toml").read_text()
    for store in known_stores():
        data = sorted(p.name for p in (ROOT / "snapshots" / store).iterdir() if p.suffix != ".py")  # reconstruct.py stays in the sdist
        assert sorted(p.name for p in (shipped / "snapshots" / store).iterdir()) == data


def test_an_installed_wheel_runs_the_demo_and_status_from_an_empty_folder(unpacked_wheel, tmp_path):
    where = subprocess.run(
        [sys.executable, "-c", "from crawler.shipped import shipped; print(shipped('snapshots'))"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(unpacked_wheel)},
    )
    assert Path(where.stdout.strip()).is_relative_to(unpacked_wheel), where.stdout + where.stderr

    demo = storewatch(unpacked_wheel, tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "snapshot folder not found" not in demo.stderr
    snapshots = sum(len(Snapshot.load(path.parent).days()) for path in (ROOT / "snapshots").glob(f"*/*/{SNAPSHOT_FILE}"))
    assert f"replaying {snapshots} snapshots of {len(known_stores())} stores" in demo.stdout
    assert (tmp_path / "data" / "storewatch.db").is_file() and (tmp_path / "reports" / "report.html").is_file()

    status = storewatch(unpacked_wheel, tmp_path, "status", "--format", "json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert Path(report["config"]).is_relative_to(unpacked_wheel)  # the default config shipped in the wheel
    assert report["stores"] and all(store["last_run"]["status"] == "complete" for store in report["stores"])


def test_the_wheel_holds_every_package_of_the_checkout(unpacked_wheel):
    packages = {init.parent.name for init in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages and packages <= {path.name for path in unpacked_wheel.iterdir() if path.is_dir()}
