"""Assemble the Hugging Face Hub listing snapshots from real per-model API answers (see SOURCES.md).

    PYTHONPATH=. python snapshots/huggingface/assemble.py ../shared/realdata/huggingface/api_models_from_huggingface_hub_cassettes

Each capture date's listing holds, for every repository recorded on or before that day, its latest recorded
answer (a model recorded once in 2024 is carried over to the later dates unchanged), trimmed to the fields the
spider's expand[] asks for, sorted as `sort=createdAt` lists them (newest first, then by `_id`), in pages of
PAGE_MODELS. The pages' `Link`, `RateLimit` and `RateLimit-Policy` headers follow the Hub's format; the cursor
is a base64 JSON keyset (createdAt, _id) standing in for the Hub's opaque one. On the last date the second
page first answers 429 once, and the third page starts with the second page's last model again.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from crawler.replay_server import META_SUFFIX, local_path
from spiders.huggingface import EXPAND, listing_url

HERE = Path(__file__).resolve().parent
DATES = ("2024-04-09", "2025-01-22", "2025-03-21")
PAGE_MODELS = 4
POLICY = '"fixed window";"api";q=500;w=300'  # anonymous quota: 500 calls per 300 s
REFUSED_ON = ("2025-03-21", 1)  # (date, page index): answers 429 once before its page
REPEAT_ON = ("2025-03-21", 2)  # (date, page index): starts with the previous page's last model


def recorded_answers(source: Path) -> list[tuple[str, str, dict, str]]:
    """(response day, Date header, body, source file) of every 200 full-record answer (no query: not the expand= probes)."""
    answers = []
    for entry in json.loads((source / "INDEX.json").read_text()):
        if entry["status"] != 200 or entry["query"] or not entry["file"].endswith(".json"):
            continue
        body = json.loads((source / entry["file"]).read_text())
        day = parsedate_to_datetime(entry["response_date"]).date().isoformat()
        answers.append((day, entry["response_date"], body, entry["file"]))
    return sorted(answers, key=lambda answer: parsedate_to_datetime(answer[1]))


def listing_as_of(answers, day: str) -> list[tuple[dict, str]]:
    """Each repository's latest answer on or before `day`, trimmed to the expand[] fields, in listing order."""
    latest: dict[str, tuple[dict, str]] = {}
    for answered_day, _, body, file in answers:
        if answered_day <= day:
            latest[body["id"]] = ({key: body[key] for key in ("_id", "id", *EXPAND) if key in body}, file)
    return sorted(latest.values(), key=lambda item: (item[0]["createdAt"], item[0]["_id"]), reverse=True)


def cursor(entry: dict) -> str:
    keyset = json.dumps({"createdAt": entry["createdAt"], "_id": entry["_id"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(keyset.encode()).decode().rstrip("=")


def write_date(answers, day: str) -> list[dict]:
    root = HERE / day
    shutil.rmtree(root, ignore_errors=True)
    listing = listing_as_of(answers, day)
    first = listing_url({})
    pages = [listing[start : start + PAGE_MODELS] for start in range(0, len(listing), PAGE_MODELS)]
    urls = [first] + [f"{first}&cursor={cursor(page[-1][0])}" for page in pages[:-1]]
    provenance = []
    for number, (url, page) in enumerate(zip(urls, pages)):
        entries = [entry for entry, _ in page]
        if (day, number) == REPEAT_ON:
            entries.insert(0, pages[number - 1][-1][0])
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "RateLimit": f'"api";r={499 - number};t={300 - 2 * number}',
            "RateLimit-Policy": POLICY,
        }
        if number + 1 < len(urls):
            headers["Link"] = f'<{urls[number + 1]}>; rel="next"'
        meta: dict = {"url": url, "status": 200, "headers": headers}
        if (day, number) == REFUSED_ON:
            meta["first"] = [{
                "status": 429,
                "headers": {"Content-Type": "text/plain; charset=utf-8", "RateLimit": '"api";r=0;t=123', "RateLimit-Policy": POLICY},
                "body": "Too Many Requests\n",
            }]
        parts = urlsplit(url)
        path = local_path(root, f"/{parts.netloc}{parts.path}?{parts.query}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entries, separators=(",", ":"), ensure_ascii=False))
        path.with_name(path.name + META_SUFFIX).write_text(json.dumps(meta, indent=1) + "\n")
        provenance += [{"page": number + 1, "id": entry["id"], "source": file} for entry, file in page]
    observed = max(parsedate_to_datetime(stamp) for answered_day, stamp, _, _ in answers if answered_day <= day)
    snapshot = {
        "store": "huggingface",
        "observed_at": observed.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reconstructed": True,
        "source": {
            "repository": "RECONSTRUCTED listing pages assembled from real per-model Hub API answers (see SOURCES.md)",
            "built_by": "snapshots/huggingface/assemble.py",
            "records_from": "huggingface/huggingface_hub tests/cassettes (shared/realdata/huggingface/api_models_from_huggingface_hub_cassettes)",
        },
        "models": len(listing),
        "pages": len(pages),
    }
    (root / "SNAPSHOT.json").write_text(json.dumps(snapshot, indent=1) + "\n")
    return provenance


def main(source: str) -> None:
    answers = recorded_answers(Path(source))
    table = {day: write_date(answers, day) for day in DATES}
    (HERE / "PROVENANCE.json").write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
