"""A robustness result as tables: one row per corruption, one column per severity (value [95% CI]), and
the corruption's mean relative drop; printed by the command, shown by the leaderboard."""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmark.results.export import markdown_table
from benchmark.robustness.scoring import CLEAN, OVERALL


def _cell(row: pd.Series) -> str:
    if pd.isna(row["value"]):
        return "n/a"
    if pd.isna(row["ci_low"]) or pd.isna(row["ci_high"]):
        return f"{row['value']:.3f}"
    return f"{row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def _drop(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{100 * value:.1f}%"


def severity_table(result: dict[str, Any], metric: str) -> pd.DataFrame:
    """Corruption x severity of ``metric`` (severity 0, the clean set, repeated on every line) and the
    mean relative drop over the severities, then an ``overall`` line."""
    rows = pd.DataFrame(result["rows"])
    rows = rows[rows["metric"] == metric]
    clean = rows[rows["corruption"] == CLEAN]
    drops = result["summary"]["mean_relative_drop_by_metric"].get(metric, {})
    severities = sorted(int(s) for s in rows.loc[rows["corruption"] != CLEAN, "severity"].unique())
    levels = result["settings"].get("levels", {})
    lines = []
    for corruption, group in rows[rows["corruption"] != CLEAN].groupby("corruption", sort=False):
        line: dict[str, Any] = {"corruption": corruption}
        spec = levels.get(corruption)
        if spec:
            line["parameter"] = f"{spec['parameter']}: " + ", ".join(f"{v:g}" for v in spec["levels"])
        line["0 (clean)"] = _cell(clean.iloc[0]) if len(clean) else "n/a"
        by_severity = {int(r["severity"]): r for _, r in group.iterrows()}
        for s in severities:
            line[str(s)] = _cell(by_severity[s]) if s in by_severity else ""
        line["mean relative drop"] = _drop(drops.get(corruption))
        lines.append(line)
    table = pd.DataFrame(lines)
    overall = {column: "" for column in table.columns}
    overall.update({"corruption": OVERALL, "mean relative drop": _drop(drops.get(OVERALL))})
    return pd.concat([table, pd.DataFrame([overall])], ignore_index=True)


def format_result(result: dict[str, Any], markdown: bool = False) -> str:
    """A severity table per scored metric, primary metric first, with what the numbers are: plain text for a
    terminal, or Markdown."""
    settings = result["settings"]
    parts = []
    for metric in settings["metrics"]:
        table = severity_table(result, metric).drop(columns="parameter", errors="ignore")
        parts.append(
            f"{metric} of run {settings.get('run_id', '?')} ({settings.get('n_images', '?')} test images, 95% "
            f"{settings.get('unit', '')} bootstrap CI, {settings['bootstrap']['n_resamples']} resamples; corruption "
            f"seed {settings['seed']}):\n\n" + (markdown_table(table) if markdown else table.to_string(index=False))
        )
    return "\n\n".join(parts)
