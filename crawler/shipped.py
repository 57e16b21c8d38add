"""Files shipped with storewatch: the demo's snapshots and the default storewatch.toml.

In a checkout (and an editable install) they sit at the repository's top level. A wheel has no top level of
its own, so the build copies them into the package, under crawler/shipped/ (setup.py), and they are looked up
there first.
"""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "shipped"
CHECKOUT = Path(__file__).resolve().parents[1]


def shipped(name: str) -> Path:
    """The shipped file or folder `name` (`snapshots`, `storewatch.toml`): the wheel's copy, else the checkout's."""
    packaged = PACKAGED / name
    return packaged if packaged.exists() else CHECKOUT / name
