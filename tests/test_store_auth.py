"""A store's token goes to the hosts its StoreConfig names, and nowhere else."""

from __future__ import annotations

from types import SimpleNamespace

from scrapy import Request

from crawler.middlewares import StoreAuthMiddleware
from spiders.tfhub import STORE as TFHUB


def authorization(url: str, monkeypatch, token: str | None = "secret") -> bytes | None:
    if token is None:
        monkeypatch.delenv(TFHUB.auth_env, raising=False)
    else:
        monkeypatch.setenv(TFHUB.auth_env, token)
    crawler = SimpleNamespace(spider=SimpleNamespace(store_config=TFHUB))
    request = Request(url)
    assert StoreAuthMiddleware(crawler).process_request(request) is None
    return request.headers.get("Authorization")


def test_token_is_sent_to_the_stores_api_host_only(monkeypatch):
    assert authorization("https://api.github.com/repos/tensorflow/tfhub.dev/git/trees/master", monkeypatch) == b"Bearer secret"
    assert authorization("https://raw.githubusercontent.com/tensorflow/tfhub.dev/master/a.md", monkeypatch) is None
    assert authorization("https://api.github.com.evil.example/x", monkeypatch) is None


def test_no_token_no_header(monkeypatch):
    assert authorization("https://api.github.com/repos/tensorflow/tfhub.dev/git/trees/master", monkeypatch, token=None) is None


def test_a_replay_never_sends_the_token(monkeypatch):
    import pytest
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    monkeypatch.setenv(TFHUB.auth_env, "secret")
    with pytest.raises(NotConfigured):
        StoreAuthMiddleware.from_crawler(get_crawler(settings_dict={"STOREWATCH_REPLAY_URL": "http://127.0.0.1:9"}))
    assert isinstance(StoreAuthMiddleware.from_crawler(get_crawler()), StoreAuthMiddleware)
