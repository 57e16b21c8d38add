"""A Scrapyd daemon on this machine, in a folder of its own: for the tests, the benchmark, and trying the Scrapyd
runner on one machine before deploying nodes (deploy/ holds the real set-up's files).

The folder gets the two files a node needs (the same as deploy/scrapyd/): `scrapyd.conf` (port, folders,
slots) and `scrapy.cfg`, whose `[settings]` section makes the installed storewatch the Scrapyd project
`storewatch`. The daemon runs in a session of its own, so `kill()` takes its crawls (and their replay servers
and browsers) with it, as when a machine dies.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from nodes.scrapyd import NodeUnreachable, ScrapydNode

SCRAPY_CFG = "[settings]\nstorewatch = crawler.settings\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalScrapyd:
    def __init__(self, folder: Path, env: dict[str, str], *, slots: int = 2, port: int | None = None) -> None:
        self.folder = Path(folder)
        self.env = env  # the node's environment: STOREWATCH_DATABASE_URL, tokens, STOREWATCH_CONFIG...
        self.slots = slots
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "LocalScrapyd":
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "scrapyd.conf").write_text(
            "[scrapyd]\nbind_address = 127.0.0.1\n"
            f"http_port = {self.port}\nmax_proc = {self.slots}\npoll_interval = 0.2\n"
            "eggs_dir = eggs\nlogs_dir = logs\ndbs_dir = dbs\n"
        )
        (self.folder / "scrapy.cfg").write_text(SCRAPY_CFG)
        output = open(self.folder / "scrapyd.out", "ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "scrapyd"], cwd=self.folder, env=self.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        output.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                ScrapydNode(self.url).load()
                return self
            except NodeUnreachable:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"scrapyd did not start: see {self.folder / 'scrapyd.out'}") from None
                time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the daemon and everything it started: the node dies mid-crawl."""
        if self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._process.wait()
            self._process = None

    def __enter__(self) -> "LocalScrapyd":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.kill()
