"""Fault rules for the replay server (`--fail PATTERN=ACTION`): which requests fail, and how.

Standard library only: the replay server's own process reads them too.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from dataclasses import dataclass
from urllib.parse import unquote

FAULT_ACTIONS = "a status (200-599), empty, html, reset, truncate:BYTES, slow:SECONDS or json:BODY"


class BadFaultRule(ValueError):
    """A --fail rule that is not PATTERN=ACTION."""


@dataclass(frozen=True)
class FaultRule:
    """Requests whose target matches `pattern` get `action` instead of the snapshot's answer.

    `action` is a status (`"503"`), `empty`, `html`, `reset`, `truncate` (`argument`: bytes kept), `slow`
    (`argument`: seconds) or `json` (`argument`: the body). `str(rule)` is the rule as `parse_fault` reads it.
    """

    pattern: str
    action: str
    argument: str = ""

    def matches(self, target: str) -> bool:
        return fnmatch.fnmatchcase(target, self.pattern) or fnmatch.fnmatchcase(unquote(target), self.pattern)

    def __str__(self) -> str:
        return f"{self.pattern}={self.action}" + (f":{self.argument}" if self.action in _WITH_ARGUMENT else "")


_WITH_ARGUMENT = frozenset({"truncate", "slow", "json"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def parse_fault(rule: str) -> FaultRule:
    """`PATTERN=ACTION`: a rule with `=json:` splits at its first `=json:` (the JSON body may hold `=`), any
    other at its last `=` (the pattern may: query strings). PATTERN is a glob on the request target
    `/<host>/<path>?<query>`; one written as a URL (`https://host/...`) or without the leading slash
    (`host/...`) is read as that target.
    """
    pattern, separator, body = rule.partition("=json:")
    if separator:
        action, argument = "json", body
        try:
            json.loads(body)
        except ValueError as error:
            raise BadFaultRule(f"fault rule {rule!r}: the body after json: is not JSON ({error})") from None
    else:
        pattern, _, spec = rule.rpartition("=")
        action, colon, argument = spec.partition(":")
        if not _valid_action(action, argument, has_argument=bool(colon)):
            raise BadFaultRule(
                f"not a fault rule: {rule!r} (expected PATTERN=ACTION, where ACTION is {FAULT_ACTIONS};"
                " e.g. '/api.github.com/*=500')"
            )
    written, pattern = pattern, _SCHEME.sub("", pattern.strip())
    if not pattern:
        raise BadFaultRule(f"fault rule {rule!r} has no pattern (expected PATTERN=ACTION, e.g. '/api.github.com/*=500')")
    if not pattern.startswith(("/", "*")):
        pattern = "/" + pattern
    problem = _never_matches(pattern, written, rule[len(written):])
    if problem:
        raise BadFaultRule(f"fault rule {rule!r} can never match a request, a target /HOST/PATH?QUERY: {problem}")
    return FaultRule(pattern, action, argument)


_GLOB = re.compile(r"[*?\[]")


def _never_matches(pattern: str, written: str, action: str) -> str | None:
    """Why no request target -- `/<host>/<path>?<query>`, the host a name with dots -- can match `pattern`, and
    how to write the rule (`written` + `action` as given); None when some target can."""
    for ellipsis in ("...", "…"):
        if ellipsis in pattern:
            return f"{ellipsis!r} is not a wildcard; write {written.replace(ellipsis, '*') + action!r} (* matches any text, / included)"
    host, slash, _ = pattern.removeprefix("/").partition("/")
    if pattern.startswith("*") or _GLOB.search(host):
        return None
    if "." not in host:
        return f"{host!r} is not a host name; begin with the store's host, e.g. {'/api.github.com' + pattern + action!r}"
    if not slash:
        return f"a request has a path after its host; write {'/' + host + '/*' + action!r} for every request to {host}"
    return None


def _valid_action(action: str, argument: str, *, has_argument: bool) -> bool:
    if action.isdigit() and len(action) == 3:
        return not has_argument and 200 <= int(action) <= 599
    if action in ("empty", "html", "reset"):
        return not has_argument
    if action == "truncate":
        return argument.isdigit()
    if action == "slow":
        try:
            return math.isfinite(float(argument)) and float(argument) >= 0
        except ValueError:
            return False
    return False


def parse_faults(rules: list[str]) -> list[FaultRule]:
    """Every rule, in order (the first that matches a request decides); BadFaultRule names a bad one."""
    return [parse_fault(rule) for rule in rules]
