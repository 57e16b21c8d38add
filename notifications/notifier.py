"""Tell a person about a finished run: one message per event it causes, to every configured URL, never raising."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine

from notifications.events import RunEvent, run_events
from notifications.message import compose
from notifications.settings import NotifySettings
from notifications.targets import Target

log = logging.getLogger("storewatch.notify")

LEVELS = {"failed_streak": "failure", "suspect": "warning", "mass_change": "info"}


class Notifier:
    """Sends the messages for runs as they end; a notifier that fails costs one warning line, never the run."""

    def __init__(self, settings: NotifySettings, warn: Callable[[str], None] = log.warning) -> None:
        self.settings = settings
        self.warn = warn
        self.targets = [Target(url) for url in settings.urls]  # the URLs were checked when the config was read

    def run_finished(self, engine: Engine, run_id: int) -> list[RunEvent]:
        """Send one message per event run `run_id` causes to every URL; returns the events."""
        try:
            events = run_events(engine, run_id, self.settings)
        except Exception as error:  # noqa: BLE001 -- a notifier never breaks a crawl or the scheduler
            self.warn(f"notify: could not judge run {run_id} for events ({type(error).__name__}); no message sent")
            return []
        for event in events:
            title, body = compose(event)
            for target in self.targets:
                if not target.send(title, body, LEVELS[event.kind]):
                    self.warn(
                        f"notify: the {event.kind} message for {event.run['store']} run {run_id} "
                        f"was not delivered to {target.label}"
                    )
        return events
