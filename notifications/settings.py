"""What the `[notify]` section of storewatch.toml asks for, as plain values (read by crawler.schedule_config)."""

from __future__ import annotations

from dataclasses import dataclass

from storage.events import MassThresholds

EVENTS = ("failed_streak", "suspect", "mass_change")


@dataclass(frozen=True)
class NotifySettings:
    """Where messages go, which events send one, and the thresholds those events are judged by."""

    urls: tuple[str, ...]
    on: tuple[str, ...] = EVENTS
    fail_after: int = 3  # `[scheduler] fail_after`: the failed streak that `status` calls unhealthy
    mass_change: MassThresholds = MassThresholds()
