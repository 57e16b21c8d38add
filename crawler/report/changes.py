"""A store's changes made readable: values as text, word-level diffs, and changes grouped by pattern.

Pure functions over the diff module's `changed` list (storage/diff.py): no database and no markup. A diff is
a list of segments `(kind, text)`: `same` (unchanged text), `del` (only in the old value), `ins` (only in the
new one) and `gap` (text left out: unchanged, or different from one model to the next). Templates render
them (<del>/<ins> in HTML), always escaped.

Two changes are "the same way" when they change the same element with the same edits. The edits are the
token-level edit script from the old value's text to the new one with the unchanged stretches abstracted:
only what was deleted and inserted must match, not what it sits between. The ONNX Model Zoo's December 2023
move turns `archive/<path>` into `validated/<path>` for every model: the paths differ, the edit (`archive`
→ `validated`) does not, so the 184 changes are one row. An element that gains a value where it had none
(or loses its value) is one pattern per element, whatever the value. A value respelled only -- case, spaces and punctuation, as TF Hub's 2021 move from "MobileNet V2"
to "mobilenet-v2" -- is one pattern per element too.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

SAME, DELETED, INSERTED, GAP = "same", "del", "ins", "gap"
ELLIPSIS = "…"
RAW_ONLY = "(raw record only)"  # the element column of a change to the store's record outside every element
EDIT, SET, CLEARED, RESPELLED, RAW = "edit", "set", "cleared", "respelled", "raw"

# Numbers (with their decimals: 0.95, 1.2.1), words, runs of white space, and single other characters:
# "archive/bert-squad-10.onnx" is archive, /, bert, -, squad, -, 10, ., onnx -- so a path's folders diff
# separately, and a number is replaced whole rather than digit by digit.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d]+|\s+|[^\w\s]", re.UNICODE)
# Beyond this many differing tokens (or lines) between the common start and end, the middle is one
# replacement: difflib's matching is quadratic in the worst case, and a diff that large reads as "rewritten".
MAX_DIFF_TOKENS = 4000
# Unchanged text kept around an edit when a value is shown, and the longest edit shown whole.
CONTEXT_CHARS = 60
EDIT_CHARS = 600


# -- values as text ------------------------------------------------------------------------------------------


def readable(value: Any) -> str:
    """A stored value as text a person reads: lists comma-separated, mappings as `key: value` lines.

    Nested mappings and lists of mappings are indented lines (`- key: value, key: value`). None is "".
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return "\n".join(_lines(value, ""))


def _scalar(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value)  # true/false, 5.0, 41


def _flat(value: Any) -> bool:
    """A scalar, or a list of scalars: one line of text."""
    if isinstance(value, dict):
        return False
    return not isinstance(value, list) or not any(isinstance(item, (dict, list)) for item in value)


def _inline(value: Any) -> str:
    return ", ".join(_scalar(item) for item in value) if isinstance(value, list) else _scalar(value)


def _lines(value: Any, indent: str) -> list[str]:
    if _flat(value):
        return [indent + _inline(value)]
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if _flat(item):
                lines.append(f"{indent}{key}: {_inline(item)}")
            else:
                lines += [f"{indent}{key}:"] + _lines(item, indent + "  ")
        return lines
    for item in value:
        if _flat(item):
            lines.append(f"{indent}- {_inline(item)}")
        elif isinstance(item, dict) and all(_flat(inner) for inner in item.values()):
            lines.append(f"{indent}- " + ", ".join(f"{key}: {_inline(inner)}" for key, inner in item.items()))
        else:
            lines += [f"{indent}-"] + _lines(item, indent + "  ")
    return lines


# -- word-level diff -----------------------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def edit_script(old: str, new: str) -> list[tuple[str, str, str]]:
    """The edits from `old` to `new` as `(tag, old_text, new_text)`, tag one of equal/delete/insert/replace.

    Text of several lines is compared line by line first, then word by word within the lines that changed,
    so that a list item added on its own line is one insertion. A separator (white space or punctuation)
    alone between two edits joins them into one: "MobileNet V3" -> "mobilenet-v3" is one replacement.
    """
    if "\n" not in old and "\n" not in new:
        return _join_separated_edits(_word_edits(old, new))
    ops = []
    for tag, old_lines, new_lines in _opcodes(old.splitlines(keepends=True), new.splitlines(keepends=True)):
        if tag == "replace":
            ops += _word_edits("".join(old_lines), "".join(new_lines))
        else:
            ops.append((tag, "".join(old_lines), "".join(new_lines)))
    return _join_separated_edits(ops)


def _word_edits(old: str, new: str) -> list[tuple[str, str, str]]:
    return [(tag, "".join(x), "".join(y)) for tag, x, y in _opcodes(tokens(old), tokens(new))]


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, list[str], list[str]]]:
    """difflib's opcodes as (tag, a part, b part), the common start and end matched first (cheaply)."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    middle_a, middle_b = a[start : len(a) - end], b[start : len(b) - end]
    ops = [("equal", a[:start], a[:start])]
    if len(middle_a) + len(middle_b) > MAX_DIFF_TOKENS:
        ops.append(("replace", middle_a, middle_b))
    else:
        matcher = difflib.SequenceMatcher(None, middle_a, middle_b, autojunk=False)
        ops += [(tag, middle_a[i1:i2], middle_b[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes()]
    ops.append(("equal", a[len(a) - end :], a[len(a) - end :]))
    return [(tag, x, y) for tag, x, y in ops if x or y]


def _join_separated_edits(ops: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    result: list[tuple[str, str, str]] = []
    for tag, old, new in ops:
        if result and result[-1][0] == tag == "equal":
            result[-1] = ("equal", result[-1][1] + old, result[-1][2] + new)
            continue
        if tag != "equal" and len(result) >= 2 and result[-1][0] == "equal" and result[-2][0] != "equal" and not re.search(r"\w", result[-1][1]):
            _, separator, _ = result.pop()
            _, before_old, before_new = result.pop()
            old, new = before_old + separator + old, before_new + separator + new
        if tag != "equal":
            tag = "replace" if old and new else ("delete" if old else "insert")
            if result and result[-1][0] != "equal":  # two edits in a row: one replacement
                _, before_old, before_new = result.pop()
                old, new = before_old + old, before_new + new
                tag = "replace" if old and new else ("delete" if old else "insert")
        result.append((tag, old, new))
    return result


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """The segments of one value's change, unchanged stretches cut to the context around the edits."""
    ops = edit_script(old, new)
    segments: list[tuple[str, str]] = []
    for index, (tag, old_text, new_text) in enumerate(ops):
        if tag == "equal":
            segments += _context(old_text, first=index == 0, last=index == len(ops) - 1)
            continue
        if old_text:
            segments += _shortened(DELETED, old_text)
        if new_text:
            segments += _shortened(INSERTED, new_text)
    return _merged(segments)


def _context(text: str, *, first: bool, last: bool) -> list[tuple[str, str]]:
    """Unchanged text: what is near an edit, the rest left out."""
    if first and last:
        return _shortened(SAME, text)
    keep = CONTEXT_CHARS if first or last else 2 * CONTEXT_CHARS
    if len(text) <= keep + len(ELLIPSIS):
        return [(SAME, text)]
    if first:
        return [(GAP, ELLIPSIS), (SAME, text[-CONTEXT_CHARS:])]
    if last:
        return [(SAME, text[:CONTEXT_CHARS]), (GAP, ELLIPSIS)]
    return [(SAME, text[:CONTEXT_CHARS]), (GAP, ELLIPSIS), (SAME, text[-CONTEXT_CHARS:])]


def _shortened(kind: str, text: str) -> list[tuple[str, str]]:
    if len(text) <= EDIT_CHARS:
        return [(kind, text)]
    half = EDIT_CHARS // 2
    return [(kind, text[:half]), (GAP, ELLIPSIS), (kind, text[-half:])]


def _merged(segments: list[tuple[str, str]]) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    for kind, text in segments:
        if not text:
            continue
        if result and result[-1][0] == kind and kind != GAP:
            result[-1] = (kind, result[-1][1] + text)
        elif not (result and result[-1][0] == kind == GAP):
            result.append((kind, text))
    return result


def sides(segments: list[tuple[str, str]]) -> tuple[str, str]:
    """The old and the new text of a diff's segments (each with its gaps), for plain-text outputs."""
    old = "".join(text for kind, text in segments if kind in (SAME, DELETED, GAP))
    new = "".join(text for kind, text in segments if kind in (SAME, INSERTED, GAP))
    return old, new


# -- grouping ------------------------------------------------------------------------------------------------


@dataclass
class ElementChange:
    """One element of one model changed (element None: only the store's raw record changed)."""

    model_id: str
    element: str | None
    old: Any = None
    new: Any = None
    old_text: str = ""
    new_text: str = ""
    ops: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """edit; set (a value where there was none); cleared (no value any more); respelled (only case, spaces
        or punctuation changed); raw (no element changed, only the store's record)."""
        if self.element is None:
            return RAW
        if not self.old_text:
            return SET
        if not self.new_text:
            return CLEARED
        if self.old_text != self.new_text and _spelling(self.old_text) == _spelling(self.new_text):
            return RESPELLED
        return EDIT

    def signature(self) -> tuple:
        """What makes two changes the same: the element, and the edits without what they sit between."""
        kind = self.kind
        if kind != EDIT:
            return (self.element, kind)
        return (self.element, kind, tuple(self.stretches()[1]))

    def stretches(self) -> tuple[list[str], list[tuple[str, str]]]:
        """The edits `(old, new)` in order, and the n + 1 unchanged texts around them (some empty)."""
        unchanged, edits = [""], []
        for tag, old, new in self.ops:
            if tag == "equal":
                unchanged[-1] += old
            else:
                edits.append((old, new))
                unchanged.append("")
        return unchanged, edits


def element_changes(changed: list[dict[str, Any]]) -> list[ElementChange]:
    """The diff's changed models (`{model_id, elements: {key: {old, new}}}`), one entry per changed element."""
    result = []
    for change in changed:
        if not change["elements"]:
            result.append(ElementChange(change["model_id"], None))
        for key, values in change["elements"].items():
            old_text, new_text = readable(values.get("old")), readable(values.get("new"))
            ops = edit_script(old_text, new_text) if old_text and new_text else []
            result.append(ElementChange(change["model_id"], key, values.get("old"), values.get("new"), old_text, new_text, ops))
    return result


@dataclass
class ChangePattern:
    """Changes of one element made the same way, by one or more models."""

    element: str | None
    kind: str
    changes: list[ElementChange]

    @property
    def model_ids(self) -> list[str]:
        return sorted({change.model_id for change in self.changes})

    def values(self) -> Counter:
        """How many models took each new value (lost each old one, for `cleared`)."""
        return Counter(change.old_text if self.kind == CLEARED else change.new_text for change in self.changes)

    def segments(self) -> list[tuple[str, str]]:
        """The pattern as one diff: what all its changes share shown, what differs between them a gap.

        One change shows its own word diff.
        """
        if self.kind == RAW:
            return []
        if len(self.changes) == 1 or self.kind == RESPELLED:  # a respelling's example: its first change
            change = self.changes[0]
            return word_diff(change.old_text, change.new_text)
        if self.kind in (SET, CLEARED):
            side = INSERTED if self.kind == SET else DELETED
            common = _common([change.new_text if self.kind == SET else change.old_text for change in self.changes])
            return [(kind if kind == GAP else side, text) for kind, text in common if text]
        segments: list[tuple[str, str]] = []
        unchanged = [change.stretches()[0] for change in self.changes]
        edits = self.changes[0].stretches()[1]  # the same in every change of the pattern
        for index, around in enumerate(zip(*unchanged)):
            segments += _trim_context(_common(list(around)), first=index == 0, last=index == len(edits))
            if index < len(edits):
                old, new = edits[index]
                segments += _shortened(DELETED, old) + _shortened(INSERTED, new)
        return _merged(segments)


def group_changes(changes: list[ElementChange]) -> list[ChangePattern]:
    """Changes grouped by element and edits; the largest groups first, then by element and model."""
    groups: dict[tuple, list[ElementChange]] = defaultdict(list)
    for change in changes:
        groups[change.signature()].append(change)
    patterns = [ChangePattern(members[0].element, members[0].kind, members) for members in groups.values()]
    return sorted(patterns, key=lambda p: (-len(p.model_ids), p.element or "", p.model_ids[0]))


def _spelling(text: str) -> str:
    """A text without case, spaces and punctuation: what is left when only its spelling changes."""
    return "".join(re.findall(r"[^\W_]+", text.casefold()))


def _common(texts: list[str]) -> list[tuple[str, str]]:
    """What a list of texts shares: the text itself when they are all equal, else their common start and end
    (whole tokens) around a gap."""
    if all(text == texts[0] for text in texts):
        return [(SAME, texts[0])] if texts[0] else []
    split = [tokens(text) for text in texts]
    shortest = min(len(parts) for parts in split)
    start = 0
    while start < shortest and all(parts[start] == split[0][start] for parts in split):
        start += 1
    end = 0
    while end < shortest - start and all(parts[-1 - end] == split[0][-1 - end] for parts in split):
        end += 1
    head, tail = "".join(split[0][:start]), "".join(split[0][len(split[0]) - end :])
    return [(SAME, head), (GAP, ELLIPSIS), (SAME, tail)]


def _trim_context(segments: list[tuple[str, str]], *, first: bool, last: bool) -> list[tuple[str, str]]:
    """A pattern's unchanged stretch, its shared text cut to the context near the edits."""
    result = []
    for position, (kind, text) in enumerate(segments):
        if kind == SAME:
            result += _context(text, first=first and position == 0, last=last and position == len(segments) - 1)
        else:
            result.append((kind, text))
    return result


# -- the report's section ------------------------------------------------------------------------------------

PATTERN_ROWS_SHOWN = 30  # rows of the grouped table; every change is in the CSV
EXAMPLES = 3  # model ids named per pattern


def grouped_changes(diff: dict[str, Any], url_for=lambda model_id: None) -> dict[str, Any]:
    """A diff (StoreDiff.as_dict) made readable: its changes grouped by pattern, the largest groups first,
    and every change as a table row (with the pattern it belongs to and the model's page, from `url_for`)."""
    changes = element_changes(diff["changed"])
    patterns = group_changes(changes)
    rows = [{"change": kind, "model_id": model_id, "url": url_for(model_id)} for kind in ("added", "returned", "removed") for model_id in diff[kind]]
    for number, pattern in enumerate(patterns, 1):
        for change in sorted(pattern.changes, key=lambda change: change.model_id):
            rows.append(
                {
                    "change": "changed",
                    "model_id": change.model_id,
                    "url": url_for(change.model_id),
                    "element": change.element or RAW_ONLY,
                    "old": change.old_text,
                    "new": change.new_text,
                    "pattern": number,
                    "pattern_models": len(pattern.model_ids),
                }
            )
    return {
        "element_changes": len(changes),
        "patterns_total": len(patterns),
        "patterns": [_pattern_row(number, pattern) for number, pattern in enumerate(patterns[:PATTERN_ROWS_SHOWN], 1)],
        "rows": rows,
    }


def _pattern_row(number: int, pattern: ChangePattern) -> dict[str, Any]:
    segments = pattern.segments()
    old, new = sides(segments)
    old, new = ("" if pattern.kind == SET else old), ("" if pattern.kind == CLEARED else new)
    values = pattern.values()
    commonest, count = values.most_common(1)[0]
    return {
        "pattern": number,
        "element": pattern.element or RAW_ONLY,
        "kind": pattern.kind,
        "models": len(pattern.model_ids),
        "examples": pattern.model_ids[:EXAMPLES],
        "segments": [list(segment) for segment in segments],
        "old": old,
        "new": new,
        "values": len(values),
        "commonest": {"value": sides(_shortened(SAME, commonest))[0], "models": count} if len(values) > 1 and count > 1 else None,
    }
