"""Python's cycle collector paused around work that builds many containers and no reference cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """The cycle collector off for the block (and back on after it, if it was on). Decoding JSON by the thousand
    rows makes millions of containers that hold no cycle, yet every few thousand of them start a pass that walks
    them all again: a fifth of a Parquet export's time, a quarter of a large diff's."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
