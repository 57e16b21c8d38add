"""Store text made safe to show: no terminal control sequences, no spreadsheet formulas.

Anything that came from a store (model ids, elements, raw records, error summaries quoting its URLs) stays as
it was in the database and in JSON. What shows it in a terminal, Markdown, HTML or CSV passes it through here.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring
from typing import Any

from crawler.indented_json import indented_json, indented_plain_json

# C0 controls but tab and newline, DEL and the C1 controls: ESC and CSI start terminal escape sequences
# (colours, cursor moves, OSC 8 hyperlinks), BEL and ST end them.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# json.dumps escapes C0 controls itself; with ensure_ascii=False it writes DEL and C1 as they are.
_JSON_UNESCAPED_CONTROLS = re.compile("[\x7f-\x9f]")
# OWASP's CSV injection rule: a spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def strip_controls(text: str) -> str:
    """`text` without control characters other than newline and tab."""
    return text if text.isprintable() else _CONTROLS.sub("", text)  # the check is far quicker than the scan


def csv_cell(text: str) -> str:
    """A CSV cell no spreadsheet runs: controls stripped, a single quote before a leading = + - @ or tab."""
    text = strip_controls(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def json_text(value: Any, *, plain: bool = False) -> str:
    """`value` as indented JSON, every string whole; control characters written as \\u escapes. `plain`: the
    value is made of JSON's own types and holds no NaN or infinity (see indented_plain_json), written faster."""
    # json.dumps(value, indent=2, ensure_ascii=False, default=str), faster
    text = indented_plain_json(value) if plain else indented_json(value)
    if text.isascii() and "\x7f" not in text:  # nothing to escape, known without the scan (10 MB: 0.03 s)
        return text
    return _JSON_UNESCAPED_CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


# What json.dumps(ensure_ascii=False) leaves unescaped and a line of JSON must not hold: DEL and the C1 controls,
# and the line breaks other than \n that str.splitlines() and some JSONL readers split on.
_LEFT_UNESCAPED = re.compile("[\x7f-\x9f\u2028\u2029]")


def json_line(value: Any) -> str:
    """`value` as one line of JSON (for JSONL), every string whole; control characters and line separators
    written as \\u escapes."""
    return _escaped_line(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def json_line_with_id(model_id: str, elements_json: str) -> str:
    """json_line({"model_id": model_id, **elements}) from the elements' stored JSON text, without decoding it:
    the id is spliced in front of the object's members (at two million models, decoding and encoding every
    record would take most of a listing's time)."""
    head = '{"model_id":' + encode_basestring(model_id)  # json.dumps(model_id, ensure_ascii=False), without its overhead
    return json_line_with_fields({"model_id": model_id}, elements_json, head)


def json_line_with_fields(fields: dict[str, Any], elements_json: str, head: str | None = None) -> str:
    """json_line({**fields, **elements}) from the elements' stored JSON text, without decoding it: the fields
    (`head`: their JSON object without its closing brace, when the caller has it) are spliced in front."""
    members = elements_json.strip()[1:-1].strip()
    if "\n" in members:  # not stored compact (only canonical JSON is spliced): decoded and written again
        return json_line({**fields, **json.loads(elements_json)})
    if head is None:
        head = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), default=str)[:-1]
    return _escaped_line(f"{head},{members}}}" if members else f"{head}}}")


def _escaped_line(text: str) -> str:
    """JSON text with the characters json.dumps leaves as they are escaped (they can only occur in its strings)."""
    if text.isascii():  # most records: nothing to escape, and no scan needed to know it
        return text
    return _LEFT_UNESCAPED.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
