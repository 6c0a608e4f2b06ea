"""The ranking page's shortcut-audit warning: shown when a `benchmark audit` report in the results folder
(or the reference folders) flags the task, with the figures; nothing otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from benchmark.audit.report import CONDITION_NAMES, task_audits, verdict
from benchmark.reference.board import with_reference
from leaderboard.components import md


def _figures(report: dict[str, Any]) -> str:
    parts = []
    for row in report["rows"]:
        name = CONDITION_NAMES.get(row["condition"], row["condition"])
        parts.append(f"{name} {row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]")
    return "; ".join(parts)


def flagged_audits(root: str | Path, task: str, task_hash: str) -> list[dict[str, Any]]:
    """The flagging audit reports of the task at this hash in ``root`` and the reference folders."""
    results = with_reference(Path(root), read_only=True)
    return [r for r in task_audits(results, task, task_hash) if r.get("summary", {}).get("flagged")]


def show(root: str | Path, standings: Any) -> None:
    """A warning per flagging audit of the page's task (at its task hash)."""
    for report in flagged_audits(root, standings.task_name, standings.task_hash):
        metric = report["settings"]["metric"]
        st.warning(
            f"**Shortcut audit: {md(report['model'])}** ({md(metric)}, 95% CI) — {md(_figures(report))}. "
            f"{md(verdict(report))} A model that never sees the lung field tells the classes apart: part of what "
            "this task's models score may come from the image border (markers, devices, the source hospital) "
            "rather than lung findings. `benchmark audit` wrote this report.",
            icon="⚠️",
        )
