"""Where an export goes: a file that takes its name only once it is whole."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.errors import StorewatchError


@contextmanager
def replaced_when_done(path: Path) -> Iterator[Path]:
    """A new file beside `path` to write into; it takes `path`'s place (an atomic rename) only when the block ends
    without error, and is removed otherwise. An interrupted export never leaves half a file under the real name,
    and a file already there stays as it was until the new one is complete."""
    if path.is_dir():
        raise StorewatchError(f"cannot write {path}: it is a folder")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")  # same folder: the rename stays atomic
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask decides its mode, as for any new file
    except OSError as error:
        raise StorewatchError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        yield temporary
        with open(temporary, "rb") as written:  # on disk before it is renamed: a crash then leaves the old file or the whole new one
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except OSError as error:  # a full disk, a quota: the export stops, the file there stays as it was
        temporary.unlink(missing_ok=True)
        raise StorewatchError(f"cannot write {path}: {error.strerror or error}; nothing was replaced") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
