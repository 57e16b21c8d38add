"""A client of one Scrapyd node's JSON API: how busy it is, schedule a crawl, follow it, cancel it.

Credentials come from the environment (STOREWATCH_SCRAPYD_USERNAME, STOREWATCH_SCRAPYD_PASSWORD: the
`username`/`password` of the nodes' scrapyd.conf), never from storewatch.toml, and never appear in messages.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from storage.errors import StorewatchError

USERNAME_ENV = "STOREWATCH_SCRAPYD_USERNAME"
PASSWORD_ENV = "STOREWATCH_SCRAPYD_PASSWORD"
TIMEOUT = 10  # seconds: a node slower than this to answer is treated as unreachable for that call


class NodeUnreachable(StorewatchError):
    """The node did not answer (refused, timed out) or answered with something that is not Scrapyd's JSON."""


@dataclass(frozen=True)
class Job:
    """One Scrapyd job as `listjobs.json` shows it."""

    id: str
    state: str  # pending | running | finished
    pid: int | None = None
    log_url: str | None = None


class ScrapydNode:
    """One node: `url` as configured (http://host:6800), the capabilities it declares (e.g. `browser`)."""

    def __init__(self, url: str, capabilities: frozenset[str] = frozenset({"browser"}), *, project: str = "storewatch") -> None:
        self.url = url.rstrip("/")
        self.capabilities = capabilities
        self.project = project

    def __repr__(self) -> str:
        return f"ScrapydNode({self.url!r})"

    def load(self) -> int:
        """Jobs running and waiting on the node (`daemonstatus.json`), all projects."""
        status = self._call("daemonstatus.json")
        return int(status["running"]) + int(status["pending"])

    def schedule(self, spider: str, arguments: dict[str, str], job: str) -> str:
        """Queue a crawl of `spider` as job `job` with these spider arguments (which `listjobs` shows: no secrets)."""
        answer = self._call("schedule.json", {"project": self.project, "spider": spider, "jobid": job, **arguments})
        return answer["jobid"]

    def job(self, job: str) -> Job | None:
        """The job as the node lists it now (`listjobs.json`), or None when it does not list it."""
        listing = self._call("listjobs.json?" + urllib.parse.urlencode({"project": self.project}))
        for state in ("running", "pending", "finished"):
            for entry in listing.get(state, []):
                if entry.get("id") == job:
                    return Job(job, state, entry.get("pid"), entry.get("log_url"))
        return None

    def cancel(self, job: str, signal: str = "INT") -> None:
        """Stop a job: SIGINT makes Scrapy close the spider gracefully (the run is recorded `partial`); a pending
        job is taken off the queue."""
        self._call("cancel.json", {"project": self.project, "job": job, "signal": signal})

    def log_tail(self, log_url: str | None, lines: int = 40) -> str:
        """The end of a job's log (where a crawl that recorded nothing says why); empty when unavailable."""
        if not log_url:
            return ""
        try:
            # Only the end: a long crawl's log runs to megabytes (Scrapyd serves logs as static files, with ranges).
            text = self._get(urllib.parse.urljoin(self.url + "/", log_url.lstrip("/")), headers={"Range": "bytes=-65536"}).decode("utf-8", "replace")
        except NodeUnreachable:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _call(self, endpoint: str, form: dict[str, str] | None = None) -> dict[str, Any]:
        body = self._get(f"{self.url}/{endpoint}", urllib.parse.urlencode(form).encode() if form is not None else None)
        try:
            answer = json.loads(body)
        except ValueError:
            raise NodeUnreachable(f"Scrapyd node {self.url}: {endpoint} did not answer JSON") from None
        if answer.get("status") != "ok":
            raise StorewatchError(f"Scrapyd node {self.url}: {endpoint}: {answer.get('message', 'error')}")
        return answer

    def _get(self, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
        request = urllib.request.Request(url, data=data, headers=headers or {})
        username, password = os.environ.get(USERNAME_ENV), os.environ.get(PASSWORD_ENV)
        if username:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            if error.code == 401:
                raise StorewatchError(f"Scrapyd node {self.url} refused the credentials (set {USERNAME_ENV} and {PASSWORD_ENV})") from None
            raise NodeUnreachable(f"Scrapyd node {self.url}: HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise NodeUnreachable(f"Scrapyd node {self.url} unreachable ({reason})") from None
