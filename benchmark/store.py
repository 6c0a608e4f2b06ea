"""Run directories: ``<results>/<run_id>/`` with record.json, predictions.parquet, best checkpoint.

A run directory appears only complete: it is assembled under a temporary name and renamed
into place, so an interrupted or failed run leaves no record behind.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.errors import RunNotFoundError

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
PREDICTIONS_FILE = "predictions.parquet"
VAL_PREDICTIONS_FILE = "val_predictions.parquet"  # what thresholds were chosen on
CHECKPOINT_FILE = "best_model.pt"
WORK_DIR = ".work"
RESUME_FILE = "checkpoint.pt"  # the last epoch's training state, in the run's work dir


@dataclass(frozen=True)
class ResultsDir:
    root: Path

    def work_dir(self, run_key: str) -> Path:
        """Where an unfinished run keeps its checkpoint, so ``--resume`` can find it."""
        return self.root / WORK_DIR / run_key

    def staging_dir(self, run_id: str) -> Path:
        path = self.root / f".tmp-{run_id}"
        path.mkdir(parents=True, exist_ok=False)
        return path

    def publish(self, staging: Path, run_id: str) -> Path:
        final = self.root / run_id
        os.replace(staging, final)
        return final

    def run_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if (p / RECORD_FILE).is_file() and not p.name.startswith("."))

    def records(self) -> list[dict[str, Any]]:
        return [json.loads((p / RECORD_FILE).read_text()) for p in self.run_dirs()]

    def find(self, run_id: str) -> Path:
        path = self.root / run_id
        if not (path / RECORD_FILE).is_file():
            matches = [p for p in self.run_dirs() if p.name.startswith(run_id)]
            if len(matches) != 1:
                raise RunNotFoundError(
                    f"no run {run_id!r} under {self.root} ({len(matches)} prefix matches); `benchmark runs` lists them"
                )
            path = matches[0]
        return path

    def load_record(self, run_id: str) -> dict[str, Any]:
        return json.loads((self.find(run_id) / RECORD_FILE).read_text())

    def load_predictions(self, run_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.find(run_id) / PREDICTIONS_FILE)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def recorded_run_keys(root: Path) -> set[str]:
    """The run keys of every run recorded under ``root``: what a sweep skips.

    The one place that asks the store which runs exist, so that it can move to an index.
    """
    return {record["run_key"] for record in ResultsDir(root).records() if "run_key" in record}
