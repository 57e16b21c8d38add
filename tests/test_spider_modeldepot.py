"""ModelDepot through the Wayback Machine: CDX queries and resumption, capture days, captured pages."""

from __future__ import annotations

import json
from datetime import date

import pytest

from conftest import snapshot_dir
from crawler.wayback import Capture, capture_url, cdx_url, choose_days, latest_before, parse_cdx
from spiders.modeldepot import ARCHIVE_SPAN, browse_cards, browse_captures, extract_model, model_captures, model_id_of
from storage.errors import StorewatchError

WAYBACK = snapshot_dir("modeldepot", "wayback")
RESUME_KEY = "io%2Cmodeldepot%29%2Fhellochick%2Ficnet%2Foverview+20190320120112"


def cdx_page(resume_key: str | None = None) -> list[list[str]]:
    url = cdx_url("modeldepot.io/", from_=ARCHIVE_SPAN[0], to=ARCHIVE_SPAN[1], limit=10, resume_key=resume_key)
    return json.loads((WAYBACK / url.removeprefix("https://")).read_text())


def all_captures() -> list[Capture]:
    first, key = parse_cdx(cdx_page())
    second, no_key = parse_cdx(cdx_page(key))
    assert no_key is None
    return first + second


def captured(capture: Capture) -> str:
    path = capture.raw_url.removeprefix("https://").replace("://", ":/")
    return (WAYBACK / path).read_text()


def test_cdx_pages_resume_with_the_key_passed_back_verbatim():
    rows, key = parse_cdx(cdx_page())
    assert len(rows) == 10 and key == RESUME_KEY
    assert cdx_url("modeldepot.io/", limit=10, resume_key=key).endswith("&showResumeKey=true&resumeKey=" + RESUME_KEY)
    assert "collapse=digest" in cdx_url("modeldepot.io/") and "&from=2017&to=2021" in cdx_url("modeldepot.io/", from_="2017", to="2021")
    assert len(all_captures()) == 16


def test_pages_are_told_apart_and_both_url_forms_are_one_model():
    captures = all_captures()
    assert [c.timestamp for c in browse_captures(captures)] == ["20180615083012", "20190320114508", "20200110072233"]
    pages = model_captures(captures)
    assert sorted(pages) == ["afowler/sentiment-neuron", "hellochick/icnet", "mikeshi/delf", "timosaemann/enet"]
    enet = pages["timosaemann/enet"][0]
    assert enet.original == "http://modeldepot.io:80/timosaemann/enet"
    assert capture_url(enet.timestamp, enet.original) == "https://web.archive.org/web/20190320115530id_/http://modeldepot.io:80/timosaemann/enet"
    assert [c.statuscode for c in pages["mikeshi/delf"]] == ["200"]  # the 2020 404 is removal evidence, not a page
    assert {model_id_of(c) for c in captures if c.path.startswith(("/assets", "/static", "/search"))} == {None}
    assert "20190320115000" not in {c.timestamp for cs in pages.values() for c in cs}  # the 301 is skipped


def test_capture_days_within_a_window_and_at_most_one_per_interval():
    browse = browse_captures(all_captures())
    assert [c.day for c in choose_days(browse, start=date(2019, 1, 1), end=None, every=None)] == [date(2019, 3, 20), date(2020, 1, 10)]
    assert [c.day.year for c in choose_days(browse, start=None, end=None, every="2Y")] == [2018, 2020]
    assert len(choose_days(browse, start=None, end=date(2019, 12, 31), every="1M")) == 2
    with pytest.raises(StorewatchError):
        choose_days(browse, start=None, end=None, every="monthly")


def test_a_day_uses_the_newest_capture_on_or_before_it():
    pages = model_captures(all_captures())
    assert latest_before(pages["afowler/sentiment-neuron"], date(2020, 1, 10)).timestamp == "20190320115012"
    assert latest_before(pages["hellochick/icnet"], date(2018, 6, 15)) is None


def test_browse_capture_lists_the_days_models():
    browse = browse_captures(all_captures())
    cards = browse_cards(captured(browse[1]))
    assert sorted(cards) == ["afowler/sentiment-neuron", "hellochick/icnet", "mikeshi/delf", "timosaemann/enet"]
    assert cards["hellochick/icnet"]["stars"] == 21
    assert sorted(browse_cards(captured(browse[2]))) == ["afowler/sentiment-neuron", "hellochick/icnet", "timosaemann/enet"]


def test_overview_capture_maps_onto_elements():
    pages = model_captures(all_captures())
    old, new = (extract_model("hellochick/icnet", captured(c), c) for c in pages["hellochick/icnet"])
    assert old.elements["framework"] == "TensorFlow 1.4" and new.elements["framework"] == "TensorFlow 1.12"
    assert (old.counters, new.counters) == ({"stars": 21}, {"stars": 34})  # a counter: kept apart from the record
    assert old.elements["popularity"] == new.elements["popularity"] == ["stars"]
    assert old.elements["demo"] == "https://modeldepot.io/hellochick/icnet/demo" and "demo" not in new.elements
    assert old.elements["paper"] == "https://arxiv.org/abs/1704.08545"
    assert new.raw["capture"]["digest"] == "CNFXRFI5FLVZGOPJLX5LMDYNID5UCAWE"
    enet_capture = pages["timosaemann/enet"][0]
    enet = extract_model("timosaemann/enet", captured(enet_capture), enet_capture)
    assert "license" not in enet.elements and enet.elements["framework"] == "Caffe"
    delf_capture = pages["mikeshi/delf"][0]
    assert extract_model("mikeshi/delf", captured(delf_capture), delf_capture).elements["access"] == "https://modeldepot.io/mikeshi/delf"
