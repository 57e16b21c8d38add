"""Pins the canonical JSON and content hash of stored records: a database written by an older storewatch must
not see every model "changed" after an upgrade, so a faster writer has to produce these exact bytes."""

from __future__ import annotations

import importlib.util
import json
import random
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Model, ModelVersion
from storage.writer import SnapshotWriter, canonical_json, record_hash

# name -> (elements, raw, their canonical JSON texts, the content hash), as storewatch 0.x stored them.
PINNED = {
    "hub_entry": (
        {"name": "meta-llama/Llama-3-8B", "provider": "meta-llama", "task": "text-generation", "keywords": ["transformers", "safetensors", "llama", "region:us"],
         "size": 8030261248, "access": {"gated": "manual", "private": False}, "popularity": ["downloads", "likes"]},
        {"_id": "661f97d48e6ad8f5dc8e58ad", "id": "meta-llama/Llama-3-8B", "sha": "8cde5ca8380496c9a6cc7ef3a8b46a0372a1d920",
         "safetensors": {"parameters": {"BF16": 8030261248}, "total": 8030261248}, "trendingScore": 12.5, "gated": "manual"},
        '{"access":{"gated":"manual","private":false},"keywords":["transformers","safetensors","llama","region:us"],"name":"meta-llama/Llama-3-8B",'
        '"popularity":["downloads","likes"],"provider":"meta-llama","size":8030261248,"task":"text-generation"}',
        '{"_id":"661f97d48e6ad8f5dc8e58ad","gated":"manual","id":"meta-llama/Llama-3-8B","safetensors":{"parameters":{"BF16":8030261248},"total":8030261248},'
        '"sha":"8cde5ca8380496c9a6cc7ef3a8b46a0372a1d920","trendingScore":12.5}',
        "19f433cd385989468af0d5488ae4257f",
    ),
    "non_ascii": (
        {"name": "rinna/日本語-gpt", "description": "Modèle « français » — ümlaut ß ✓ 🤗", "keywords": ["日本語", "naïve"]},
        {"cardData": {"language": ["ja", "zh"], "title": "中文模型\u2028line"}, "quote": "say \"hi\"\\ \n\t\u0001"},
        '{"description":"Modèle « français » — ümlaut ß ✓ 🤗","keywords":["日本語","naïve"],"name":"rinna/日本語-gpt"}',
        '{"cardData":{"language":["ja","zh"],"title":"中文模型\u2028line"},"quote":"say \\"hi\\"\\\\ \\n\\t\\u0001"}',
        "c3e77c6119c098fe31d0dccb5001110e",
    ),
    "floats": (
        {"score": 0.1, "tiny": 1e-05, "huge": 1e16, "neg": -2.5e-300, "whole": 3.0, "third": 1 / 3, "big_int": 123456789012345678901234567890},
        {"values": [0.5, 1.7976931348623157e308, 5e-324, -0.0, 100.0, 12345678.9]},
        '{"big_int":123456789012345678901234567890,"huge":1e+16,"neg":-2.5e-300,"score":0.1,"third":0.3333333333333333,"tiny":1e-05,"whole":3.0}',
        '{"values":[0.5,1.7976931348623157e+308,5e-324,-0.0,100.0,12345678.9]}',
        "48c1b294522c551a7110c26859e4cd9b",
    ),
    "nested_lists": (
        {"evaluation": [{"task": {"type": "text-generation"}, "results": [{"metrics": [{"name": "acc", "value": 71.2}, {"value": None, "name": "f1"}]}]}],
         "lineage": [["base", ["a/b", "c/d"]], []]},
        {"z": {"b": [3, [2, [1]]], "a": {}}, "A": [True, False, None], "": "empty key"},
        '{"evaluation":[{"results":[{"metrics":[{"name":"acc","value":71.2},{"name":"f1","value":null}]}],"task":{"type":"text-generation"}}],'
        '"lineage":[["base",["a/b","c/d"]],[]]}',
        '{"":"empty key","A":[true,false,null],"z":{"a":{},"b":[3,[2,[1]]]}}',
        "3291c363f6de3e470981a7b0a2d95522",
    ),
    "datetime_as_text": (
        {"published_at": datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)},
        {"when": datetime(2024, 5, 1, 10, 0)},
        '{"published_at":"2024-05-01 10:00:00+00:00"}',
        '{"when":"2024-05-01 10:00:00"}',
        "d895b2f1709d807297de6b6b84581fe6",
    ),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_canonical_json_and_record_hash_are_pinned(name):
    elements, raw, elements_json, raw_json, content_hash = PINNED[name]
    assert canonical_json(elements) == elements_json
    assert canonical_json(raw) == raw_json
    assert record_hash(elements_json, raw_json) == content_hash


@pytest.mark.parametrize("name", sorted(PINNED))
def test_migration_0006_rewrites_records_with_its_own_frozen_copy_of_the_pinned_hash(name):
    """0006 recomputes every stored hash; it imports no app code (which may change after it), and its copy gives
    the pinned bytes, so a database upgraded through it matches what the writer records."""
    path = Path(__file__).parent.parent / "migrations" / "versions" / "0006_counters_as_metrics.py"
    assert not re.search(r"^\s*(from|import) (storage|crawler|spiders)\b", path.read_text(), re.MULTILINE)
    spec = importlib.util.spec_from_file_location("migration_0006", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    elements, raw, elements_json, raw_json, content_hash = PINNED[name]
    assert migration.record_hash(migration.canonical_json(elements), migration.canonical_json(raw)) == content_hash
    assert migration.changed_keys(elements, {**elements, "added": 1}) == ["added"]


def record(engine, when: datetime):
    writer = SnapshotWriter(engine, "teststore", when, "teststore/1", batch_size=2)
    writer.start()
    for name, (elements, raw, *_) in PINNED.items():
        writer.add(name, elements, raw, {"downloads": 10})
    return writer.finish("complete")


def test_the_writer_stores_the_pinned_hashes_and_sees_no_change_on_a_rerun(engine):
    first = record(engine, datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert first.added == len(PINNED)
    with engine.connect() as connection:
        stored = dict(connection.execute(select(Model.model_id, ModelVersion.content_hash).join(ModelVersion, ModelVersion.model_pk == Model.id)).all())
    assert stored == {name: pinned[4] for name, pinned in PINNED.items()}
    again = record(engine, datetime(2025, 1, 2, tzinfo=timezone.utc))
    assert (again.added, again.changed, again.metrics) == (0, 0, 0)


def json_reference(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def random_record(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([True, False, None, float("nan"), float("inf"), 10**25, -(2**63), 2**64 - 1])
    if kind == 1:
        return rng.randrange(-(10**12), 10**12)
    if kind == 2:
        return rng.choice([rng.random() * 10 ** rng.randrange(-12, 20), -0.0, 71.2, 1e16, 5e-05, 0.0001])
    if kind in (3, 4):
        return "".join(rng.choice('ab"\\\n\x01\x7fé模😀 :1e0.0000null') for _ in range(rng.randrange(8)))
    if kind in (5, 6):
        return [random_record(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["b", "a", "é", "模", "😀", "B", "", "null"]): random_record(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_canonical_json_writes_what_json_writes_for_any_record():
    """orjson writes most records; whatever it would write otherwise (exponents, NaN, huge integers, dates, odd
    keys, lone surrogates) is written by json, so every stored hash stays the same."""
    rng = random.Random(5)
    odd = [{"when": datetime(2024, 5, 1, tzinfo=timezone.utc)}, {1: "int key"}, {"lone": "\ud800"}, 1e-05, {"n": float("nan")}]
    for value in odd + [random_record(rng) for _ in range(3000)]:
        assert canonical_json(value) == json_reference(value)
