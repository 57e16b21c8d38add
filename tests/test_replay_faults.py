"""Fault rules of the replay server (`--fail PATTERN=ACTION`), and page size limits in the replay transport."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, cli_json, replay_handler, run_cli, snapshot_dir
from crawler.replay import ReplayServer, parse_faults
from crawler.replay_faults import BadFaultRule, FaultRule, parse_fault
from storage.errors import StorewatchError

PYTORCH = snapshot_dir("pytorch_hub", "2019-09-30")
PAGES = "/raw.githubusercontent.com/pytorch/hub/master"
TREE = "/api.github.com/repos/pytorch/hub/git/trees/master"
WOLFRAM_SEARCH = (
    "https://www.wolframcloud.com/obj/resourcesystem/api/1.0/SearchResources"
    "?ResourceTypes=NeuralNet&Format=json&Count=1000&WebFiltering=True"
)


def page(name: str) -> str:
    return f"{PAGES}/pytorch_vision_{name}.md"


def real(target: str, directory=PYTORCH) -> bytes:
    return (directory / target.lstrip("/")).read_bytes()


def get(base_url: str, target: str) -> tuple[int, dict[str, str], bytes]:
    """One request with a plain HTTP client: status, headers, body."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def serve(*rules: str, directory=PYTORCH) -> ReplayServer:
    return ReplayServer(directory, parse_faults(list(rules)))


# -- what the server answers ------------------------------------------------------------------------------


def test_each_body_fault_answers_as_specified():
    rules = (
        "*/pytorch_vision_alexnet.md=empty",
        "*/pytorch_vision_resnet.md=truncate:40",
        "*/pytorch_vision_nope.md=truncate:40",
        "*/pytorch_vision_vgg.md=html",
        '/api.github.com/*=json:{"tree":[],"truncated":false}',
        "*/pytorch_vision_googlenet.md=reset",
        "*/pytorch_vision_densenet.md=503",
    )
    with serve(*rules) as server:
        status, headers, body = get(server.url, page("alexnet"))
        assert (status, body, headers["Content-Length"]) == (200, b"", "0")
        assert headers["Content-Type"].startswith("text/markdown")  # labelled as the real page would be

        status, headers, body = get(server.url, page("resnet"))
        assert (status, headers["Content-Length"], body) == (200, "40", real(page("resnet"))[:40])
        assert get(server.url, page("nope"))[0] == 404  # nothing to truncate: the snapshot's own answer

        status, headers, body = get(server.url, page("vgg"))
        assert status == 200 and headers["Content-Type"].startswith("text/html") and b"Something went wrong" in body

        status, headers, body = get(server.url, TREE)
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        assert json.loads(body) == {"tree": [], "truncated": False}

        with pytest.raises(ConnectionResetError) as reset:  # no answer at all...
            get(server.url, page("googlenet"))
        assert not isinstance(reset.value, http.client.RemoteDisconnected)  # ...and a reset, not a clean close

        assert get(server.url, page("densenet"))[:1] == (503,)
        status, _, body = get(server.url, page("squeezenet"))  # no rule: the snapshot, as ever
        assert (status, body) == (200, real(page("squeezenet")))


def test_a_slow_answer_is_the_real_one_late_and_holds_up_no_other_request():
    with serve("*/pytorch_vision_alexnet.md=slow:0.6") as server:
        slow: dict = {}

        def fetch_slow():
            started = time.monotonic()
            slow["answer"] = get(server.url, page("alexnet"))
            slow["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=fetch_slow)
        thread.start()
        time.sleep(0.05)
        started = time.monotonic()
        assert get(server.url, page("vgg"))[0] == 200
        fast_seconds = time.monotonic() - started
        thread.join()
    assert fast_seconds < 0.4 and thread.is_alive() is False
    assert slow["seconds"] >= 0.6 and slow["answer"][0] == 200 and slow["answer"][2] == real(page("alexnet"))


def test_patterns_written_as_urls_or_without_the_slash_match_and_may_hold_equals_signs():
    wolfram = snapshot_dir("wolfram_nnr", "2024-06-01")
    search_target = "/" + WOLFRAM_SEARCH.removeprefix("https://")
    assert (wolfram / search_target.lstrip("/")).is_file()
    with serve(f'{WOLFRAM_SEARCH}=json:{{"Resources":[],"note":"a=b"}}', directory=wolfram) as server:
        status, _, body = get(server.url, search_target)
    assert status == 200 and json.loads(body) == {"Resources": [], "note": "a=b"}

    with serve("raw.githubusercontent.com/pytorch/*=500", "https://api.github.com/repos/*=502") as server:
        assert get(server.url, page("alexnet"))[0] == 500
        assert get(server.url, TREE)[0] == 502

    # the status action is read from the end, so a pattern keeps its query's `=`
    assert parse_fault("/host.example/search?q=a&n=2=503") == FaultRule("/host.example/search?q=a&n=2", "503")
    assert parse_fault("http://host.example/p?x=1=truncate:10") == FaultRule("/host.example/p?x=1", "truncate", "10")
    # and a rule reads back as itself, so it can be handed to the server's process
    for rule in ("*/x.md=slow:0.25", '/h.example/p?a=1=json:{"k":"=v"}', "/h.example/*=empty", "/h.example/*=reset", "/h.example/*=html"):
        assert str(parse_fault(rule)) == rule and parse_fault(str(parse_fault(rule))) == parse_fault(rule)


def test_the_first_matching_rule_wins():
    with serve("*/pytorch_vision_alexnet.md=503", "*.md=500") as server:
        assert (get(server.url, page("alexnet"))[0], get(server.url, page("vgg"))[0]) == (503, 500)
    with serve("*.md=500", "*/pytorch_vision_alexnet.md=503") as server:
        assert get(server.url, page("alexnet"))[0] == 500


BAD_RULES = ["/api.github.com/*", "/x=5000", "/x=199", "/x=teapot", "=500", "/x=truncate:-1", "/x=truncate",
             "/x=slow:soon", "/x=slow:nan", "/x=empty:3", "/x=json:{not json"]


@pytest.mark.parametrize("rule", BAD_RULES)
def test_a_bad_rule_is_refused_with_a_message_naming_it(rule):
    with pytest.raises(BadFaultRule, match="fault rule"):
        parse_fault(rule)
    with pytest.raises(StorewatchError, match="fault rule"):
        parse_faults(["/ok.example/*=500", rule])


@pytest.mark.parametrize(
    ("rule", "advice"),
    [
        ("api.github.com/...=500", "'...' is not a wildcard; write 'api.github.com/*=500'"),
        ("https://api.github.com/repos/…/trees/*=503", "'…' is not a wildcard; write 'https://api.github.com/repos/*/trees/*=503'"),
        ("/repos/pytorch/hub/*=503", "'repos' is not a host name; begin with the store's host, e.g. '/api.github.com/repos/pytorch/hub/*=503'"),
        ("https://api.github.com=reset", "a request has a path after its host; write '/api.github.com/*=reset'"),
    ],
)
def test_a_rule_no_request_can_match_is_refused_with_how_to_write_it(rule, advice):
    """Such a rule would never fire: the outage it should rehearse would silently not happen."""
    with pytest.raises(BadFaultRule) as refused:
        parse_fault(rule)
    assert str(refused.value).startswith(f"fault rule {rule!r} can never match a request") and advice in str(refused.value)


def test_a_bad_rule_is_one_error_line_from_every_command(tmp_path):
    directory = str(snapshot_dir("onnx_zoo", "2021-08-20"))
    db = tmp_path / "sw.db"
    for args in (
        ("replay", "serve", directory, "--port", "0", "--fail", "/x=teapot"),
        ("crawl", "onnx_zoo", "--replay", directory, "--fail", "/x=json:{", "--db", str(db)),
        ("crawl", "onnx_zoo", "--fail", "/x.example/*=500", "--db", str(db)),  # fault rules are for a replay only
        ("crawl", "onnx_zoo", "--replay", directory, "--fail", "api.github.com/...=500", "--db", str(db)),
    ):
        result = run_cli(*args, check=False)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert not db.exists()
    server = subprocess.run(
        [sys.executable, "-m", "crawler.replay_server", directory, "--fail", "/x=slow:soon"],
        capture_output=True, text=True, cwd=ROOT, timeout=30,
    )
    assert server.returncode == 2 and server.stderr.startswith("error: not a fault rule: '/x=slow:soon'")
    assert len(server.stderr.splitlines()) == 1 and not server.stdout


def test_the_scheduler_config_checks_fault_rules():
    from crawler.schedule_config import parse_config

    def config(rules):
        store = {"replay": str(snapshot_dir("onnx_zoo", "2021-08-20")), "replay_faults": rules}
        return parse_config({"stores": {"onnx_zoo": store}}, path=None, known_stores=["onnx_zoo"])

    for rules, error in (
        (["/x=teapot"], "replay_faults: not a fault rule: '/x=teapot'"),
        (["/x.example/*=500", 7], "PATTERN=ACTION"),
        (["api.github.com/...=500"], r"stores.onnx_zoo.replay_faults: fault rule 'api.github.com/...=500' can never match a request"),
    ):
        with pytest.raises(StorewatchError, match=error):
            config(rules)
    rules = ["raw.githubusercontent.com/*=json:[]", "/a?b=c=slow:1"]
    assert config(rules).stores["onnx_zoo"].replay_faults == tuple(rules)  # passed on as written


# -- what a crawl sees through the replay transport -------------------------------------------------------


def live(target: str) -> str:
    return "https:/" + target


async def fetch(handler, target: str, **meta):
    from scrapy import Request

    try:
        return await handler.download_request(Request(live(target), meta=meta))
    except Exception as error:  # noqa: BLE001 -- the test looks at which one
        return error


def test_the_transport_sees_a_reset_as_a_failed_download_and_a_truncated_page_as_its_short_body():
    from scrapy.exceptions import DownloadFailedError

    async def run(base_url):
        handler = replay_handler(base_url)
        answers = [await fetch(handler, target) for target in (page("vgg"), page("alexnet"), page("resnet"), page("vgg"))]
        await handler.close()
        return answers

    with serve("*/pytorch_vision_alexnet.md=reset", "*/pytorch_vision_resnet.md=truncate:100") as server:
        before, reset, truncated, after = asyncio.run(run(server.url))
    assert isinstance(reset, DownloadFailedError) and "ConnectionResetError" in str(reset)
    assert (truncated.status, truncated.body, truncated.url) == (200, real(page("resnet"))[:100], live(page("resnet")))
    assert before.body == after.body == real(page("vgg"))  # the pool carried on past the reset


def test_the_transport_waits_for_a_slow_answer_alone_and_times_it_out():
    from scrapy.exceptions import DownloadTimeoutError

    async def timed(handler, target, **meta):
        started = time.monotonic()
        answer = await fetch(handler, target, **meta)
        return answer, time.monotonic() - started

    async def run(base_url):
        handler = replay_handler(base_url)
        (slow, slow_seconds), (fast, fast_seconds) = await asyncio.gather(timed(handler, page("alexnet")), timed(handler, page("vgg")))
        timed_out = await fetch(handler, page("alexnet"), download_timeout=0.1)
        await handler.close()
        return slow, slow_seconds, fast, fast_seconds, timed_out

    with serve("*/pytorch_vision_alexnet.md=slow:0.5") as server:
        slow, slow_seconds, fast, fast_seconds, timed_out = asyncio.run(run(server.url))
    assert slow.body == real(page("alexnet")) and slow_seconds >= 0.5
    assert fast.body == real(page("vgg")) and fast_seconds < 0.3
    assert isinstance(timed_out, DownloadTimeoutError) and "longer than 0.1 s" in str(timed_out)


def test_an_answer_over_the_maximum_size_is_refused_before_its_body_is_read():
    from scrapy.exceptions import DownloadCancelledError

    async def huge_then_silent(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 157286400\r\n\r\n<html>")
        await writer.drain()
        await asyncio.sleep(5)  # the rest never comes: a client that reads on waits for its timeout

    async def run():
        listener = await asyncio.start_server(huge_then_silent, "127.0.0.1", 0)
        handler = replay_handler(f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}", DOWNLOAD_MAXSIZE=20 * 2**20)
        started = time.monotonic()
        refused = await fetch(handler, page("vgg"), download_timeout=2)
        seconds, pooled = time.monotonic() - started, len(handler.idle)
        await handler.close()
        listener.close()
        return refused, seconds, pooled

    refused, seconds, pooled = asyncio.run(run())
    assert isinstance(refused, DownloadCancelledError) and seconds < 1 and pooled == 0
    assert "157286400 bytes which is larger than download max size (20971520)" in str(refused)
    assert live(page("vgg")) in str(refused)  # the message names the live URL, as every error does


def test_the_size_limits_come_from_settings_or_the_request_and_warn_below_the_maximum(caplog):
    from scrapy.exceptions import DownloadCancelledError

    size = len(real(page("vgg")))

    async def run(base_url):
        limited = replay_handler(base_url, DOWNLOAD_MAXSIZE=size - 1)
        unlimited = replay_handler(base_url, DOWNLOAD_WARNSIZE=size - 1)
        answers = [
            await fetch(limited, page("vgg")),
            await fetch(limited, page("vgg"), download_maxsize=0),  # the request's own limit: none
            await fetch(unlimited, page("vgg"), download_maxsize=size - 1),
            await fetch(unlimited, page("vgg")),  # over the warning size only
            await fetch(limited, page("vgg")),  # a refusal left no half-read answer on a pooled connection
        ]
        await limited.close()
        await unlimited.close()
        return answers

    with serve() as server, caplog.at_level(logging.WARNING, logger="crawler.replay_transport"):
        refused, allowed, refused_by_meta, warned, refused_again = asyncio.run(run(server.url))
    assert isinstance(refused, DownloadCancelledError) and isinstance(refused_by_meta, DownloadCancelledError)
    assert isinstance(refused_again, DownloadCancelledError)
    assert allowed.body == warned.body == real(page("vgg"))
    warnings = [record.getMessage() for record in caplog.records if "warn size" in record.getMessage()]
    assert warnings == [f"Expected to receive {size} bytes which is larger than download warn size ({size - 1}) in request <GET {live(page('vgg'))}>."]


def test_a_rendered_page_over_the_maximum_size_fails_like_an_http_answer(monkeypatch):
    """scrapy-playwright 0.0.48 applies no size limit to a render; the browser handler does."""
    from scrapy import Request
    from scrapy.exceptions import DownloadCancelledError
    from scrapy.http import HtmlResponse
    from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

    from crawler.browser import BoundedPlaywrightHandler

    async def renders(self, request):
        request.meta["playwright_page"] = "the page"
        return HtmlResponse(request.url, body=b"<html>" + b"x" * 5000, request=request)

    monkeypatch.setattr(ScrapyPlaywrightDownloadHandler, "download_request", renders)
    handler = object.__new__(BoundedPlaywrightHandler)  # no browser: only the size limit is under test
    handler.replay_base_url, handler.maxsize, handler.warnsize = "http://127.0.0.1:9", 4096, 0
    rendered = Request("https://aws.amazon.com/marketplace/pp/x", meta={"playwright": True})
    with pytest.raises(DownloadCancelledError, match=r"Received 5006 bytes .* max size \(4096\) in request <GET https://aws"):
        asyncio.run(handler.download_request(rendered))
    assert rendered.meta["playwright_page"] == "the page"  # the errback can still close it
    small = Request("https://aws.amazon.com/marketplace/pp/y", meta={"playwright": True, "download_maxsize": 10_000})
    assert len(asyncio.run(handler.download_request(small)).body) == 5006


def test_a_reset_model_page_is_counted_as_an_error_and_the_model_kept(tmp_path):
    db = f"sqlite:///{tmp_path / 'sw.db'}"
    first = snapshot_dir("pytorch_hub", "2019-06-30")
    run_cli("crawl", "pytorch_hub", "--replay", str(first), db=db)
    run_cli("crawl", "pytorch_hub", "--replay", str(PYTORCH), "--fail", "raw.githubusercontent.com/*/pytorch_vision_alexnet.md=reset", db=db)
    run = cli_json("runs", "--store", "pytorch_hub", db=db)[-1]
    assert run["status"] == "complete" and run["errors"] == 1
    assert "pytorch_vision_alexnet.md" in run["error_summary"] and "ConnectionResetError" in run["error_summary"]
    history = cli_json("history", "pytorch_hub", "pytorch_vision_alexnet", db=db)
    assert [(version["change"], version["valid_to"]) for version in history] == [("added", None)]  # kept, unchanged
