"""Notifications: tell a person, through Apprise, when a finished run needs a look (no Scrapy here)."""

from notifications.events import RunEvent, run_events
from notifications.notifier import Notifier
from notifications.settings import EVENTS, NotifySettings

__all__ = ["EVENTS", "Notifier", "NotifySettings", "RunEvent", "run_events"]
