"""External test sets beside the internal test set: one row per (run, external set) with the drop.

``benchmark export`` appends the section (``export_section``), the leaderboard's External page shows
``external_table``, and ``benchmark evaluate --external`` prints ``metrics_markdown``. Rows are per run
(not averaged over seeds): an external set may be scored for some seeds of an entry only. ``drop`` is the
internal value minus the external one, both of the standings' metric (the task's primary one by default);
the CIs are each run's own patient-cluster bootstrap intervals on each test set (independent sets: no CI of
the drop is claimed).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmark.errors import RecordError
from benchmark.external.results import external_results, primary_row
from benchmark.results.export import markdown_table

EXTERNAL_COLUMNS = [
    "entry",
    "seed",
    "run_id",
    "external_set",
    "metric",
    "internal",
    "internal_ci_low",
    "internal_ci_high",
    "external",
    "external_ci_low",
    "external_ci_high",
    "drop",
    "n_external_images",
    "status",  # scored (record | derived), skipped: why, not external: why
]


def _status(payload: dict[str, Any]) -> str:
    if "not_external" in payload:
        return f"not external: {payload['not_external']}"
    if "skipped" in payload:
        return f"skipped: {payload['skipped']}"
    return f"scored ({payload.get('origin', 'record')})"


def external_table(results: Any, standings: Any) -> pd.DataFrame:
    """EXTERNAL_COLUMNS for every run of the standings' entries that has external results."""
    rows = []
    for entry in standings.entries.itertuples():
        for run_id in entry.run_ids:
            try:
                record = results.load_record(run_id)
                found = external_results(results.find(run_id), record)
            except RecordError:
                continue  # damaged runs are listed by the standings themselves
            metric = standings.metric if standings.metric in record.metrics else record.task.primary_metric
            internal = record.metrics.get(metric)
            for name, payload in found.items():
                scored = primary_row(payload, metric)
                external = scored["value"] if scored else None
                inside = internal.value if internal is not None else None
                rows.append(
                    {
                        "entry": entry.entry,
                        "seed": record.seed,
                        "run_id": run_id,
                        "external_set": name,
                        "metric": metric,
                        "internal": inside,
                        "internal_ci_low": internal.ci_low if internal is not None else None,
                        "internal_ci_high": internal.ci_high if internal is not None else None,
                        "external": external,
                        "external_ci_low": scored["ci_low"] if scored else None,
                        "external_ci_high": scored["ci_high"] if scored else None,
                        "drop": inside - external if inside is not None and external is not None else None,
                        "n_external_images": scored.get("n_images") if scored else None,
                        "status": _status(payload),
                    }
                )
    return pd.DataFrame(rows, columns=EXTERNAL_COLUMNS)


def _ci(value: Any, low: Any, high: Any) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return f"{value:.4f}"
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"


def table_markdown(table: pd.DataFrame) -> str:
    shown = pd.DataFrame(
        {
            "entry": table["entry"],
            "seed": table["seed"],
            "external set": table["external_set"],
            "metric": table["metric"],
            "internal (95% CI)": [
                _ci(*r) for r in table[["internal", "internal_ci_low", "internal_ci_high"]].to_numpy()
            ],
            "external (95% CI)": [
                _ci(*r) for r in table[["external", "external_ci_low", "external_ci_high"]].to_numpy()
            ],
            "drop": ["n/a" if pd.isna(d) else f"{d:+.4f}" for d in table["drop"]],
            "status": table["status"],
        }
    )
    return markdown_table(shown)


def export_section(results: Any, standings: Any, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """The task's external sets beside its internal test set, per run; None when no run has any."""
    table = external_table(results, standings)
    if table.empty:
        return None
    text = (
        f"## External test sets ({standings.task_name})\n\n"
        "Per run: the task's primary metric on its own test set and on each external set (95% patient-cluster "
        "bootstrap CIs), and the drop (internal - external).\n\n" + table_markdown(table) + "\n"
    )
    rows = [
        {k: (None if pd.isna(v) else v) if not isinstance(v, list) else v for k, v in r.items()}
        for r in table.to_dict("records")
    ]
    return text, rows


def metrics_markdown(name: str, result: dict[str, Any]) -> str:
    """One set's metrics (what ``benchmark evaluate --external`` prints) and how they were computed."""
    settings = result["settings"]
    frame = pd.DataFrame(
        {
            "metric": [r["metric"] for r in result["rows"]],
            "value (95% CI)": [_ci(r["value"], r["ci_low"], r["ci_high"]) for r in result["rows"]],
        }
    )
    left_out = ", ".join(f"{k}: {v}" for k, v in settings["left_out"].items()) or "none"
    return (
        f"external set {name}: {settings['n_images']} images of {settings['n_patients']} patients "
        f"(scored labels {settings['scored_labels']}; left out {left_out}; {settings['how_scored']})\n\n"
        + markdown_table(frame)
        + "\n"
    )
