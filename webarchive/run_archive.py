"""One run's WARC files: request and response records for every exchange, a revisit for a payload archived before.

No Scrapy here: the crawl's middleware (webarchive/middleware.py) hands over plain `Exchange`s. Each file
starts with a `warcinfo` record describing the run, every record is its own gzip member (so a reader can
seek to any record's offset), and a file past the rotation size is closed and the next one begun.

Deduplication follows Browsertrix: a response whose payload digest is in `archived_payloads` (or was written
earlier in this run) is written as a `revisit` record (identical-payload-digest profile, HTTP headers kept,
no body). Exchanges are held in small batches so that one query asks about a whole batch's digests; the
run's new payloads and files are recorded in one transaction when the run's archive is closed, so nothing
points into a file that was not written to the end.
"""

from __future__ import annotations

import base64
import hashlib
import os
import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from sqlalchemy import Engine
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.replay_server import warc_index_key
from storage.archive_index import PayloadOrigin, WrittenFile, payload_origins, record_archive
from storage.timeutil import isoformat, utcnow

ROTATE_BYTES = 1024**3  # a file is closed once it passes 1 GB, as Heritrix and Browsertrix do
BATCH_EXCHANGES = 200  # exchanges held before their digests are looked up together...
BATCH_BYTES = 16 * 1024**2  # ...or once their bodies pass this many bytes
GZIP_LEVEL = 6
# Headers that described the bytes on the wire, not the body kept: Scrapy hands over a de-chunked body.
_WIRE_HEADERS = frozenset({b"transfer-encoding"})
RENDERED_STATUS = "WARC-Storewatch-Status"  # a rendered page's HTTP status, on its conversion record
# Beside each closed WARC file, as CDXJ indexes sit beside WARCs in a WACZ: each answer's URL key, status,
# headers and where its payload lies. A replay of the run reads it instead of parsing every record again; it
# is only a cache (webarchive/reader.py falls back to the records when it is missing or does not fit).
INDEX_SUFFIX = ".index.json"


@dataclass
class Exchange:
    """One HTTP request and the response received for it, as the crawl saw them (the live URL, the body as received)."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: bytes
    received_at: datetime = field(default_factory=utcnow)
    rendered: bytes | None = None  # a page rendered in a browser: its DOM (kept as a `conversion` record; `body` unused)


@dataclass(frozen=True)
class RunInfo:
    """What the warcinfo record of each of the run's files says about the run."""

    store: str
    run_id: int | None  # None: a crawl that records several runs (a backfill), which are known only as it goes
    spider_version: str
    observed_at: datetime
    source: str
    crawl_settings: dict | None = None  # such a crawl's window (STOREWATCH_ARCHIVE_*): what a replay of it must ask again
    extra: dict[str, str] | None = None  # further warcinfo fields (a git backfill's commit and listing)

    def fields(self) -> dict[str, str]:
        fields = {
            "software": "storewatch (warcio)",
            "format": "WARC File Format 1.1",
            "store": self.store,
            "run-id": str(self.run_id) if self.run_id is not None else None,
            "spider-version": self.spider_version,
            "observed-at": isoformat(self.observed_at),
            "source": self.source,
            "crawl-settings": json.dumps(self.crawl_settings, sort_keys=True) if self.crawl_settings is not None else None,
            **(self.extra or {}),
        }
        return {name: value for name, value in fields.items() if value is not None}


def answer_key(url: str) -> str:
    """How the replay server looks up the answer to `url`: its request target `/<host>/<path>?<query>`
    (crawler.replay_transport.replay_url), keyed as crawler.replay_server.warc_index_key keys it."""
    parts = urlsplit(url)
    return warc_index_key(f"/{parts.netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else ""))


def header_map(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Headers as the replay server's recorded answers hold them: name -> its values."""
    mapped: dict[str, list[str]] = {}
    for name, value in headers:
        mapped.setdefault(name, []).append(value)
    return mapped


def payload_digest(body: bytes) -> str:
    """The payload digest as WARC files (and warcio) write it: `sha1:` and the SHA-1 in base 32."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()


def warc_date(moment: datetime) -> str:
    """A WARC 1.1 date: UTC, microseconds, `Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RunArchive:
    """The WARC files of one run under `folder/<store>/`, and their index rows once closed."""

    def __init__(self, engine: Engine, folder: Path, info: RunInfo, *, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.engine = engine
        self.folder = Path(folder).resolve() / info.store  # the index names files by absolute path
        self.info = info
        self.rotate_bytes = rotate_bytes
        self.files: list[WrittenFile] = []
        self.new_payloads: dict[str, PayloadOrigin] = {}  # archived first by this run
        self.pending: list[Exchange] = []
        self.pending_bytes = 0
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._writer: WARCWriter | None = None  # writes each record into _buffer, which _emit compresses
        self._buffer = BytesIO()
        self._records = 0
        self._answers: list[list] = []  # the open file's answers, for its INDEX_SUFFIX file

    def add(self, exchange: Exchange) -> None:
        """Archive one exchange (written with its batch)."""
        self.pending.append(exchange)
        self.pending_bytes += len(exchange.body) + len(exchange.rendered or b"")
        if len(self.pending) >= BATCH_EXCHANGES or self.pending_bytes >= BATCH_BYTES:
            self.flush()

    def begin(self) -> None:
        """Start the first file now, so that its warcinfo record is written even if nothing else is."""
        self._current_writer()

    def add_resource(self, key: str, uri: str, body: bytes, content_type: str, at: datetime) -> None:
        """Archive a payload read without HTTP (a git backfill's blob) as a `resource` record, found in the
        archive index by `key`. Written at once: the caller has already left out what was archived before."""
        writer = self._current_writer()
        offset = self._file.tell()
        record = writer.create_warc_record(
            uri, "resource", payload=BytesIO(body), length=len(body), warc_content_type=content_type,
            warc_headers_dict={"WARC-Date": warc_date(at), "WARC-Storewatch-Git-Key": key},
        )
        self.new_payloads[key] = PayloadOrigin(uri, at, str(self._path), offset)
        self._emit(record)
        if self._file.tell() >= self.rotate_bytes:
            self._close_file()

    def flush(self) -> None:
        """Write the held exchanges: one query for their digests, then their records."""
        batch, self.pending, self.pending_bytes = self.pending, [], 0
        if not batch:
            return
        digests = [payload_digest(exchange.body) if exchange.rendered is None else "" for exchange in batch]
        earlier = payload_origins(self.engine, [digest for digest in digests if digest and digest not in self.new_payloads])
        for exchange, digest in zip(batch, digests):
            self._write(exchange, digest, self.new_payloads.get(digest) or earlier.get(digest))

    def close(self) -> list[WrittenFile]:
        """Write what is held, close the last file, and record the run's files and new payloads; returns the files.

        An OSError (a full disk) leaves the index untouched: the caller fails the run."""
        self.close_files()
        record_archive(self.engine, self.info.run_id, self.files, self.new_payloads)
        return self.files

    def close_files(self) -> None:
        """Write what is held and close the last file, recording nothing (a crawl of several runs records them
        once its runs are known: record_runs). Closing twice does nothing more."""
        self.flush()
        self._close_file()

    def record_runs(self, captures: list[tuple[int, str]]) -> None:
        """Record a crawl's closed files for the runs it recorded, (run id, capture) oldest first: filed under the
        first, each run linked to them. A crawl that recorded no run keeps no archive (its files are deleted)."""
        if not captures:
            self.discard()
            return
        record_archive(self.engine, captures[0][0], self.files, self.new_payloads, captures=captures)

    def discard(self) -> None:
        """Delete every file written (and its index): nothing refers to them."""
        self.abandon()
        for file in self.files:
            Path(file.path).unlink(missing_ok=True)
            Path(f"{file.path}{INDEX_SUFFIX}").unlink(missing_ok=True)
        self.files = []

    def abandon(self) -> None:
        """Stop after a write failed: close the file being written and delete it (it ends mid-record); nothing is recorded."""
        self.pending = []
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            if self._path is not None:
                self._path.unlink(missing_ok=True)
            self._file = None

    def _write(self, exchange: Exchange, digest: str, origin: PayloadOrigin | None) -> None:
        writer = self._current_writer()
        date = warc_date(exchange.received_at)
        offset = self._file.tell()
        http = self._http_headers(exchange)
        answer = {"status": exchange.status, "headers": header_map(http.headers), "warc": str(self._path), "offset": offset}
        if exchange.rendered is not None:
            answer["headers"] = {"Content-Type": ["text/html; charset=utf-8"]}
            record = self._rendered_record(writer, exchange, date)
        elif origin is None:
            self.new_payloads[digest] = PayloadOrigin(exchange.url, exchange.received_at, str(self._path), offset)
            record = writer.create_warc_record(
                exchange.url, "response", payload=BytesIO(exchange.body), length=len(exchange.body), http_headers=http,
                warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": digest},
            )
        else:  # a revisit: its payload is where it was first archived
            answer.update(warc=origin.warc_file, offset=origin.offset)
            record = writer.create_revisit_record(
                exchange.url, digest, origin.target_uri, warc_date(origin.archived_at), http_headers=http,
                warc_headers_dict={"WARC-Date": date},
            )
        self._answers.append([answer_key(exchange.url), offset, answer])
        self._emit(record)
        if origin is None:  # a revisit stands alone: the request was archived with the payload's first response
            self._emit(self._request_record(writer, exchange, date, record.rec_headers.get_header("WARC-Record-ID")))
        if self._file.tell() >= self.rotate_bytes:
            self._close_file()

    @staticmethod
    def _http_headers(exchange: Exchange) -> StatusAndHeaders:
        kept = [(name, value) for name, value in exchange.response_headers if name.lower().encode() not in _WIRE_HEADERS]
        return StatusAndHeaders(f"{exchange.status} {exchange.reason}".strip(), kept, protocol="HTTP/1.1")

    @staticmethod
    def _rendered_record(writer: WARCWriter, exchange: Exchange, date: str):
        """A page rendered in a browser: its DOM as a `conversion` record of the page's URI. The bytes the browser
        received stay inside Chromium (reading them back would cost a second fetch), so there is no response
        record beside it; the HTTP status travels in WARC-Storewatch-Status for the reader."""
        return writer.create_warc_record(
            exchange.url, "conversion", payload=BytesIO(exchange.rendered), length=len(exchange.rendered),
            warc_content_type="text/html; charset=utf-8",
            warc_headers_dict={"WARC-Date": date, "WARC-Refers-To-Target-URI": exchange.url, RENDERED_STATUS: str(exchange.status)},
        )

    def _request_record(self, writer: WARCWriter, exchange: Exchange, date: str, response_id: str):
        target = exchange.url.split("://", 1)[-1]
        path = "/" + target.split("/", 1)[1] if "/" in target else "/"
        headers = StatusAndHeaders(f"{exchange.method} {path} HTTP/1.1", exchange.request_headers, protocol="HTTP/1.1", is_http_request=True)
        return writer.create_warc_record(
            exchange.url, "request", payload=BytesIO(exchange.request_body), length=len(exchange.request_body), http_headers=headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id},
        )

    def _emit(self, record) -> None:
        """Write one record as a gzip member of its own (level 6: warcio's own wrapper compresses at 9, a third
        slower for 0.1% smaller pages, and flushes the file after every record)."""
        self._writer.write_record(record)
        self._file.write(zlib.compress(self._buffer.getvalue(), GZIP_LEVEL, wbits=31))
        self._buffer.seek(0)
        self._buffer.truncate()
        self._records += 1

    def _current_writer(self) -> WARCWriter:
        if self._writer is None:
            self._open_file()
        return self._writer

    def _open_file(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        now = utcnow()
        stamp = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"  # 17 digits, as Heritrix names its files
        crawl = f"run{self.info.run_id}" if self.info.run_id is not None else "crawl"
        name = f"{self.info.store}-{crawl}-{stamp}"
        path, sequence = self.folder / f"{name}.warc.gz", 1
        while path.exists():  # rotated within the same second
            path, sequence = self.folder / f"{name}-{sequence}.warc.gz", sequence + 1
        self._path = path
        self._file = open(path, "xb")  # never an existing file: a run's files are never written again
        self._writer = WARCWriter(self._buffer, gzip=False, warc_version="WARC/1.1")
        self._records = 0
        self._emit(self._writer.create_warcinfo_record(path.name, self.info.fields()))

    def _close_file(self) -> None:
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())  # a file recorded as written is on disk
        size = self._file.tell()
        self._file.close()
        self.files.append(WrittenFile(str(self._path), self._records, size))
        if self._answers:  # a file of resource records only (a git backfill's) has no answers to index
            self._write_index(Path(f"{self._path}{INDEX_SUFFIX}"))
        self._file, self._writer, self._answers = None, None, []

    def _write_index(self, path: Path) -> None:
        """The closed file's answers beside it; a failure only costs the next replay a parse of the records."""
        try:
            path.write_text(json.dumps({"records": self._records, "answers": self._answers}))
        except OSError:
            path.unlink(missing_ok=True)
