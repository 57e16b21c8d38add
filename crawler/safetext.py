"""Store text made safe to show: no terminal control sequences, no spreadsheet formulas.

Anything that came from a store (model ids, elements, raw records, error summaries quoting its URLs) stays as
it was in the database and in JSON. What shows it in a terminal, Markdown, HTML or CSV passes it through here.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls but tab and newline, DEL and the C1 controls: ESC and CSI start terminal escape sequences
# (colours, cursor moves, OSC 8 hyperlinks), BEL and ST end them.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# json.dumps escapes C0 controls itself; with ensure_ascii=False it writes DEL and C1 as they are.
_JSON_UNESCAPED_CONTROLS = re.compile("[\x7f-\x9f]")
# OWASP's CSV injection rule: a spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def strip_controls(text: str) -> str:
    """`text` without control characters other than newline and tab."""
    return _CONTROLS.sub("", text)


def csv_cell(text: str) -> str:
    """A CSV cell no spreadsheet runs: controls stripped, a single quote before a leading = + - @ or tab."""
    text = strip_controls(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def json_text(value: Any) -> str:
    """`value` as indented JSON, every string whole; control characters written as \\u escapes."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return _JSON_UNESCAPED_CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
