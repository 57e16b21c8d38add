"""The files a git backfill read, kept as WARC `resource` records, so that `storewatch reextract` can read a
backfilled run again without the repository.

Each run writes one WARC file under `<archive>/<store>/`: a warcinfo record naming the run, its commit and its
listing, then a `resource` record for each blob not archived before -- the listing (the commit's tree entries
the spider would list, as JSON) and every file the spider would read, at its raw URL at that commit. Blobs are
keyed in the archive index (`archived_payloads`) by `git-blob:<blob id>` and listings by `git-tree:<digest>`, so
a blob or an unchanged listing is stored once, whichever run read it first; the index says where.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from githistory.repository import Commit, TreeEntry
from githistory.stores import BlobSource, GitStore, Reading
from storage.archive_index import WrittenFile, payload_origins
from storage.errors import StorewatchError
from webarchive.run_archive import RunArchive, RunInfo
from webarchive.warc_records import read_records

BLOB_KEY, LISTING_KEY = "git-blob:", "git-tree:"
LISTING_FIELD = "git-listing"  # the warcinfo field naming the run's listing (its key in the archive index)


def listing_json(entries: list[TreeEntry]) -> bytes:
    return json.dumps([[entry.path, entry.sha] for entry in entries], separators=(",", ":")).encode()


def listing_key(body: bytes) -> str:
    return LISTING_KEY + hashlib.sha1(body).hexdigest()


def raw_url(store: GitStore, commit: str, path: str) -> str:
    """Where GitHub serves the file at that commit (the store's URL is github.com/<owner>/<name>)."""
    return store.url.replace("https://github.com/", "https://raw.githubusercontent.com/") + f"/{commit}/{path}"


@dataclass
class GitArchive:
    """Writes each backfilled run's WARC file: the hook `githistory.backfill.backfill(archive=...)` calls."""

    engine: Engine
    folder: Path
    store: GitStore

    def __call__(self, run_id: int, commit: Commit, reading: Reading, entries: list[TreeEntry], blobs: BlobSource) -> None:
        listing = listing_json(entries)
        wanted = {listing_key(listing): None, **{BLOB_KEY + entry.sha: entry for entry in reading.files}}
        archived = payload_origins(self.engine, wanted)
        info = RunInfo(
            self.store.name, run_id, self.store.spider_version, commit.committed_at, f"git:{commit.sha} {self.store.url}",
            extra={"git-commit": commit.sha, LISTING_FIELD: listing_key(listing)},
        )
        archive = RunArchive(self.engine, self.folder, info)
        try:
            archive.begin()  # the warcinfo names the run's listing, even when every blob was archived before
            for key, entry in wanted.items():
                if key in archived:
                    continue
                body = listing if entry is None else blobs(entry)
                if body is None:
                    continue  # the clone lacked it: the run is partial already, and nothing is archived for it
                uri = f"{self.store.url}/tree/{commit.sha}" if entry is None else raw_url(self.store, commit.sha, entry.path)
                kind = "application/json" if entry is None else "text/plain; charset=utf-8"
                archive.add_resource(key, uri, body, kind, commit.committed_at)
            archive.close()
        except OSError:
            archive.discard()
            raise


class ArchivedCommit:
    """A backfilled run's listing and blobs, read back from the archive: what githistory.stores reads a commit from."""

    def __init__(self, engine: Engine, files: list[WrittenFile]) -> None:
        self.engine = engine
        info = next((record.fields for record in read_records(files[0].path, limit=1) if record.type == "warcinfo"), {})
        if LISTING_FIELD not in info:
            raise StorewatchError(f"{files[0].path}: not a git backfill's archive (its warcinfo names no {LISTING_FIELD})")
        self.commit = info.get("git-commit", "")
        self.entries = [TreeEntry(path, sha) for path, sha in json.loads(self.resource(info[LISTING_FIELD]))]

    def resource(self, key: str) -> bytes:
        origin = payload_origins(self.engine, [key]).get(key)
        if origin is None:
            raise StorewatchError(f"the archive holds no {key}")
        for record in read_records(origin.warc_file, start=origin.offset, limit=1):
            if record.type == "resource":
                return record.body
        raise StorewatchError(f"{origin.warc_file}: no resource record at byte {origin.offset}")

    def blob(self, entry: TreeEntry) -> bytes | None:
        try:
            return self.resource(BLOB_KEY + entry.sha)
        except StorewatchError:
            return None  # read as a blob the clone lacked: the rebuilt run is partial
