"""A run's external results: the record's ``external`` section (scored at run time) merged with the derived
files ``benchmark evaluate --external`` wrote later.

A derived result wins over the record's for the same set name (it was asked for later); one computed from
other weights than the run's (its ``inputs.weights_sha256`` differs from the record's) is left out as stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.results.derived import read_derived
from benchmark.results.record import RunRecord
from benchmark.results.store import CHECKPOINT_FILE


def external_results(run_dir: Path | None, record: RunRecord) -> dict[str, dict[str, Any]]:
    """Set name -> payload (rows, settings, summary; or ``skipped`` / ``not_external``), each with ``origin``:
    ``record`` or ``derived``."""
    merged = {name: {**payload, "origin": "record"} for name, payload in (record.external or {}).items()}
    if run_dir is None:
        return merged
    weights = (record.files or {}).get(CHECKPOINT_FILE)
    for name, payload in read_derived(run_dir, "external").items():
        if payload.get("inputs", {}).get("weights_sha256") != weights:
            continue
        merged[name] = {**payload["result"], "origin": "derived", "created_at": payload.get("created_at")}
    return merged


def primary_row(payload: dict[str, Any], metric: str) -> dict[str, Any] | None:
    """The row of ``metric`` in a scored payload, or None (skipped, not external, or not scored)."""
    return next((row for row in payload.get("rows", []) if row.get("metric") == metric), None)
