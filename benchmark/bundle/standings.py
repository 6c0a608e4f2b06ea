"""The bundle's standings, rendered from the bundled runs alone: export writes them, verify renders them
again from the bundled records and prediction files and compares byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.bundle.errors import BundleMismatchError
from benchmark.results.export import render_standings
from benchmark.results.standings import Standings, task_standings
from benchmark.results.store import ResultsDir
from benchmark.tasks import Task

# member path -> benchmark.results.export format
STANDINGS_FILES = {
    "standings/standings.md": "markdown",
    "standings/standings.json": "json",
    "standings/standings.csv": "csv",
}
OPTION_NAMES = ("metric", "test", "correction", "n_resamples", "seed", "alpha")  # `benchmark export`'s options


def bundle_standings(runs_root: Path, task: Task, options: dict[str, Any]) -> Standings:
    """The standings of the runs under ``runs_root`` (a folder of run folders, read-only) with the export's
    comparison ``options``; the task's label subsets come from the bundled task file, not the installed one."""
    compare = {k: v for k, v in options.items() if k != "metric"}
    standings = task_standings(
        ResultsDir(runs_root, read_only=True),
        task.name,
        task.task_hash,
        options.get("metric"),
        subsets=task.macro_subsets,
        **compare,
    )
    if standings.damaged:
        damaged = "; ".join(f"{run_id}: {why}" for run_id, why in standings.damaged)
        raise BundleMismatchError(f"the bundled runs of {task.name} cannot all be read: {damaged}")
    return standings


def rendered(standings: Standings) -> dict[str, str]:
    """Each standings member's text."""
    return {path: render_standings(standings, fmt) for path, fmt in STANDINGS_FILES.items()}
