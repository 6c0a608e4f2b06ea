"""Run directories: ``<results>/<run_id>/`` with record.json, predictions.parquet, best checkpoint.

A run directory appears only complete: it is assembled under a temporary name and renamed
into place, so an interrupted or failed run leaves no record behind. After the rename the run is
added to the SQLite index (``benchmark.results.index``), which lists and queries runs; the run
directories stay the truth, and an index that is missing or lists other directories than the
results root holds is rebuilt from them before it is read. Opened with ``read_only=True`` (the
leaderboard), nothing is ever written: the index is read without locks or side files when it is in
step with the run directories, else the run records are read instead.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.errors import ReadOnlyStoreError, RunNotFoundError
from benchmark.results.entries import Entry, group_entries
from benchmark.results.index import ALL_RUNS, INDEX_FILE, IndexedRun, RunFilter, RunIndex
from benchmark.results.record import RECORD_FILE, RunRecord

log = logging.getLogger(__name__)

DEFAULT_RESULTS = Path("results")  # the results folder of every command and the leaderboard unless told otherwise
PREDICTIONS_FILE = "predictions.parquet"
VAL_PREDICTIONS_FILE = "val_predictions.parquet"  # what thresholds were chosen on
CHECKPOINT_FILE = "best_model.pt"
WORK_DIR = ".work"
RESUME_FILE = "checkpoint.pt"  # the last epoch's training state, in the run's work dir


@dataclass(frozen=True)
class ResultsDir:
    root: Path
    read_only: bool = False  # True: never write (no index rebuild, no staging, no publishing)

    def _check_writable(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(f"cannot {action}: {self.root} was opened read-only")

    def work_dir(self, run_key: str) -> Path:
        """Where an unfinished run keeps its checkpoint, so ``--resume`` can find it."""
        return self.root / WORK_DIR / run_key

    def staging_dir(self, run_id: str) -> Path:
        self._check_writable("stage a run")
        path = self.root / f".tmp-{run_id}"
        path.mkdir(parents=True, exist_ok=False)
        return path

    def publish(self, staging: Path, record: RunRecord) -> Path:
        """Rename the staged run into place, then list it in the index."""
        self._check_writable("publish a run")
        final = self.root / record.run_id
        os.replace(staging, final)
        try:
            RunIndex(self.index_path).add(IndexedRun.from_record(record, final.name))
        except sqlite3.Error as exc:  # the run is published; the next read rebuilds the index from the run dirs
            log.warning("run %s is written but the index %s was not updated (%s)", final.name, self.index_path, exc)
        return final

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_FILE

    def index(self) -> RunIndex:
        """The index, rebuilt first if it is missing or does not list exactly the run directories."""
        self._check_writable("open the index for writing")
        index = RunIndex(self.index_path)
        if index.paths() != {p.name for p in self.run_dirs()}:
            log.info("index %s is missing or stale; rebuilding it from the run directories", self.index_path)
            self.rebuild_index()
        return index

    def rebuild_index(self) -> int:
        """Recreate the index from the run directories; returns the number of runs listed."""
        self._check_writable("rebuild the index")
        self.root.mkdir(parents=True, exist_ok=True)
        return RunIndex(self.index_path).replace_all(
            lambda: [IndexedRun.from_record(self._read_record(p), p.name) for p in self.run_dirs()]
        )

    def query(self, where: RunFilter = ALL_RUNS) -> list[IndexedRun]:
        """Indexed runs matching every filter of ``where``, oldest first (none when the root does not exist)."""
        if not self.root.is_dir():
            return []
        return where.select(self._runs_read_only()) if self.read_only else self.index().query(where)

    def _runs_read_only(self) -> list[IndexedRun]:
        """Every run, from the index when it lists exactly the run directories, else from their records."""
        dirs = self.run_dirs()
        rows = RunIndex(self.index_path).snapshot()
        if rows is not None and sorted(r.path for r in rows) == sorted(p.name for p in dirs):
            return rows
        log.info("index %s is missing or stale; reading the %d run records instead", self.index_path, len(dirs))
        return [IndexedRun.from_record(self._read_record(p), p.name) for p in dirs]

    def find_by_run_key(self, run_key: str) -> list[IndexedRun]:
        """Published runs with these inputs (task hash, model code, recipe, seed), oldest first."""
        return self.query(RunFilter(run_key=run_key))

    def entries(self, where: RunFilter = ALL_RUNS) -> list[Entry]:
        """The runs of ``where`` grouped into leaderboard entries (seeds of one task, model, code and recipe)."""
        return group_entries(self.query(where))

    def run_dirs(self) -> list[Path]:
        """The run directories; read-only, only those whose record and predictions resolve inside the root
        (a reader that serves files from the folder never follows a symlink out of it)."""
        if not self.root.is_dir():
            return []
        dirs = sorted(p for p in self.root.iterdir() if (p / RECORD_FILE).is_file() and not p.name.startswith("."))
        if not self.read_only:
            return dirs
        inside = [p for p in dirs if resolves_inside(self.root, p, p / RECORD_FILE, p / PREDICTIONS_FILE)]
        if len(inside) < len(dirs):
            outside = sorted({p.name for p in dirs} - {p.name for p in inside})
            log.warning("not reading %d run(s) that resolve outside %s: %s", len(outside), self.root, outside)
        return inside

    def records(self) -> list[RunRecord]:
        return [self._read_record(p) for p in self.run_dirs()]

    @staticmethod
    def _read_record(run_dir: Path) -> RunRecord:
        """The run's record, checked (``RunRecord.load``: a damaged one raises RecordError naming the file)."""
        return RunRecord.load(run_dir / RECORD_FILE)

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

    def load_record(self, run_id: str) -> RunRecord:
        return self._read_record(self.find(run_id))

    def load_predictions(self, run_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.find(run_id) / PREDICTIONS_FILE)


def resolves_inside(root: Path, *paths: Path) -> bool:
    """Whether every path, with symlinks and ``..`` resolved, lies inside ``root`` (readers that serve
    files from a results folder refuse anything else)."""
    resolved = Path(root).resolve()
    return all(Path(path).resolve().is_relative_to(resolved) for path in paths)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write(temporary)`` next to ``path``, then rename onto it: readers see the old file or the new one."""
    temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def recorded_run_keys(root: Path) -> set[str]:
    """The run keys of every run recorded under ``root`` (from the index): what a sweep skips."""
    return {run.run_key for run in ResultsDir(root).query()}
