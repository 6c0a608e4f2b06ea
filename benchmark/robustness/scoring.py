"""The robustness result: metric rows per (corruption, severity), their relative drops, and the summary.

Relative drop of a metric at (corruption, severity) = (clean value - corrupted value) / clean value, so
0 is no change and 0.1 is a tenth of the clean value lost (negative: the corruption helped). The mean
relative drop of a corruption averages its severities; the overall one averages the corruptions (each
corruption's mean, so every corruption weighs the same whatever severities it was scored at).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

CLEAN = "none"  # the corruption named in the clean rows (severity 0)
OVERALL = "overall"


def relative_drop(clean: float, value: float) -> float | None:
    """(clean - value) / clean; None (null in JSON) when the clean value is 0 or either is not finite."""
    if not math.isfinite(clean) or clean == 0 or not math.isfinite(value):
        return None
    return (clean - value) / clean


def _number(value: float | None) -> float | None:
    """A float, or None (null in JSON) for an undefined value."""
    return float(value) if value is not None and math.isfinite(value) else None


def metric_rows(corruption: str, severity: int, metrics: Mapping[str, Mapping[str, float]]) -> list[dict[str, Any]]:
    """One row per metric of one evaluation (``metrics``: name -> {value, ci_low, ci_high})."""
    return [
        {
            "corruption": corruption,
            "severity": severity,
            "metric": name,
            "value": _number(m["value"]),
            "ci_low": _number(m["ci_low"]),
            "ci_high": _number(m["ci_high"]),
        }
        for name, m in metrics.items()
    ]


def with_drops(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with ``relative_drop`` against the clean row of the same metric (0 for the clean rows)."""
    clean = {r["metric"]: r["value"] for r in rows if r["severity"] == 0}
    return [{**r, "relative_drop": _drop(clean[r["metric"]], r["value"])} for r in rows]


def _drop(clean: float | None, value: float | None) -> float | None:
    return None if clean is None or value is None else relative_drop(clean, value)


def _mean(values: list[float | None]) -> float | None:
    """The mean of the defined values; None when there is none."""
    defined = [v for v in values if v is not None and math.isfinite(v)]
    return sum(defined) / len(defined) if defined else None


def mean_relative_drops(rows: list[dict[str, Any]], metric: str) -> dict[str, float | None]:
    """Corruption -> mean relative drop of ``metric`` over its severities, plus ``overall``."""
    by_corruption: dict[str, list[float | None]] = {}
    for r in rows:
        if r["metric"] == metric and r["severity"] > 0:
            by_corruption.setdefault(r["corruption"], []).append(r["relative_drop"])
    means = {name: _mean(drops) for name, drops in by_corruption.items()}
    means[OVERALL] = _mean(list(means.values()))
    return means


def summary(rows: list[dict[str, Any]], primary: str) -> dict[str, Any]:
    """The headline: the primary metric's mean relative drops, and every scored metric's."""
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    return {
        "metric": primary,
        "clean": next(r["value"] for r in rows if r["severity"] == 0 and r["metric"] == primary),
        "mean_relative_drop": mean_relative_drops(rows, primary),
        "mean_relative_drop_by_metric": {m: mean_relative_drops(rows, m) for m in metrics},
    }
