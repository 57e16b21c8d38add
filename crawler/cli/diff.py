"""Commands that compare: `diff` (one store between two dates) and `compare` (the stores with each other)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crawler.cli.common import DbOption, cell_text, database, format_option, print_json, print_line, print_lines, print_rows, print_table, short_instant, stderr, stdout
from crawler.elements import element_order
from crawler.stores import check_store, known_stores
from storage.coverage import coverage_at, stores_with_history
from storage.crossstore import compare_elements, match_models
from storage.diff import diff_store, run_observed_at
from storage.errors import StorewatchError
from storage.timeutil import parse_instant, utcnow
from storage.wording import plural

INSTANT_HELP = "YYYY-MM-DD (end of that day, UTC), an ISO instant, or run:N (the instant run N observed)"
FORMATS = ("text", "json", "csv", "markdown")
DIFF_COLUMNS = ["change", "model_id", "element", "old", "new"]


def diff(
    store: Annotated[str, typer.Argument(help="Store (see `storewatch stores`)")],
    from_: Annotated[str, typer.Option("--from", help=f"Start: {INSTANT_HELP}")],
    to: Annotated[str | None, typer.Option("--to", help=f"End: {INSTANT_HELP}; default: now")] = None,
    format: Annotated[str, format_option(*FORMATS)] = "text",
    db: DbOption = None,
) -> None:
    """Show what changed in a store between two dates: models added, removed, returned, and changed element by
    element, and how the share of models showing each element moved.

    CSV gives a row per model (and per element of a changed model): change, model_id, element, old, new.

    Example:

    \b
        storewatch diff pytorch_hub --from 2020-06-30 --to 2021-06-30 --format json
    """
    check_store(store)
    engine = database(db)
    from_at = _instant(engine, store, from_)
    to_at = _instant(engine, store, to) if to else utcnow()
    result = diff_store(engine, store, from_at, to_at)
    if not result.coverage_to.models and not result.coverage_from.models and coverage_at(engine, store).run_id is None:
        raise StorewatchError(f"no {store} history recorded yet (see `storewatch crawl {store} --help`)")
    data = result.as_dict()
    if format == "markdown":
        from crawler.report.render import render_diff_markdown  # the report's templates (jinja2): ~0.05 s to load

        stdout.out(render_diff_markdown(data), end="", highlight=False)
    elif format == "text":
        _print_diff_text(data)
    elif format == "json":
        print_json(data, plain=result.plain_numbers)  # decoded records and counts: orjson can write it
    else:
        print_rows(format, _change_rows(data), DIFF_COLUMNS)


def _change_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The diff as rows: one per model added, removed or returned, one per element of a changed model (one
    without an element when only its raw record changed)."""
    rows = [{"change": kind, "model_id": model_id} for kind in ("added", "removed", "returned") for model_id in data[kind]]
    for change in data["changed"]:
        elements = change["elements"] or {None: {"old": None, "new": None}}
        rows += [{"change": "changed", "model_id": change["model_id"], "element": key, **values} for key, values in elements.items()]
    return rows


def _instant(engine, store: str, text: str):
    if text.startswith("run:"):
        try:
            run_id = int(text.removeprefix("run:"))
        except ValueError:
            raise StorewatchError(f"not a run: {text!r} (expected run:N, N a run id from `storewatch runs`)") from None
        return run_observed_at(engine, run_id, store)[1]
    return parse_instant(text)


def _print_diff_text(data: dict[str, Any]) -> None:
    lines = [
        f"{data['store']}  {_when(data['from'])} → {_when(data['to'])}  "
        f"models {data['models']['from']} → {data['models']['to']}  ({plural(len(data['runs']), 'run')} in between)"
    ]
    for kind, mark in (("added", "+"), ("removed", "-"), ("returned", "^")):
        lines.append(f"{kind} ({len(data[kind])})")
        lines += [f"  {mark} {model_id}" for model_id in data[kind]]
    lines.append(f"changed ({len(data['changed'])})")
    for change in data["changed"]:
        lines.append(f"  ~ {change['model_id']}")
        for key, values in change["elements"].items():
            lines.append(f"      {key}: {cell_text(values['old'], 70) or '(none)'} → {cell_text(values['new'], 70) or '(none)'}")
        if not change["elements"]:
            lines.append("      (raw record only)")
    lines.append("element coverage (share of models showing it)")
    for row in data["coverage"]:
        lines.append(
            f"  {row['element']:<15} {row['from']['share']:>5.0%} → {row['to']['share']:>4.0%}  {row['finding'] or ''}".rstrip()
        )
    print_lines(lines)


def _when(instant: str) -> str:
    """An instant as a date when it is the end of a day the user gave (or a midnight snapshot instant)."""
    return short_instant(instant.removesuffix("T23:59:59.999999Z"))


def compare(
    store: Annotated[list[str] | None, typer.Option("--store", help="Compare these stores (repeat); default: every store with history")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date (end of that day, UTC) or ISO instant; default: now")] = None,
    min_score: Annotated[float, typer.Option("--min-score", help="Show model matches scoring at least this (0 to 1)")] = 0.45,
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many model matches (text and markdown)")] = 40,
    format: Annotated[str, format_option(*FORMATS)] = "text",
    db: DbOption = None,
) -> None:
    """Compare the stores at a date: which information elements each shows and for what share of its models,
    which all share and which only one shows, and the models found in more than one store, with a score and
    the evidence (never merged). CSV gives the element table: a row per element, a column per store (the share).

    Example:

    \b
        storewatch compare --as-of 2021-06-30 --format markdown
    """
    for name in store or []:
        check_store(name)
    engine = database(db)
    stores = store or [name for name in stores_with_history(engine) if name in known_stores()]
    at = parse_instant(as_of) if as_of else None
    comparison = compare_elements(engine, stores, at)
    matches = [match.as_dict() for match in match_models(engine, stores, at, min_score=min_score)]
    if format == "markdown":
        from crawler.report.render import render_compare_markdown

        stdout.out(render_compare_markdown(comparison, matches[:limit]), end="", highlight=False)
        return
    tracked = comparison["tracked"]
    order = element_order(comparison["elements"])
    if format != "text":
        rows = [{"element": key, **comparison["elements"][key]} for key in order]
        print_rows(format, rows, ["element", *tracked], data={**comparison, "matches": matches})
        return
    rows = [{"element": key, **{name: f"{comparison['elements'][key][name]:.0%}" for name in tracked}} for key in order]
    print_table(rows, ["element", *tracked], title=f"share of models showing each element, {as_of or 'latest'}")
    if comparison["shared_share"] is not None:
        print_line(
            f"shared by all {plural(len(tracked), 'store')}: {len(comparison['shared'])} of {plural(len(rows), 'element')} "
            f"({comparison['shared_share']:.0%}): {', '.join(comparison['shared'])}"
        )
    for name, keys in comparison["unique"].items():
        print_line(f"only {name}: {', '.join(keys) or 'nothing'}")
    match_rows = [
        {
            "score": f"{match['score']:.2f}",
            "verdict": match["verdict"],
            "model": f"{match['models'][0]['store']}: {match['models'][0]['model_id']}",
            "other model": f"{match['models'][1]['store']}: {match['models'][1]['model_id']}",
            "evidence": "; ".join(match["evidence"] + [f"against: {c}" for c in match["conflicts"]]),
        }
        for match in matches[:limit]
    ]
    print_table(match_rows, ["score", "verdict", "model", "other model", "evidence"], title=f"models in more than one store ({plural(len(matches), 'pair')})")
    if not stores:
        stderr.print("no store has recorded history yet (see `storewatch demo`)", highlight=False)
