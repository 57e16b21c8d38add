"""The crawl-health gate: a run is judged against the store's own history before it may close anything.

A store answers 200 with an empty, cut or foreign page far more often than it fails outright, so a run whose
listing looks like an outage is not believed:

- its listing named no models while the store had some, or markedly fewer than the store's recent complete
  runs (more than `max_drop` below their mean, and more than `tolerated_drop` models, so that a store of a
  few dozen models may lose a handful): the run is `suspect` -- it records additions and returns,
  holds changes and removals, and waits for a person (`storewatch accept RUN`) or a later good run;
- most of its model pages could not be read (more than `max_model_failures` of them): it is `partial`.

A model missing from a complete run is removed only once it has been missing from `confirm_removals`
complete runs in a row (as of the first), so a listing that drifts between requests does not make models
flicker out and back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from storage.wording import plural


@dataclass(frozen=True)
class HealthPolicy:
    """How much a store's listing may shrink in one run, how removals are confirmed, how many pages may fail."""

    max_drop: float = 0.2  # a listing smaller than (1 - max_drop) x the baseline is suspect ...
    tolerated_drop: int = 5  # ... unless it is at most this many models smaller
    baseline_runs: int = 1  # the baseline: the mean of the store's last N complete runs
    confirm_removals: int = 1  # complete runs in a row a model must be missing from before it is removed
    max_model_failures: float = 0.5  # a larger share of unreadable model pages makes the run partial

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "HealthPolicy":
        return cls(**values) if values else cls()


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str | None = None


def judge(status: str, *, seen: int, unreadable: int, baseline: float | None, policy: HealthPolicy) -> Verdict:
    """The run's status after the gate: the crawl's own status (`complete`, `partial`, `failed`, or `suspect`
    for a listing of the wrong shape), checked against the store's baseline (None: no complete run yet)."""
    if status != "complete":
        return Verdict(status)
    if baseline:
        if seen == 0:
            return Verdict("suspect", f"suspect: the listing named no models; the store's last complete runs listed {baseline:g}")
        if seen < (1 - policy.max_drop) * baseline and baseline - seen > policy.tolerated_drop:
            drop = 1 - seen / baseline
            return Verdict(
                "suspect",
                f"suspect: the listing named {plural(seen, 'model')}, {drop:.0%} fewer than the {baseline:g} of the store's last "
                f"complete runs (max_drop {policy.max_drop:.0%}); removals and changes are held",
            )
    if seen and unreadable / seen > policy.max_model_failures:
        return Verdict(
            "partial",
            f"{unreadable} of {plural(seen, 'model page')} unreadable (more than max_model_failures {policy.max_model_failures:.0%}); "
            f"nothing removed",
        )
    return Verdict("complete")
