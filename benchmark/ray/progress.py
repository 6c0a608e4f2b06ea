"""The live table of a sweep: one row per (task, model, seed) with its state and primary metric.

On a terminal the table is redrawn in place whenever a run changes state; elsewhere (CI, a
log file) each finished run is one log line, and the caller prints the final table once.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import TextIO

from benchmark.results.record import RunRecord

log = logging.getLogger(__name__)

RunLabel = tuple[str, str, int]  # task, model, seed


@dataclass
class _Row:
    state: str = "queued"
    result: str = ""


def primary_metric(record: RunRecord) -> str:
    """``auroc 0.9812 [0.9530, 0.9990]``: the task's primary metric with its 95% CI."""
    name = record.task.primary_metric
    metric = record.metrics[name]
    return f"{name} {metric.value:.4f} [{metric.ci_low:.4f}, {metric.ci_high:.4f}]"


class SweepTable:
    def __init__(self, labels: list[RunLabel], stream: TextIO | None = None) -> None:
        self.rows = {label: _Row() for label in labels}
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._drawn_lines = 0
        if self.live:
            self._draw()

    def update(self, label: RunLabel, state: str, result: str = "") -> None:
        self.rows[label] = _Row(state, result)
        if self.live:
            self._draw()
        elif state != "queued":
            task, model, seed = label
            log.info("%s %s seed %d: %s %s", task, model, seed, state, result)

    def counts(self) -> dict[str, int]:
        states: dict[str, int] = {}
        for row in self.rows.values():
            states[row.state] = states.get(row.state, 0) + 1
        return states

    def render(self) -> str:
        header = ("task", "model", "seed", "state", "primary metric [95% CI] / error")
        lines = [(task, model, str(seed), row.state, row.result) for (task, model, seed), row in self.rows.items()]
        widths = [max(len(line[i]) for line in [header, *lines]) for i in range(4)]
        text = [
            "  ".join(cell.ljust(width) for cell, width in zip(line[:4], widths, strict=True)) + "  " + line[4]
            for line in [header, *lines]
        ]
        summary = ", ".join(f"{n} {state}" for state, n in sorted(self.counts().items()))
        return "\n".join([*text, f"{len(lines)} runs: {summary}"])

    def _draw(self) -> None:
        text = self.render()
        if self._drawn_lines:  # back to the table's first line, clear to the end of the screen
            self.stream.write(f"\x1b[{self._drawn_lines}F\x1b[J")
        self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn_lines = text.count("\n") + 1
