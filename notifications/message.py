"""One event as a message a person reads: a title, and a body with the store, the run, the reason and what to run."""

from __future__ import annotations

from crawler.safetext import strip_controls
from notifications.events import RunEvent
from storage.timeutil import isoformat
from storage.wording import plural

REASON_LIMIT = 1000  # characters of a run's error summary worth putting in a message


def compose(event: RunEvent) -> tuple[str, str]:
    """The message's title and plain-text body."""
    run = event.run
    lines = [
        f"Store:  {run['store']}",
        f"Run:    {run['id']}, observed {isoformat(run['observed_at'])}, status {run['status']}",
        f"Reason: {_plain(event.reason)}",
        f"Counts: {run['models_seen']} seen, +{run['added']} added, ~{run['changed']} changed, "
        f"-{run['removed']} removed, ^{run['returned']} returned, {plural(run['errors'], 'error')}",
        "Look closer:",
        *(f"  {command}" for command in event.commands),
    ]
    return f"storewatch: {event.headline}", "\n".join(lines) + "\n"


def _plain(text: str) -> str:
    text = strip_controls(text)  # store text may carry escape codes
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"
