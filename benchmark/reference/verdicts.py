"""A published claim beside our estimate and its 95% CI: inside, above or below the CI, or not comparable.

The rule. A printed value stands for every value that rounds to it: "0.91" for [0.905, 0.915], "95%"
for [0.945, 0.955]. The claim is **inside** when that rounding interval meets our CI (ends included),
**above** when all of it lies above the CI's upper end, **below** when all of it lies below the lower
end. So a claim is only called above or below when its printed precision cannot explain the gap; with
``half_unit=0`` this is the plain comparison of the printed value with the CI. Our point estimate is
reported beside the verdict but does not decide it: the CI does.

A claim is **not comparable** (with the reason) when its comparability tag is neither
``same_test_images`` nor ``same_split``, when the source states only a bound or a range, when our
evaluation has no value for its metric and label (e.g. accuracy of a multilabel task), or when our CI
for it is undefined.

Our side is an ``OurEvaluation``: a task name and an estimate with CI per metric key (``auroc``,
``auroc/Edema``, ``auroc[findings14]``), built from a run record (``from_record``: its ``metrics``
are ``MetricCI``) or from a leaderboard entry (``from_entry``: rows with ``estimate``, ``ci_low`` and
``ci_high``, as ``benchmark.results.standings`` gives them for an entry's seed-averaged predictions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from benchmark.errors import StatisticsError, TaskMismatchError
from benchmark.reference.ledger import COMPARABILITY_TAGS, Claim, PublishedValue
from benchmark.tasks import TASKS

Outcome = Literal["inside", "above", "below", "not_comparable"]
_FLOAT_SLACK = 1e-12  # "0.91" - 0.005 is 0.9050000000000001 in floating point; the interval ends are meant exactly


@dataclass(frozen=True)
class OurEstimate:
    """Our value of one metric key with its 95% CI (NaN ends: undefined)."""

    value: float
    ci_low: float
    ci_high: float
    n_degenerate: int | None = None

    @classmethod
    def of(cls, item: Any) -> OurEstimate:
        """From a ``MetricCI`` (``value``, ``ci_low``, ``ci_high``) or a row/mapping with ``estimate``,
        ``ci_low`` and ``ci_high`` (a standings row)."""
        if isinstance(item, OurEstimate):
            return item
        if hasattr(item, "value") and hasattr(item, "ci_low"):
            return cls(float(item.value), float(item.ci_low), float(item.ci_high), getattr(item, "n_degenerate", None))
        try:
            degenerate = item.get("n_degenerate") if hasattr(item, "get") else None
            return cls(
                float(item["estimate"]),
                float(item["ci_low"]),
                float(item["ci_high"]),
                None if degenerate is None or _is_nan(degenerate) else int(degenerate),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise StatisticsError(
                f"{item!r} is neither a MetricCI nor a row with estimate, ci_low and ci_high ({exc})"
            ) from exc


@dataclass(frozen=True)
class OurEvaluation:
    """Our estimates on ``task_name``: metric key -> estimate with CI. ``image_size`` is the model's input
    side (None: unknown); ``label`` says what was evaluated ("run 20260101-...", "entry resnet18, 3 seeds")."""

    task_name: str
    estimates: Mapping[str, OurEstimate]
    image_size: int | None = None
    label: str = ""

    @classmethod
    def from_record(cls, record: Any) -> OurEvaluation:
        """A run record's evaluation (``record.metrics``: metric key -> ``MetricCI``)."""
        model_input = getattr(record.model, "input", None)
        return cls(
            task_name=record.task.name,
            estimates={key: OurEstimate.of(ci) for key, ci in record.metrics.items()},
            image_size=model_input.image_size if model_input is not None else None,
            label=f"run {record.run_id}",
        )

    @classmethod
    def from_entry(
        cls, task_name: str, rows: Mapping[str, Any], image_size: int | None = None, label: str = ""
    ) -> OurEvaluation:
        """An entry's evaluation: ``rows`` maps a metric key to its standings row (``estimate``, ``ci_low``,
        ``ci_high``, from ``task_standings(..., metric=key)``) or to any ``OurEstimate.of`` input."""
        return cls(task_name, {key: OurEstimate.of(row) for key, row in rows.items()}, image_size, label)


@dataclass(frozen=True)
class Verdict:
    """One published value beside ours. ``metric_key`` is our key the value maps to; ``estimate`` and the
    CI are ours when we have them (also for a claim that is not comparable), else None; ``reason`` says
    why a claim is not comparable; ``note`` flags a difference that does not stop the comparison."""

    claim_id: str
    source: str
    model: str
    task: str
    metric_key: str
    label: str | None
    published: PublishedValue
    outcome: Outcome
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None
    note: str | None = None

    @property
    def comparable(self) -> bool:
        return self.outcome != "not_comparable"

    def as_row(self) -> dict[str, Any]:
        """A flat row for tables and exports."""
        return {
            "claim": self.claim_id,
            "source": self.source,
            "model": self.model,
            "task": self.task,
            "metric": self.metric_key,
            "label": self.label,
            "published": self.published.text,
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "verdict": self.outcome.replace("_", " "),
            "reason": self.reason,
            "note": self.note,
        }


def verdict(
    claim_value: float, estimate: float, low: float, high: float, *, half_unit: float = 0.0
) -> Literal["inside", "above", "below"]:
    """Where ``claim_value`` (printed to ``half_unit``, half its last digit) lies against our CI [low, high].

    Inside when [claim_value - half_unit, claim_value + half_unit] meets [low, high] (ends included),
    above when it lies wholly above ``high``, below when wholly below ``low``. ``estimate`` is ours,
    reported beside and checked to be a number, but the CI decides (module docstring).
    """
    numbers = {"claim_value": claim_value, "estimate": estimate, "low": low, "high": high, "half_unit": half_unit}
    if bad := [name for name, v in numbers.items() if not isinstance(v, int | float) or not math.isfinite(v)]:
        raise StatisticsError(f"verdict needs finite numbers; {bad} are not ({numbers})")
    if low > high or half_unit < 0:
        raise StatisticsError(
            f"verdict needs low <= high and half_unit >= 0, got low={low}, high={high}, half_unit={half_unit}"
        )
    if claim_value - half_unit > high + _FLOAT_SLACK:
        return "above"
    if claim_value + half_unit < low - _FLOAT_SLACK:
        return "below"
    return "inside"


def metric_key(claim: Claim, label: str | None) -> str:
    """Our metric key for ``claim``'s value of ``label``: the metric itself for a single value or a binary
    task (whose records have no per-label keys), else ``metric/label``."""
    if label is None or TASKS.get(claim.task).problem == "binary":
        return claim.metric
    return f"{claim.metric}/{label}"


def compare_claim(claim: Claim, ours: OurEvaluation) -> tuple[Verdict, ...]:
    """One verdict per published value of ``claim`` (one, or one per label) against ``ours``.

    ``ours`` must be an evaluation of the claim's task (``TaskMismatchError`` otherwise): a claim on one
    task is never set beside another task's numbers.
    """
    if ours.task_name != claim.task:
        raise TaskMismatchError(
            f"claim {claim.id!r} is on task {claim.task!r} and the evaluation ({ours.label or 'unnamed'}) on "
            f"{ours.task_name!r}; compare a claim only with an evaluation of its own task"
        )
    return tuple(_verdict_for(claim, label, published, ours) for label, published in claim.items())


def _verdict_for(claim: Claim, label: str | None, published: PublishedValue, ours: OurEvaluation) -> Verdict:
    key = metric_key(claim, label)
    mine = ours.estimates.get(key)
    base = {
        "claim_id": claim.id,
        "source": claim.source,
        "model": claim.model,
        "task": claim.task,
        "metric_key": key,
        "label": label,
        "published": published,
    }
    if mine is not None:
        base.update(estimate=mine.value, ci_low=mine.ci_low, ci_high=mine.ci_high)
    reason = _not_comparable_reason(claim, published, key, mine, ours)
    if reason is not None:
        return Verdict(**base, outcome="not_comparable", reason=reason)
    assert mine is not None  # _not_comparable_reason covers a missing estimate
    outcome = verdict(published.value, mine.value, mine.ci_low, mine.ci_high, half_unit=published.half_unit)
    return Verdict(**base, outcome=outcome, note=_size_note(claim, ours))


def _not_comparable_reason(
    claim: Claim, published: PublishedValue, key: str, mine: OurEstimate | None, ours: OurEvaluation
) -> str | None:
    if not claim.comparable:
        return f"{claim.comparability.replace('_', ' ')} ({COMPARABILITY_TAGS[claim.comparability]}): {claim.reason}"
    if published.kind == "lower_bound":
        return f"the source states only a lower bound ({published.text}), not a value"
    if published.kind == "range":
        return f"the source states only a range ({published.text}), not a value per label"
    if mine is None:
        have = ", ".join(sorted(k for k in ours.estimates if "/" not in k)) or "none"
        return f"our evaluation of {claim.task} has no {key} (its metrics: {have})"
    if not (math.isfinite(mine.ci_low) and math.isfinite(mine.ci_high) and math.isfinite(mine.value)):
        return f"our estimate or 95% CI of {key} is undefined (too few positives or negatives in the resamples)"
    return None


def _size_note(claim: Claim, ours: OurEvaluation) -> str | None:
    if claim.image_size is None or ours.image_size is None or claim.image_size == ours.image_size:
        return None
    return f"published at {claim.image_size} px, ours at {ours.image_size} px"


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


__all__ = ["OurEstimate", "OurEvaluation", "Outcome", "Verdict", "compare_claim", "metric_key", "verdict"]
