"""The robustness results of a set of runs, for the leaderboard: one per run (the full default set of
corruptions when the run has it, else its newest), each flagged when it was computed from other weights
than the run's recorded ``best_model.pt``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.results.derived import read_derived
from benchmark.results.record import RunRecord
from benchmark.results.store import CHECKPOINT_FILE
from benchmark.robustness.scoring import OVERALL

KIND = "robustness"


@dataclass(frozen=True)
class RunRobustness:
    run_id: str
    name: str  # the derived result's name (corruptions-s<seed>[-digest])
    result: dict[str, Any]  # rows, settings, summary
    stale: bool  # computed from weights other than the record's


def _chosen(found: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    full = sorted(n for n, p in found.items() if n.count("-") == 1)  # corruptions-s<seed>: every corruption
    if full:
        return full[0], found[full[0]]
    name = max(found, key=lambda n: str(found[n].get("created_at", "")))
    return name, found[name]


def run_robustness_result(run_dir: Path, record: RunRecord) -> RunRobustness | None:
    """The run's robustness result to show, or None when it has none."""
    found = read_derived(run_dir, KIND)
    if not found:
        return None
    name, payload = _chosen(found)
    recorded = (record.files or {}).get(CHECKPOINT_FILE)
    stale = recorded is not None and payload.get("inputs", {}).get("weights_sha256") != recorded
    return RunRobustness(record.run_id, name, payload["result"], stale)


def drop_table(results: list[RunRobustness], records: dict[str, RunRecord], metric: str) -> pd.DataFrame:
    """One line per run: model, seed, clean value of ``metric`` and its mean relative drop per corruption
    and overall (fractions; NaN where the run's result lacks the corruption or the metric)."""
    lines = []
    for found in results:
        record = records[found.run_id]
        drops = found.result["summary"].get("mean_relative_drop_by_metric", {}).get(metric, {})
        clean = next((r["value"] for r in found.result["rows"] if r["severity"] == 0 and r["metric"] == metric), None)
        line: dict[str, Any] = {"model": record.model.name, "seed": record.seed, "run_id": found.run_id}
        line[f"clean {metric}"] = clean
        line.update({k: v for k, v in drops.items() if k != OVERALL})
        line[OVERALL] = drops.get(OVERALL)
        lines.append(line)
    return pd.DataFrame(lines)
