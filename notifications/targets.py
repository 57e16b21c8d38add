"""Apprise URLs: checked when the config is read, shown only masked, each sent to on its own.

Apprise URLs often hold a password or a token (in the user part, the host, the path or the query), so a
URL is only ever shown as `scheme://host` as Apprise masks it (`user:****@`, `T...2`), its path and query cut.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit


def _apprise():
    import apprise  # imported when first needed: loading its plugins takes ~0.3 s, and most commands send nothing

    # Apprise logs each failure itself; storewatch says in one line what was not delivered, and where.
    logging.getLogger("apprise").propagate = False
    return apprise


def masked(url: str) -> str:
    """The URL as it may be shown in a log or an error: scheme and (masked) host, `/…` for a path."""
    plugin = _apprise().Apprise.instantiate(url)
    if plugin is None:  # not understood, so nothing in it can be told apart from a secret
        scheme, separator, _ = url.partition("://")
        return f"{scheme}://…" if separator and scheme.isascii() and scheme.replace("+", "").isalnum() else "…"
    parts = urlsplit(plugin.url(privacy=True))
    return f"{parts.scheme}://{parts.netloc}" + ("/…" if parts.path.strip("/") else "")


class Target:
    """One notification URL, ready to send to."""

    def __init__(self, url: str) -> None:
        apprise = _apprise()
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise ValueError(
                f"Apprise does not accept {masked(url)!r} (an unknown scheme, or a part it needs is missing or malformed)"
            )
        self.url = url
        self.label = masked(url)

    def send(self, title: str, body: str, level: str) -> bool:
        """Deliver one message (`level`: info, warning or failure); False when the service could not be reached or refused it."""
        apprise = _apprise()
        sender = apprise.Apprise()  # one per message: the scheduler sends from several crawl threads at once
        try:
            sender.add(self.url)
            return bool(sender.notify(body=body, title=title, notify_type=apprise.NotifyType(level)))
        except Exception:  # noqa: BLE001 -- whatever a plugin raises, the message was not delivered
            return False
