"""`storewatch.toml`: which stores the scheduler crawls, when, and how it treats failures, time limits and shutdown.

Every setting is declared once below (name, kind, default, help); the declarations drive parsing, the
error messages and the documentation test. Sections: `[scheduler]` (the service), `[defaults]` (store
settings every store inherits), one `[stores.<store>]` table per store to crawl, `[notify]` (who is told
when a run needs a look), `[archive]` (the WARC files of every crawl) and `[scrapyd]` (the nodes crawls run on
with `runner = "scrapyd"`).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from crawler.replay_faults import BadFaultRule, parse_faults
from crawler.shipped import shipped
from notifications.settings import EVENTS, NotifySettings
from storage.errors import StorewatchError
from storage.events import MassThresholds
from storage.health import HealthPolicy

SHIPPED_CONFIG = shipped("storewatch.toml")
CONFIG_ENV = "STOREWATCH_CONFIG"


@dataclass(frozen=True)
class Setting:
    """One setting of storewatch.toml."""

    key: str
    kind: str  # duration | int | positive | share | bool | cron | timezone | path | rules | urls | events | text | runner | nodes
    default: Any
    help: str


SCHEDULER_SETTINGS = (
    Setting("timezone", "timezone", "UTC", "time zone of `cron` schedules"),
    Setting("max_parallel", "int", 2, "how many crawls (of different stores) may run at once"),
    Setting("grace_period", "duration", 300, "on SIGTERM/SIGINT, how long running crawls may go on before they are stopped"),
    Setting("stop_timeout", "duration", 30, "after a crawl is asked to stop (SIGINT), how long before it is killed"),
    Setting("fail_after", "int", 3, "`storewatch status` exits 1 when a store's last N runs all failed"),
    Setting("lock_check", "duration", 15, "how often the scheduler checks it still holds its lock on the database (PostgreSQL); it stops when it does not"),
    Setting("runner", "runner", "local", "where crawls run: `local` (a process on this machine) or `scrapyd` (the least-busy node of `[scrapyd]`)"),
)
# Crawls on Scrapyd nodes (nodes/), with `runner = "scrapyd"`. Credentials: STOREWATCH_SCRAPYD_USERNAME/_PASSWORD.
SCRAPYD_SETTINGS = (
    Setting("nodes", "nodes", (), 'the nodes\' URLs (`"http://host:6800"`), or tables `{ url = "...", capabilities = [] }` for a node without Chromium (a URL alone: a node with `browser`)'),
    Setting("project", "text", "storewatch", "the project name in the nodes' scrapyd.conf `[settings]`"),
    Setting("poll", "duration", 2, "how often the scheduler looks at a running job (`listjobs.json`)"),
    Setting("lost_after", "duration", 60, "a node that answers nothing this long has lost its crawls: their runs are closed `failed` and retried elsewhere"),
    Setting("pending_limit", "duration", 3600, "a job a node has not started within this never starts (a node back from the dead does not resume it)"),
)
STORE_SETTINGS = (
    Setting("every", "duration", 86400, "crawl at this interval (`6h`, `1d`, `1w`; a number is seconds)"),
    Setting("cron", "cron", None, "or on this crontab schedule (`minute hour day month weekday`); replaces `every`"),
    Setting("jitter", "duration", 0, "start each scheduled run up to this much later, at random"),
    Setting("time_limit", "duration", 7200, "stop a crawl that runs longer; it is recorded `partial`"),
    Setting("retries", "int", 3, "retries after a failed run, before waiting for the next scheduled one"),
    Setting("retry_backoff", "duration", 60, "delay before the first retry; each further retry waits twice as long"),
    Setting("enabled", "bool", True, "`false` keeps the entry but does not schedule the store"),
    Setting("replay", "path", None, "crawl recorded snapshots (a folder of `<date>/` snapshot directories, or one; relative to the config file) instead of the live store"),
    Setting("replay_faults", "rules", (), "with `replay`: `PATTERN=ACTION` fault rules for the replay server, to rehearse outages (as `crawl --fail`)"),
)
# The crawl-health gate (storage/health.py), per store; `storewatch crawl` reads them too, for every store in
# the file, enabled or not.
HEALTH_SETTINGS = (
    Setting("max_drop", "share", 0.2, "a complete run listing more than this share fewer models than the baseline is `suspect` (removals and changes held)"),
    Setting("tolerated_drop", "int", 5, "... unless it lists at most this many models fewer (a small store may lose a few)"),
    Setting("baseline_runs", "positive", 1, "the baseline: the mean number of models the store's last N complete runs listed"),
    Setting("confirm_removals", "positive", None, "complete runs in a row a model must be missing from before it is removed, as of the first (default: 2 for stores whose listing can drift, else 1)"),
    Setting("max_model_failures", "share", 0.5, "a run with a larger share of unreadable model pages is `partial` (nothing removed)"),
)

# Settings of one store only: the slice of the store a crawl covers (STOREWATCH_SCOPE, read by its spider).
# Without them a crawl covers the whole store.
STORE_SCOPES: dict[str, tuple[Setting, ...]] = {
    "huggingface": (
        Setting("author", "text", None, "only this user's or organisation's models (`google`)"),
        Setting("search", "text", None, "only models whose id contains this text (`llama`)"),
        Setting("library", "text", None, "only models of this library (`transformers`, `gguf`, `diffusers`)"),
        Setting("pipeline_tag", "text", None, "only models of this task (`text-generation`)"),
        Setting("max_models", "positive", None, "only the top N models by downloads (sorted by downloads instead of creation date)"),
    ),
}

NOTIFY_SETTINGS = (
    Setting("urls", "urls", (), "Apprise URLs each message goes to (`mailtos://`, `slack://`, `matrix://`, `ntfy://`, `json://`...); none: no messages"),
    Setting("on", "events", EVENTS, "the events that send a message: `failed_streak`, `suspect`, `mass_change`"),
    Setting("mass_change", "share", None, "the share of the store's models one run must add or bring back, remove, or change one element of, for `mass_change`; default: 25%, 10% and 50%, as `storewatch report` flags them"),
)

# The web archive of every crawl (webarchive/); the environment's STOREWATCH_ARCHIVE and STOREWATCH_ARCHIVE_DIR win.
ARCHIVE_SETTINGS = (
    Setting("enabled", "bool", True, "`false`: crawls write no WARC files (as `crawl --no-archive`)"),
    Setting("dir", "path", None, "the archive folder (relative to the config file); default: `archive/` beside the SQLite database"),
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class StoreSchedule:
    """When and how the scheduler crawls one store."""

    store: str
    every: float | None = 86400
    cron: str | None = None
    jitter: float = 0
    time_limit: float = 7200
    retries: int = 3
    retry_backoff: float = 60
    replay: Path | None = None
    replay_faults: tuple[str, ...] = ()
    dates: tuple[datetime, ...] = ()  # set by the demo: run exactly at these instants (its snapshots' dates)

    def describe(self) -> str:
        """The schedule in words; stored as the job's name, so a changed schedule is noticed at start-up."""
        if self.dates:
            when = f"on {len(self.dates)} snapshot dates"
        elif self.cron:
            when = f"cron '{self.cron}'"
        else:
            when = f"every {format_duration(self.every)}"
        return when + (f", jitter {format_duration(self.jitter)}" if self.jitter else "")


@dataclass(frozen=True)
class ServiceConfig:
    """The whole configuration: service settings and one StoreSchedule per enabled store."""

    path: Path | None
    stores: dict[str, StoreSchedule]
    timezone: str = "UTC"
    max_parallel: int = 2
    grace_period: float = 300
    stop_timeout: float = 30
    fail_after: int = 3
    lock_check: float = 15
    disabled: tuple[str, ...] = field(default=())
    # store -> crawl-health settings given in the file ([defaults] and [stores.<store>]); "*" holds [defaults]
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    notify: NotifySettings | None = None  # None: no [notify] URLs, nobody is told
    # store -> its scope settings (STORE_SCOPES) given in the file, enabled or not; absent: the whole store
    scopes: dict[str, dict[str, Any]] = field(default_factory=dict)
    archive: dict[str, Any] = field(default_factory=dict)  # the [archive] settings given in the file
    runner: str = "local"  # local | scrapyd
    scrapyd: Any = None  # nodes.dispatch.ScrapydSettings with `runner = "scrapyd"`

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def health_policy(self, store: str, *, listing_can_drift: bool = False) -> HealthPolicy:
        """The crawl-health gate for `store`: its settings, else [defaults], else the built-in defaults."""
        values = {setting.key: setting.default for setting in HEALTH_SETTINGS}
        values["confirm_removals"] = 2 if listing_can_drift else 1
        values.update(self.health.get("*", {}))
        values.update(self.health.get(store, {}))
        return HealthPolicy(**values)


def config_path(explicit: str | os.PathLike | None = None) -> Path:
    """`--config`, else $STOREWATCH_CONFIG, else ./storewatch.toml, else the one shipped with storewatch."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    local = Path("storewatch.toml")
    return local if local.is_file() else SHIPPED_CONFIG


def load_config(explicit: str | os.PathLike | None = None, *, known_stores: list[str]) -> ServiceConfig:
    """Read and check a config file; any mistake is one StorewatchError line naming the file and the setting."""
    path = config_path(explicit).resolve()
    return parse_config(_read(path), path=path, known_stores=known_stores)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise StorewatchError(f"config file not found: {path}") from None
    except OSError as error:
        raise StorewatchError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise StorewatchError(f"{path}: not valid TOML: {error}") from None


def parse_config(document: dict[str, Any], *, path: Path | None, known_stores: list[str]) -> ServiceConfig:
    where = str(path) if path else "config"
    _only_keys(document, {"scheduler", "defaults", "stores", "notify", "archive", "scrapyd"}, where, "")
    service = _section(document, "scheduler", SCHEDULER_SETTINGS, where)
    notify = _notify_settings(_section(document, "notify", NOTIFY_SETTINGS, where), service.get("fail_after", ServiceConfig.fail_after))
    archive = _section(document, "archive", ARCHIVE_SETTINGS, where)
    scrapyd = _scrapyd_settings(_section(document, "scrapyd", SCRAPYD_SETTINGS, where), service.get("runner", "local"), where)
    if "dir" in archive:
        archive["dir"] = str((path.parent if path else Path.cwd()) / archive["dir"])
    defaults = _section(document, "defaults", STORE_SETTINGS + HEALTH_SETTINGS, where)
    health = {"*": _take(defaults, HEALTH_SETTINGS)}
    _one_schedule(defaults, f"{where}: [defaults]")
    stores_table = document.get("stores", {})
    if not isinstance(stores_table, dict):
        raise StorewatchError(f"{where}: [stores] must be a table of [stores.<store>] tables")
    if not stores_table:
        raise StorewatchError(f"{where}: no stores configured (add a [stores.<store>] table; stores: {', '.join(known_stores)})")
    base = path.parent if path else Path.cwd()
    stores, disabled, scopes = {}, [], {}
    for store, table in stores_table.items():
        if store not in known_stores:
            raise StorewatchError(f"{where}: [stores.{store}]: no spider for store {store!r}; known stores: {', '.join(known_stores)}")
        if not isinstance(table, dict):
            raise StorewatchError(f"{where}: stores.{store} must be a table ([stores.{store}])")
        scope_settings = STORE_SCOPES.get(store, ())
        own = _section({store: table}, store, STORE_SETTINGS + HEALTH_SETTINGS + scope_settings, where, prefix="stores.")
        health[store] = _take(own, HEALTH_SETTINGS)
        scopes[store] = _take(own, scope_settings)
        _one_schedule(own, f"{where}: [stores.{store}]")
        values = {**defaults, **own}
        if "every" in own:
            values.pop("cron", None)
        elif "cron" in values:
            values["every"] = None
        if not values.pop("enabled", True):
            disabled.append(store)
            continue
        replay = values.get("replay")
        if replay is not None:
            values["replay"] = _replay_folder(base / replay, store, where)
        values["replay_faults"] = tuple(values.get("replay_faults", ()))
        stores[store] = StoreSchedule(store=store, **values)
    if not stores:
        raise StorewatchError(f"{where}: every configured store is disabled; nothing to schedule")
    return ServiceConfig(
        path=path, stores=stores, disabled=tuple(disabled), health=health, notify=notify, scopes=scopes, archive=archive,
        scrapyd=scrapyd, **service
    )


def _scrapyd_settings(values: dict[str, Any], runner: str, where: str):
    """The [scrapyd] section as the dispatcher's settings; None with the local runner."""
    if runner != "scrapyd":
        return None
    from nodes.dispatch import ScrapydSettings
    from nodes.scrapyd import ScrapydNode

    if not values.get("nodes"):
        raise StorewatchError(f'{where}: runner = "scrapyd" needs [scrapyd] nodes = ["http://host:6800", ...]')
    project = values.pop("project", ScrapydSettings.project)
    nodes = tuple(ScrapydNode(url, frozenset(capabilities), project=project) for url, capabilities in values.pop("nodes"))
    return ScrapydSettings(nodes=nodes, project=project, **values)


def _take(values: dict[str, Any], settings: tuple[Setting, ...]) -> dict[str, Any]:
    """Remove the given settings from `values`; returns them."""
    return {setting.key: values.pop(setting.key) for setting in settings if setting.key in values}



def _notify_settings(values: dict[str, Any], fail_after: int) -> NotifySettings | None:
    if not values.get("urls"):
        return None
    share = values.get("mass_change")
    return NotifySettings(
        urls=tuple(values["urls"]),
        on=tuple(dict.fromkeys(values.get("on", EVENTS))),
        fail_after=fail_after,
        mass_change=MassThresholds() if share is None else MassThresholds.uniform(share),
    )


def _section(document: dict[str, Any], name: str, settings: tuple[Setting, ...], where: str, prefix: str = "") -> dict[str, Any]:
    table = document.get(name, {})
    label = f"{prefix}{name}"
    if not isinstance(table, dict):
        raise StorewatchError(f"{where}: {label} must be a table ([{label}])")
    declared = {setting.key: setting for setting in settings}
    _only_keys(table, declared.keys(), where, label)
    return {key: _value(declared[key], value, f"{where}: {label}.{key}") for key, value in table.items()}


def _only_keys(table: dict[str, Any], allowed, where: str, label: str) -> None:
    for key in table:
        if key not in allowed:
            place = f"[{label}]" if label else "top level"
            raise StorewatchError(f"{where}: {place}: unknown setting {key!r} (known: {', '.join(sorted(allowed))})")


def _one_schedule(values: dict[str, Any], place: str) -> None:
    if "every" in values and "cron" in values:
        raise StorewatchError(f"{place}: set either `every` or `cron`, not both")


def _value(setting: Setting, value: Any, label: str) -> Any:
    kind = setting.kind
    if kind == "duration":
        return parse_duration(value, label)
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise StorewatchError(f"{label}: expected a whole number ≥ 0, got {value!r}")
        return value
    if kind == "positive":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise StorewatchError(f"{label}: expected a whole number ≥ 1, got {value!r}")
        return value
    if kind == "share":
        share = _share(value)
        if share is None:
            raise StorewatchError(f"{label}: expected a share between 0 and 1 (0.2, or \"20%\"), got {value!r}")
        return share
    if kind == "text":
        if not isinstance(value, str) or not value.strip():
            raise StorewatchError(f"{label}: expected a non-empty string, got {value!r}")
        return value.strip()
    if kind == "bool":
        if not isinstance(value, bool):
            raise StorewatchError(f"{label}: expected true or false, got {value!r}")
        return value
    if kind == "cron":
        if not isinstance(value, str):
            raise StorewatchError(f"{label}: expected a crontab string such as '0 3 * * *', got {value!r}")
        try:
            cron_trigger(value, ZoneInfo("UTC"))
        except ValueError as error:
            raise StorewatchError(f"{label}: not a cron schedule: {value!r} ({error})") from None
        return value
    if kind == "timezone":
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            raise StorewatchError(f"{label}: unknown time zone {value!r}") from None
        return str(value)
    if kind == "path":
        if not isinstance(value, str) or not value:
            raise StorewatchError(f"{label}: expected a folder path, got {value!r}")
        return value
    if kind == "rules":
        if not isinstance(value, list) or not all(isinstance(rule, str) for rule in value):
            raise StorewatchError(f"{label}: expected a list of 'PATTERN=ACTION' strings, got {value!r}")
        try:
            parse_faults(value)
        except BadFaultRule as error:
            raise StorewatchError(f"{label}: {error}") from None
        return value
    if kind == "urls":
        return _notify_urls(value, label)
    if kind == "runner":
        if value not in ("local", "scrapyd"):
            raise StorewatchError(f'{label}: expected "local" or "scrapyd", got {value!r}')
        return value
    if kind == "nodes":
        return _scrapyd_nodes(value, label)
    if kind == "events":
        if not isinstance(value, list) or not all(isinstance(event, str) for event in value):
            raise StorewatchError(f"{label}: expected a list of event names ({', '.join(EVENTS)}), got {value!r}")
        for event in value:
            if event not in EVENTS:
                raise StorewatchError(f"{label}: unknown event {event!r} (known: {', '.join(EVENTS)})")
        return value
    raise AssertionError(kind)


def _scrapyd_nodes(value: Any, label: str) -> list[tuple[str, tuple[str, ...]]]:
    """(url, capabilities) per node: a URL alone declares `browser`; a table declares its own capabilities."""
    if not isinstance(value, list) or not value:
        raise StorewatchError(f'{label}: expected a list of node URLs, e.g. ["http://node1:6800", "http://node2:6800"]')
    nodes = []
    for index, node in enumerate(value):
        url, capabilities = (node, ["browser"]) if isinstance(node, str) else (node.get("url"), node.get("capabilities", [])) if isinstance(node, dict) else (None, None)
        if not isinstance(url, str) or not re.match(r"^https?://[^/@\s]+(:\d+)?/?$", url):
            raise StorewatchError(f"{label}[{index}]: expected a node URL such as \"http://host:6800\" (no credentials: set STOREWATCH_SCRAPYD_USERNAME/_PASSWORD)")
        if not isinstance(capabilities, list) or not all(capability in CAPABILITIES for capability in capabilities):
            raise StorewatchError(f"{label}[{index}]: capabilities must be a list of {', '.join(CAPABILITIES)}")
        nodes.append((url, tuple(capabilities)))
    return nodes


CAPABILITIES = ("browser",)  # `browser`: Chromium is installed, for stores whose pages render


def _share(value: Any) -> float | None:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            value = float(value.strip()[:-1]) / 100
        except ValueError:
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return None


def _notify_urls(value: Any, label: str) -> list[str]:
    """Apprise URLs, each checked by Apprise; a rejected one is named by its place and scheme, never in full."""
    from notifications.targets import Target  # imports Apprise: only for a config that has URLs

    if not isinstance(value, list) or not all(isinstance(url, str) for url in value):
        raise StorewatchError(f"{label}: expected a list of Apprise URLs, as strings: urls = [\"mailtos://...\"]")
    for index, url in enumerate(value):
        try:
            Target(url)
        except ValueError as error:
            raise StorewatchError(f"{label}[{index}]: {error}") from None
    return value


def cron_trigger(expression: str, zone: ZoneInfo, jitter: float = 0) -> CronTrigger:
    """A crontab line (`minute hour day month weekday`) as a trigger; weekday numbers as in crontab (0 or 7: Sunday).

    APScheduler 3 counts weekdays from Monday, so numbers are turned into names first.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    weekday = re.sub(r"(?<![/\d])([0-7])(?!\d)", lambda match: _WEEKDAYS[int(match[1]) % 7], weekday)
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=zone, jitter=int(jitter) or None
    )


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def parse_duration(value: Any, label: str = "duration") -> float:
    """`90s`, `15m`, `6h`, `1d`, `2w`, or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise StorewatchError(f"{label}: not a duration: {value!r} (use e.g. 30s, 15m, 6h, 1d, 1w)")
    return float(match[1]) * _UNITS[match[2]]


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit in ("w", "d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def _replay_folder(folder: Path, store: str, where: str) -> Path:
    folder = folder.resolve()
    if not folder.is_dir():
        raise StorewatchError(f"{where}: stores.{store}.replay: snapshot folder not found: {folder}")
    if not (folder / "SNAPSHOT.json").is_file() and not any(folder.glob("*/SNAPSHOT.json")):
        raise StorewatchError(f"{where}: stores.{store}.replay: no snapshot (no */SNAPSHOT.json) in {folder}")
    return folder
