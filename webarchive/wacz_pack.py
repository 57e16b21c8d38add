"""A run's web archive packaged as WACZ: one file that ReplayWeb.page and pywb open, to browse the store as it was.

The package is made by the `wacz` package (Webrecorder's own, with its CDXJ index and datapackage), from the
run's WARC files plus the earlier files that hold the payloads its revisit records repeat: a run that changed
little is mostly revisits, and a player resolves each by its payload digest within the package.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

from sqlalchemy import Engine

from storage.archive_index import payload_origins, run_archive_files
from storage.errors import StorewatchError
from storage.runs import get_run
from storage.timeutil import isoformat
from webarchive.warc_records import read_records


def files_to_pack(engine: Engine, run_id: int) -> list[Path]:
    """The run's WARC files, then the earlier ones its revisits refer to (each once, in order)."""
    own = [Path(file.path) for file in run_archive_files(engine, run_id)]
    if not own:
        raise StorewatchError(f"run {run_id} has no web archive (it was crawled with archiving off, or it failed)")
    for path in own:
        if not path.is_file():
            raise StorewatchError(f"run {run_id}: its WARC file is missing: {path}")
    digests = [
        record.fields["WARC-Payload-Digest"]
        for path in own
        for record in read_records(path)
        if record.type == "revisit" and "WARC-Payload-Digest" in record.fields
    ]
    referred = dict.fromkeys(Path(origin.warc_file) for origin in payload_origins(engine, digests).values())
    missing = [path for path in referred if not path.is_file()]
    if missing:
        raise StorewatchError(f"run {run_id}: a WARC file its revisits refer to is missing: {missing[0]}")
    return own + [path for path in referred if path not in own]


def pack_run(engine: Engine, run_id: int, out: Path) -> list[Path]:
    """Write run `run_id`'s archive as the WACZ file `out` (replaced whole, never left half-written); the WARC files
    it holds."""
    try:
        run = get_run(engine, run_id)
    except Exception:  # noqa: BLE001 -- NoResultFound: say it in the user's terms
        raise StorewatchError(f"no run {run_id} in this database (see `storewatch runs`)") from None
    files = files_to_pack(engine, run_id)
    from wacz.main import main as wacz_main  # imported here: it loads frictionless, which takes a second

    try:
        handle, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    except OSError as error:
        raise StorewatchError(f"cannot write {out}: {error.strerror}") from None
    os.close(handle)
    title = f"storewatch: {run['store']} run {run_id}"
    arguments = ["create", "-o", partial, "--detect-pages", "--title", title, "--date", isoformat(run["observed_at"]), *map(str, files)]
    try:
        with contextlib.redirect_stdout(io.StringIO()) as said:
            try:
                status = wacz_main(arguments)
            except OSError as error:  # a full disk, or a WARC file gone unreadable
                raise StorewatchError(f"cannot write {out}: {error.strerror or error}") from None
            except Exception as error:  # noqa: BLE001 -- wacz's own failure (a damaged WARC file): one line, not its traceback
                raise StorewatchError(f"wacz could not package run {run_id}: {error}") from None
        if status:
            raise StorewatchError(f"wacz could not package run {run_id}: {' '.join(said.getvalue().split())[-300:]}")
        os.replace(partial, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
    return files


def validate(path: Path) -> str | None:
    """What the `wacz` package's own validator says is wrong with `path`; None when it is valid."""
    from wacz.main import main as wacz_main

    with contextlib.redirect_stdout(io.StringIO()) as said:
        status = wacz_main(["validate", "-f", str(path)])
    return None if status == 0 else " ".join(said.getvalue().split())
