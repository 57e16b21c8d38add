"""Shared fixtures: databases (SQLite and PostgreSQL), the shipped snapshots, running the CLI, the replay client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crawler.browser import find_chromium
from storage.db import open_database
from webarchive.location import ARCHIVE_DIR_ENV

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "snapshots"
POSTGRES_ADMIN_URL = os.environ.get("STOREWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session", autouse=True)
def archive_outside_the_checkout(tmp_path_factory):
    """Crawls write their WARC files beside a SQLite database, else into ./data/archive: a test's PostgreSQL
    crawls would fill the checkout's. Tests that look at the archive choose its folder themselves."""
    if os.environ.get(ARCHIVE_DIR_ENV):
        yield
        return
    os.environ[ARCHIVE_DIR_ENV] = str(tmp_path_factory.mktemp("archive"))
    yield
    os.environ.pop(ARCHIVE_DIR_ENV, None)


def snapshot_dirs(store: str) -> list[Path]:
    return sorted(path for path in (SNAPSHOTS / store).iterdir() if (path / "SNAPSHOT.json").is_file())


def snapshot_dir(store: str, date: str) -> Path:
    return SNAPSHOTS / store / date


def _postgres_available() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001 -- any failure means: no server to test against
        return str(error).splitlines()[0]


@pytest.fixture(scope="session")
def postgres_server():
    """An admin engine on the PostgreSQL server; under CI=true its absence fails the run instead of skipping."""
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {problem}")
        pytest.skip(f"no PostgreSQL server: {problem}")
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    """A fresh, empty database URL: a SQLite file, or a new PostgreSQL database dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'storewatch.db'}"
        return
    yield from fresh_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty PostgreSQL database (for tests that need the server's database whatever `db_url` is)."""
    yield from fresh_postgres_database(postgres_server)


def fresh_postgres_database(admin):
    name = f"storewatch_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def engine(db_url):
    engine = open_database(db_url)
    yield engine
    engine.dispose()


def run_cli(
    *args: str, db: str | None = None, check: bool = True, env: dict | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """Run `storewatch ARGS` as a user would, in its own process (`prefix`: a command that runs it, e.g. setpriv)."""
    command = [*prefix, sys.executable, "-m", "crawler.cli", *args]
    if db:
        command += ["--db", db]
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(f"storewatch {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def cli_json(*args: str, db: str | None = None):
    return json.loads(run_cli(*args, "--format", "json", db=db).stdout)


def replay_handler(base_url: str, **settings):
    """The replay transport's download handler for a replay server at `base_url`, built from real settings."""
    from scrapy.utils.test import get_crawler

    from crawler.replay_transport import ReplayDownloadHandler

    return ReplayDownloadHandler(get_crawler(settings_dict={"STOREWATCH_REPLAY_URL": base_url, **settings}))


def require_chromium() -> str:
    """Chromium's path; a test that needs it is skipped ("needs Chromium") where it is missing, except in CI,
    where .ci/run installs Debian's chromium and the test must run."""
    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("needs Chromium, and CI must have it (scripts/ensure-chromium installs Debian's chromium)")
        pytest.skip("needs Chromium: make chromium (or apt-get install chromium)")
    return chromium


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """`storewatch demo` as `make demo` runs it, once per session, in a folder of its own: (the folder, what it
    printed). The database is `data/storewatch.db` there; tests read copies of it (`demo_copy`)."""
    folder = tmp_path_factory.mktemp("demo")
    env = {key: value for key, value in os.environ.items() if key not in ("STOREWATCH_DATABASE_URL", "STOREWATCH_CONFIG", ARCHIVE_DIR_ENV)}
    result = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "demo"], capture_output=True, text=True, cwd=folder, env=env, timeout=1800
    )
    assert result.returncode == 0, result.stderr
    return folder, result.stdout


def demo_copy(demo, folder: Path) -> Path:
    """A copy of the demo database at `folder`/data/storewatch.db (the default path, for commands run in `folder`)."""
    import sqlite3

    target = folder / "data" / "storewatch.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    source, copy = sqlite3.connect(demo[0] / "data" / "storewatch.db"), sqlite3.connect(target)
    source.backup(copy)
    source.close()
    copy.close()
    return target
