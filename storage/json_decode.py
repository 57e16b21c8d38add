"""JSON text to Python values, through orjson (two to three times json's speed), with json for what orjson refuses."""

from __future__ import annotations

import json
from typing import Any

import orjson


def decode_json(text: str | bytes) -> Any:
    """The value of JSON text, as json.loads gives it; raises ValueError when it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses and json takes: NaN, integers beyond 64 bits, lone surrogates
        return json.loads(text)
