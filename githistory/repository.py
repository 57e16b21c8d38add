"""The git CLI, driven as subprocesses: commits of a branch, a commit's tree, and blobs through one
`git cat-file --batch` process. No dependency beyond `git` on PATH."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from storage.errors import StorewatchError

# Where a repository named by URL is cloned (bare, blobs fetched on demand), one folder per repository.
CACHE_ENV = "STOREWATCH_GIT_CACHE"
DEFAULT_CACHE = Path("~/.cache/storewatch/git")


@dataclass(frozen=True)
class Commit:
    sha: str
    committed_at: datetime  # the committer time: when the commit reached the branch the store is built from


@dataclass(frozen=True)
class TreeEntry:
    path: str
    sha: str  # the blob's id


def git(git_dir: Path, *args: str) -> str:
    """Run `git --git-dir=git_dir args`; a failure is one StorewatchError line with git's own message."""
    try:
        done = subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise StorewatchError("git is not on PATH: install git to backfill from a repository") from None
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise StorewatchError(f"git {args[0]} failed in {git_dir}: {message}")
    return done.stdout


def looks_like_url(location: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://", location)) or bool(re.match(r"^[\w.-]+@[\w.-]+:", location))


def cache_folder(url: str) -> Path:
    """The clone of `url` in the cache: `<cache>/<owner>+<name>.git`, as the repository's last two path parts."""
    root = Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()
    parts = [part for part in re.split(r"[/:]", url.rstrip("/").removesuffix(".git")) if part]
    return root / ("+".join(parts[-2:]) + ".git")


def open_repository(location: str, *, on_progress=lambda line: None) -> Path:
    """The git directory to read: a local clone (bare or not) as it is, or a URL cloned bare and blob-filtered into
    the cache (fetched again when the cache has it already)."""
    if not looks_like_url(location):
        path = Path(location).expanduser()
        if not path.exists():
            raise StorewatchError(f"{location}: no such folder (give a clone of the store's repository, or its URL)")
        try:
            found = subprocess.run(["git", "-C", str(path), "rev-parse", "--absolute-git-dir"], capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise StorewatchError("git is not on PATH: install git to backfill from a repository") from None
        if found.returncode != 0:
            raise StorewatchError(f"{location}: not a git repository")
        return Path(found.stdout.strip())
    folder = cache_folder(location)
    if (folder / "HEAD").exists():
        on_progress(f"fetching {location} into {folder}")
        git(folder, "fetch", "--quiet", "--filter=blob:none", "origin", "+refs/heads/*:refs/heads/*")
        return folder
    on_progress(f"cloning {location} into {folder} (bare, blobs fetched as read)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        done = subprocess.run(
            ["git", "clone", "--quiet", "--bare", "--filter=blob:none", location, str(partial)], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise StorewatchError("git is not on PATH: install git to backfill from a repository") from None
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        message = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise StorewatchError(f"git clone {location} failed: {message}")
    partial.rename(folder)  # only a whole clone is ever found in the cache
    return folder


def branch_ref(git_dir: Path, branch: str) -> str:
    """The ref of the store's branch: the local branch (a bare clone), else the remote's."""
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        found = subprocess.run(["git", f"--git-dir={git_dir}", "rev-parse", "--verify", "--quiet", ref], capture_output=True, check=False)
        if found.returncode == 0:
            return ref
    raise StorewatchError(f"{git_dir}: no branch {branch!r} (is this a clone of the store's repository?)")


def branch_commits(git_dir: Path, ref: str, pathspecs: tuple[str, ...] = ()) -> list[Commit]:
    """The commits the branch itself went through (first parents), oldest first; with `pathspecs`, only those
    that changed a matching file."""
    args = ["log", "--first-parent", "--reverse", "--format=%H %ct", ref]
    if pathspecs:
        args += ["--", *pathspecs]
    commits = []
    for line in git(git_dir, *args).splitlines():
        sha, stamp = line.split()
        commits.append(Commit(sha, datetime.fromtimestamp(int(stamp), tz=timezone.utc)))
    return commits


def tree_entries(git_dir: Path, commit: str, pathspecs: tuple[str, ...], *, recursive: bool) -> list[TreeEntry]:
    """The blobs of `commit` under `pathspecs` (a folder's files with `recursive`, else only its own)."""
    args = ["ls-tree", "-z", "--full-tree"] + (["-r"] if recursive else []) + [commit, "--", *pathspecs]
    entries = []
    for line in git(git_dir, *args).split("\0"):
        if not line:
            continue
        meta, path = line.split("\t", 1)
        _mode, kind, sha = meta.split()
        if kind == "blob":
            entries.append(TreeEntry(path, sha))
    return entries


class BlobReader:
    """One `git cat-file --batch` process for every blob a backfill reads: a blob a process costs ~5 ms more."""

    def __init__(self, git_dir: Path) -> None:
        self.process = subprocess.Popen(
            ["git", f"--git-dir={git_dir}", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )

    def read(self, sha: str) -> bytes | None:
        """The blob's bytes; None when the repository does not have it (a partial clone that cannot fetch it)."""
        self.process.stdin.write(sha.encode() + b"\n")
        self.process.stdin.flush()
        header = self.process.stdout.readline().decode().split()
        if len(header) != 3:
            if not header:
                raise StorewatchError("git cat-file stopped answering")
            return None  # "<sha> missing"
        size = int(header[2])
        body = self.process.stdout.read(size)
        self.process.stdout.read(1)  # the newline after each object
        return body

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait()

    def __enter__(self) -> "BlobReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
