"""Reading and showing audit reports (``<results>/audits/<task>-<model>.json``): the terminal summary of
``benchmark audit``, ``benchmark export``'s audit section and the leaderboard's flag read them here."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.results.export import markdown_table
from benchmark.text import markdown_escape

log = logging.getLogger(__name__)

AUDITS_DIR = "audits"
CONDITION_NAMES = {"full": "full image", "lung_hidden": "lung field hidden", "lung_only": "lung field only"}


def _roots(results: Any) -> list[Path]:
    if isinstance(results, (str, Path)):
        return [Path(results)]
    return list(getattr(results, "roots", None) or [results.root])


def task_audits(results: Any, task: str, task_hash: str | None = None) -> list[dict[str, Any]]:
    """The audit reports of ``task`` (at ``task_hash`` when given) in the results folder(s), by model name.
    A report that cannot be read is skipped with a warning."""
    found: dict[str, dict[str, Any]] = {}
    for root in _roots(results):
        folder = Path(root) / AUDITS_DIR
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                report = json.loads(path.read_text())
                ok = isinstance(report, dict) and report.get("task") == task and isinstance(report.get("rows"), list)
            except (OSError, ValueError) as exc:
                log.warning("skipping audit report %s: %s", path, exc)
                continue
            if ok and (task_hash is None or report.get("task_hash") == task_hash):
                found.setdefault(str(report.get("model")), report)
    return [found[name] for name in sorted(found)]


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _p(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _table_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for row in report["rows"]:
        diff = "–"
        if row["condition"] != "full":
            diff = f"{_num(row['diff_vs_full'])} [{_num(row['diff_ci_low'])}, {_num(row['diff_ci_high'])}]"
        rows.append(
            [
                CONDITION_NAMES.get(row["condition"], row["condition"]),
                f"{_num(row['value'])} [{_num(row['ci_low'])}, {_num(row['ci_high'])}]",
                diff,
                _p(row["p_vs_full"]),
                str(row["n_seeds"]),
            ]
        )
    return rows


def verdict(report: dict[str, Any]) -> str:
    """One sentence: flagged or not, with the figures the rule read."""
    s, settings = report["summary"], report["settings"]
    metric = settings["metric"]
    figures = (
        f"lung-hidden {metric} {_num(s['lung_hidden'])} (95% CI {_num(s['lung_hidden_ci_low'])}-"
        f"{_num(s['lung_hidden_ci_high'])}); chance {_num(s['chance'])}, bar {_num(s['bar'])}"
    )
    if s["flagged"]:
        return f"FLAGGED: the model scores far above chance with the lung field hidden ({figures})."
    return f"not flagged ({figures})."


def audit_markdown(reports: Iterable[dict[str, Any]]) -> str:
    parts = ["### Shortcut audit", ""]
    for report in reports:
        settings = report["settings"]
        mask = settings["mask"]
        parts.append(
            f"**{markdown_escape(report['model'])}** (seeds {', '.join(map(str, settings['seeds']))}; "
            f"{settings['metric']} "
            f"of the seed-averaged predictions, 95% CI; paired bootstrap test vs the full image). "
            f"Mask: rows {mask['rows'][0]:g}-{mask['rows'][1]:g}, columns {mask['cols'][0]:g}-{mask['cols'][1]:g} "
            f"of the image, fill {mask['fill']}. {verdict(report)}"
        )
        parts.append("")
        header = ["condition", f"{settings['metric']} [95% CI]", "difference vs full [95% CI]", "p", "seeds"]
        parts.append(markdown_table(pd.DataFrame(_table_rows(report), columns=header)).rstrip("\n"))
        parts.append("")
    parts.append(f"Rule: {next(iter([r['settings']['flag_rule'] for r in reports]), '')}.")
    return "\n".join(parts) + "\n"


def audit_text(report: dict[str, Any]) -> str:
    """``benchmark audit``'s terminal summary."""
    lines = [f"shortcut audit: task {report['task']} ({report['task_hash'][:12]}), model {report['model']}"]
    for cells in _table_rows(report):
        condition, value, diff, p, seeds = cells
        lines.append(f"  {condition:<18} {value:<26} diff {diff:<28} p {p:<7} seeds {seeds}")
    lines.append("  " + verdict(report))
    return "\n".join(lines)


def export_row(report: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    return {"model": report["model"], **row, "flagged": report["summary"]["flagged"]}


def export_section(results: Any, standings: Any, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """``benchmark export``'s audit section: the audit rows and flag of each model audited on the task (at the
    standings' task hash); None when no audit report exists for it."""
    reports = task_audits(results, standings.task_name, standings.task_hash)
    if not reports:
        return None
    rows = [export_row(report, row) for report in reports for row in report["rows"]]
    return audit_markdown(reports), rows
