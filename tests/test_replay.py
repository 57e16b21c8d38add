"""The replay server: a snapshot answers as the live hosts did, through one local port."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from conftest import replay_handler, snapshot_dir
from crawler.replay import ReplayServer, Snapshot
from storage.errors import StorewatchError

TREE = "/api.github.com/repos/tensorflow/tfhub.dev/git/trees/master?recursive=1"


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers["Content-Type"]


def test_serves_files_by_host_path_and_query():
    directory = snapshot_dir("tfhub", "2021-06-30")
    with ReplayServer(directory) as server:
        status, body, kind = fetch(server.url + TREE)
    assert status == 200 and kind.startswith("application/json")
    assert body == (directory / TREE.lstrip("/")).read_bytes()


def test_missing_file_snapshot_metadata_and_escapes_are_404():
    with ReplayServer(snapshot_dir("onnx_zoo", "2021-08-20")) as server:
        for path in ("/raw.githubusercontent.com/onnx/models/main/nope.json", "/SNAPSHOT.json", "/../../../etc/passwd",
                     "/%2e%2e/%2e%2e/conftest.py"):
            assert fetch(server.url + path)[0] == 404, path


def test_snapshot_metadata_is_read_and_checked(tmp_path):
    snapshot = Snapshot.load(snapshot_dir("pytorch_hub", "2020-12-31"))
    assert (snapshot.store, snapshot.observed_at.isoformat()) == ("pytorch_hub", "2020-12-31T00:00:00+00:00")
    with pytest.raises(StorewatchError, match="no SNAPSHOT.json"):
        Snapshot.load(tmp_path)
    (tmp_path / "SNAPSHOT.json").write_text(json.dumps({"store": "x", "observed_at": "last tuesday"}))
    with pytest.raises(StorewatchError, match="not a date"):
        Snapshot.load(tmp_path)


# -- the replay transport: what a crawl's download handler does with the replay server --------------------

LIVE_TREE = "https://api.github.com/repos/tensorflow/tfhub.dev/git/trees/master?recursive=1"


def download(handler, *urls: str, method: str = "GET", **meta):
    """Responses (or the exception raised) for `urls`, fetched one after another, then the handler closed."""
    from scrapy import Request

    async def run():
        results = []
        for url in urls:
            try:
                results.append(await handler.download_request(Request(url, method=method, meta=meta)))
            except Exception as error:  # noqa: BLE001 -- the test looks at which one
                results.append(error)
        pooled = len(handler.idle)
        await handler.close()
        return results, pooled

    return asyncio.run(run())


def test_handler_fetches_live_urls_from_the_snapshot_over_one_kept_alive_connection():
    directory = snapshot_dir("tfhub", "2021-06-30")
    with ReplayServer(directory) as server:
        (tree, missing), pooled = download(replay_handler(server.url), LIVE_TREE, "https://raw.githubusercontent.com/nope.md")
    assert (tree.status, tree.url) == (200, LIVE_TREE)  # the response keeps the live URL
    assert tree.body == (directory / TREE.lstrip("/")).read_bytes() and tree.json()["tree"]
    assert missing.status == 404
    assert pooled == 1
    with ReplayServer(directory) as server:
        (head, again), pooled = download(replay_handler(server.url), LIVE_TREE, LIVE_TREE, method="HEAD", download_timeout=5)
    assert (head.status, head.body, again.status, pooled) == (200, b"", 200, 1)  # no body read, the connection reused


def test_handler_turns_an_unreachable_or_silent_server_into_download_errors():
    from scrapy.exceptions import DownloadConnectionRefusedError, DownloadTimeoutError

    with ReplayServer(snapshot_dir("tfhub", "2021-06-30")) as server:
        gone_url = server.url
    [refused], _ = download(replay_handler(gone_url), LIVE_TREE)
    assert isinstance(refused, DownloadConnectionRefusedError)

    async def silent(reader, writer):
        await reader.read(1)
        await asyncio.sleep(5)

    async def run():
        listener = await asyncio.start_server(silent, "127.0.0.1", 0)
        handler = replay_handler(f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}")
        from scrapy import Request

        try:
            await handler.download_request(Request(LIVE_TREE, meta={"download_timeout": 0.2}))
        except DownloadTimeoutError as error:
            return error
        finally:
            listener.close()

    assert "longer than 0.2 s" in str(asyncio.run(run()))


def test_handler_retries_on_a_new_connection_when_the_server_closed_a_kept_alive_one():
    async def once_per_connection(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # without saying Connection: close, as a server restarting would

    async def run():
        listener = await asyncio.start_server(once_per_connection, "127.0.0.1", 0)
        handler = replay_handler(f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}")
        from scrapy import Request

        bodies = []
        for _ in range(3):
            bodies.append((await handler.download_request(Request(LIVE_TREE))).body)
            await asyncio.sleep(0.05)  # let the close arrive
        await handler.close()
        listener.close()
        return bodies

    assert asyncio.run(run()) == [b"ok", b"ok", b"ok"]


def test_a_failed_browser_download_still_hands_its_page_to_the_errback():
    """scrapy-playwright leaves the page in the meta of the request it was given; the crawl's request must get
    it even when the render fails, or the errback cannot close the page and its context stays open."""
    from scrapy import Request

    from crawler.replay_transport import download_via_replay

    async def failing_render(request):
        assert request.url == "http://127.0.0.1:9/aws.amazon.com/marketplace/pp/x"
        request.meta["playwright_page"] = "the page"
        raise TimeoutError("rendering took too long")

    request = Request("https://aws.amazon.com/marketplace/pp/x", meta={"playwright": True})
    with pytest.raises(TimeoutError):
        asyncio.run(download_via_replay(failing_render, request, "http://127.0.0.1:9"))
    assert request.meta["playwright_page"] == "the page" and request.url == "https://aws.amazon.com/marketplace/pp/x"


def test_a_request_body_does_not_put_a_kept_alive_connection_out_of_step():
    directory = snapshot_dir("tfhub", "2021-06-30")
    from scrapy import Request

    async def run(base_url):
        handler = replay_handler(base_url)
        posted = await handler.download_request(Request(LIVE_TREE, method="POST", body=b"HEAD-looking-body"))
        head = await handler.download_request(Request(LIVE_TREE, method="HEAD", meta={"download_timeout": 5}))
        got = await handler.download_request(Request(LIVE_TREE))
        await handler.close()
        return posted, head, got

    with ReplayServer(directory) as server:
        posted, head, got = asyncio.run(run(server.url))
    assert (posted.status, head.status, head.body, got.status) == (200, 200, b"", 200)
    assert got.body == (directory / TREE.lstrip("/")).read_bytes()


def test_the_replay_url_alone_chooses_the_replay_client():
    from scrapy.settings import Settings

    from crawler.replay_transport import LIVE_HTTP_HANDLER, ReplayDownloadHandler, http_handler_class

    assert http_handler_class(Settings({"STOREWATCH_REPLAY_URL": "http://127.0.0.1:9"})) is ReplayDownloadHandler
    assert http_handler_class(Settings()).__name__ == LIVE_HTTP_HANDLER.rsplit(".", 1)[1]


def test_a_page_over_the_size_limit_is_refused_unread_as_scrapy_refuses_it_live():
    from scrapy.exceptions import DownloadCancelledError

    directory = snapshot_dir("tfhub", "2021-06-30")
    size = (directory / TREE.lstrip("/")).stat().st_size
    doc = "https://raw.githubusercontent.com/tensorflow/tfhub.dev/master/assets/docs/google/models/imagenet/mobilenet_v2_100_224/classification/5.md"
    with ReplayServer(directory) as server:
        (refused, small), pooled = download(replay_handler(server.url), LIVE_TREE, doc, download_maxsize=size - 1)
    assert isinstance(refused, DownloadCancelledError) and f"{size} bytes" in str(refused)
    assert small.status == 200 and pooled == 1  # the refused answer's connection was dropped, a new one serves the next
    with ReplayServer(directory) as server:
        [whole], _ = download(replay_handler(server.url), LIVE_TREE, download_maxsize=size)
    assert len(whole.body) == size
