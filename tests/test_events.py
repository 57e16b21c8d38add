"""Notable events found in a store's history, on both databases."""

from __future__ import annotations

from datetime import datetime, timezone

from storage.events import notable_events
from storage.health import HealthPolicy
from storage.writer import SnapshotWriter


def record(engine, when: str, present: dict[str, dict], status: str = "complete", error: str | None = None) -> None:
    # half the store leaving in one run is believed here (the crawl-health gate would hold it as suspect)
    policy = HealthPolicy(max_drop=1.0)
    writer = SnapshotWriter(engine, "teststore", datetime.fromisoformat(when).replace(tzinfo=timezone.utc), "teststore/1", policy=policy)
    writer.start()
    for model_id, elements in present.items():
        writer.add(model_id, elements, {"id": model_id})
    writer.finish(status, error_summary=error)


def test_events_name_what_a_reader_would_want_flagged(engine):
    store = {f"m{i:02d}": {"name": f"M{i}", "access": f"old/m{i}", "license": "MIT"} for i in range(20)}
    record(engine, "2020-01-01", store)
    moved = {key: {**value, "access": value["access"].replace("old/", "new/")} for key, value in store.items()}
    record(engine, "2020-02-01", moved)  # every path moves: a reorganisation
    no_licence = {key: {k: v for k, v in value.items() if k != "license"} | {"paper": "p"} for key, value in moved.items()}
    record(engine, "2020-03-01", no_licence)  # the store stops showing licences, starts showing papers
    record(engine, "2020-04-01", dict(list(no_licence.items())[:10]))  # half the models go
    record(engine, "2020-05-01", no_licence | {f"n{i}": {"name": "N"} for i in range(6)}, status="partial", error="1 listing request failed")
    events = [(e["observed_at"][:10], e["kind"], e["element"]) for e in notable_events(engine, "teststore")]
    assert events == [
        ("2020-02-01", "reorganisation", "access"),
        ("2020-03-01", "element started", "paper"),
        ("2020-03-01", "element stopped", "license"),
        ("2020-04-01", "removals", None),
        ("2020-05-01", "partial run", None),
        ("2020-05-01", "growth", None),
    ]
    texts = [e["text"] for e in notable_events(engine, "teststore")]
    assert "access changed for 20 of 20 models in one run" in texts and "10 models removed (50% of 20)" in texts
    assert "1 listing request failed" in texts[4]
    since = [(e["observed_at"][:10], e["kind"]) for e in notable_events(engine, "teststore", datetime(2020, 3, 15, tzinfo=timezone.utc))]
    assert since == [("2020-04-01", "removals"), ("2020-05-01", "partial run"), ("2020-05-01", "growth")]
    # `since` is an instant: half a second after the 2020-04-01 run, that run is before it
    half_second_after = datetime(2020, 4, 1, 0, 0, 0, 500000, tzinfo=timezone.utc)
    assert [e["kind"] for e in notable_events(engine, "teststore", half_second_after)] == ["partial run", "growth"]
