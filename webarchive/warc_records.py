"""Reading WARC files record by record, with the byte offset of each, and saying where a damaged file breaks.

storewatch writes every record as its own gzip member. Each member is decompressed here (zlib checks its
CRC and its end) before warcio parses it, because warcio reads a truncated member as a shorter record without
complaint: a file cut short, or bytes overwritten, is found at the offset of the first member that is not
whole, and everything before it is still read.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from storage.errors import StorewatchError

CHUNK = 64 * 1024  # bytes read at a time: most members are a few KB, and the rest of a chunk is copied again after each


class DamagedArchive(StorewatchError):
    """A WARC file that cannot be read past `offset` (truncated, corrupted, or not a WARC file there)."""

    def __init__(self, path: Path | str, offset: int, reason: str) -> None:
        self.path, self.offset, self.reason = str(path), offset, reason
        super().__init__(f"{path}: damaged WARC file at byte {offset}: {reason}")


@dataclass(frozen=True)
class WarcRecord:
    """One WARC record, read whole: its type, WARC headers, and for HTTP records the status, headers and decoded body."""

    offset: int
    type: str
    uri: str | None
    fields: dict[str, str]  # WARC headers; for a warcinfo record, its `key: value` lines as well
    status: int | None
    http_headers: list[tuple[str, str]]
    body: bytes


def read_records(path: Path | str, *, start: int = 0, limit: int | None = None) -> Iterator[WarcRecord]:
    """The records of a WARC file from byte `start` (at most `limit` gzip members); DamagedArchive where it breaks."""
    for member, offset in _members(path, start, limit):
        yield from _parse_member(member, path, offset)


def check_members(path: Path | str) -> int:
    """Decompress every gzip member of a file without parsing its records (zlib checks each member's CRC and
    end): its member count, or DamagedArchive at the first that is not whole."""
    return sum(1 for _ in _members(path))


def payload_at(path: Path | str, offset: int) -> bytes:
    """The decoded payload of the response or rendered page at `offset` of `path`; DamagedArchive when there is none."""
    for record in read_records(path, start=offset, limit=1):
        if record.type in ("response", "conversion"):
            return record.body
    raise DamagedArchive(path, offset, "no response record there")


def _members(path: Path | str, start: int = 0, limit: int | None = None) -> Iterator[tuple[bytes, int]]:
    """Each gzip member of the file from byte `start`, decompressed, with its offset (at most `limit`)."""
    with open(path, "rb") as file:
        file.seek(start)
        offset, pending, members = start, b"", 0
        while limit is None or members < limit:
            pending = pending or file.read(CHUNK)
            if not pending:
                return
            member, used, pending = _one_member(file, pending, path, offset)
            yield member, offset
            offset += used
            members += 1


def _one_member(file, pending: bytes, path, offset: int) -> tuple[bytes, int, bytes]:
    """Decompress the gzip member starting in `pending`: (its data, its compressed size, the bytes after it)."""
    decompressor, out, used = zlib.decompressobj(wbits=31), [], 0
    try:
        while not decompressor.eof:
            if not pending:
                pending = file.read(CHUNK)
                if not pending:
                    raise DamagedArchive(path, offset, "the file ends inside a record (truncated)")
            out.append(decompressor.decompress(pending))
            used += len(pending) - len(decompressor.unused_data)
            pending = decompressor.unused_data
    except zlib.error as error:
        raise DamagedArchive(path, offset, f"not a whole gzip record ({error})") from None
    return b"".join(out), used, pending


def _parse_member(member: bytes, path, offset: int) -> Iterator[WarcRecord]:
    try:
        for record in ArchiveIterator(BytesIO(member)):
            fields = dict(record.rec_headers.headers)
            body = record.content_stream().read()  # decoded: chunked transfer and gzip/br content encoding undone
            if record.rec_type == "warcinfo":
                fields.update(_info_fields(body))
            if getattr(record.raw_stream, "limit", 0):
                raise DamagedArchive(path, offset, "a record shorter than its Content-Length")
            http = record.http_headers if record.rec_type in ("response", "revisit") else None
            yield WarcRecord(
                offset=offset,
                type=record.rec_type,
                uri=record.rec_headers.get_header("WARC-Target-URI"),
                fields=fields,
                status=int(http.get_statuscode()) if http is not None and http.get_statuscode() else None,
                http_headers=list(http.headers) if http is not None else [],
                body=body,
            )
    except (ArchiveLoadFailed, ValueError, EOFError) as error:
        raise DamagedArchive(path, offset, f"not a WARC record ({str(error).splitlines()[0][:80]})") from None


def _info_fields(body: bytes) -> dict[str, str]:
    """A warcinfo record's `key: value` lines."""
    fields = {}
    for line in body.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields
