"""indented_json writes exactly what json.dumps(indent=2, ensure_ascii=False, default=str) writes; so does
indented_plain_json (orjson) for values made of JSON's own types without NaN or infinity, as `diff --format json` writes."""

from __future__ import annotations

import enum
import json
import random
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from crawler.indented_json import indented_json, indented_plain_json


def reference(value):
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


class Level(enum.IntEnum):
    HIGH = 3


class Name(str):
    pass


EDGE_CASES = [
    None, True, False, 0, -0.0, 1e-05, 1.5e-07, 1e16, 12345678901234567890123, float("nan"), float("inf"), float("-inf"),
    "", "plain", "quote \" backslash \\ tab \t newline \n bell \x07 del \x7f c1 \x85 ünïcödé 模型 \u2028 😀",
    [], {}, [[]], [{}], {"a": []}, {"a": {}}, ("tuple", 1), ["only", "strings", "in", "a", "list"],
    {1: "int key", 2.5: "float key", True: "true key", None: "null key", "z": "str key"},
    {"when": datetime(2025, 6, 1, 6, tzinfo=timezone.utc), "amount": Decimal("1.50"), "level": Level.HIGH},
    {Name("sub"): Name("class")}, [Name("a"), "b"],
    {"evaluation": [{"results": [{"metrics": [{"type": "accuracy", "value": 0.912, "verified": False}]}]}]},
]


@pytest.mark.parametrize("value", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_cases_are_written_as_json_writes_them(value):
    assert indented_json(value) == reference(value)


def random_value(rng: random.Random, depth: int):
    kind = rng.randrange(9 if depth < 5 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randrange(-10**20, 10**20)
    if kind == 2:
        return rng.choice([rng.random() * 10 ** rng.randrange(-12, 20), float("nan"), -0.0])
    if kind in (3, 4):
        return "".join(rng.choice('ab"\\\n\x01\x7fé模 ') for _ in range(rng.randrange(6)))
    if kind in (5, 6):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["a", "b", "é", 1, 2.5, None, True]): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def test_random_nested_values_are_written_as_json_writes_them():
    rng = random.Random(11)
    for _ in range(2000):
        value = random_value(rng, 0)
        assert indented_json(value) == reference(value)


def test_a_key_json_cannot_write_is_refused():
    with pytest.raises(TypeError):
        indented_json({(1, 2): "tuple key"})


PLAIN_CASES = [value for value in EDGE_CASES[:9] if value == value and value not in (float("inf"), float("-inf"))] + EDGE_CASES[12:17] + [
    EDGE_CASES[-1], {"lone surrogate": "\ud800"}, {"share": 5e-05, "tiny": 0.0001, "huge": 1.2345678901234568e+17},
    {"text that looks like a number": ": 1e5 and : 0.00001"}, {1: "int key"}, [10.00001, 0.7343, -0.00001, 2e-05],
]


@pytest.mark.parametrize("value", PLAIN_CASES, ids=range(len(PLAIN_CASES)))
def test_plain_values_are_written_by_orjson_as_json_writes_them(value):
    assert indented_plain_json(value) == reference(value)


def test_random_plain_values_are_written_as_json_writes_them():
    rng = random.Random(12)
    for _ in range(2000):
        value = random_value(rng, 0)
        if "NaN" not in reference(value):
            assert indented_plain_json(value) == reference(value)
