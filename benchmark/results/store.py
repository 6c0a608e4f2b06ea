"""Run directories: ``<results>/<run_id>/`` with record.json, predictions.parquet, best checkpoint.

A run directory appears only complete: it is assembled under a temporary name and renamed
into place, so an interrupted or failed run leaves no record behind. After the rename the run is
added to the SQLite index (``benchmark.results.index``), which lists and queries runs; the run
directories stay the truth, and an index that is missing or lists other directories than the
results root holds is rebuilt from them before it is read. Opened with ``read_only=True`` (the
leaderboard), nothing is ever written: the index is read without locks or side files when it is in
step with the run directories, else the run records are read instead.

What the store guarantees (``benchmark.results.integrity``):

- Every file read back from a run directory is checked against the sha256 its record holds
  (``read_predictions``, ``load_predictions``, ``run_file_bytes``): a missing, replaced or damaged
  file raises ``RunDamagedError``; nothing else in the code base reads a run's files directly.
- A publish holds an exclusive lock on the folder across its checks and its rename. A run that is
  not a reproduction is refused (``DuplicateRunError``, nothing written) when its entry already has
  a run of its seed, or a run whose test scores equal its own (``SCORE_TOLERANCE``): seeds are told
  apart by content, not by file bytes. A reproduction (``record.reproduces``, written by
  ``benchmark reproduce``) is exempt: it is recorded beside the run it repeats, and the standings
  never count it as a seed.
- The index is a cache: one SQLite calls damaged is moved aside (``index.sqlite3.damaged-<time>``)
  and rebuilt, with a warning. A folder whose record.json is unreadable, or holds another run's
  record (a copied or renamed run folder), is named in a warning and left out, never fatal to the
  others; the index keeps it in its ``unlisted`` table so ``benchmark index`` reports it.
- Staging folders left by a publish that was killed are removed on the next write.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from benchmark.errors import (
    ConfigError,
    DuplicateRunError,
    ReadOnlyStoreError,
    RecordError,
    RunDamagedError,
    RunNotFoundError,
)
from benchmark.results.entries import Entry, entry_key, group_entries
from benchmark.results.index import ALL_RUNS, INDEX_FILE, IndexedRun, RunFilter, RunIndex, UnlistedFolder, is_damaged
from benchmark.results.integrity import (
    SCORE_TOLERANCE,
    has_file,
    read_table,
    read_verified,
    score_difference,
    staging_name,
    stale_staging,
    store_lock,
)
from benchmark.results.record import RECORD_FILE, PredictionsSubmission, RunRecord

log = logging.getLogger(__name__)

DEFAULT_RESULTS = Path("results")  # the results folder of every command and the leaderboard unless told otherwise
PREDICTIONS_FILE = "predictions.parquet"
VAL_PREDICTIONS_FILE = "val_predictions.parquet"  # what thresholds were chosen on
CHECKPOINT_FILE = "best_model.pt"
WORK_DIR = ".work"
RESUME_FILE = "checkpoint.pt"  # the last epoch's training state, in the run's work dir
DAMAGED_INDEX_SUFFIX = ".damaged-"  # index.sqlite3.damaged-<UTC time>: a damaged index moved aside
_T = TypeVar("_T")


@dataclass(frozen=True)
class ResultsDir:
    root: Path
    read_only: bool = False  # True: never write (no index rebuild, no staging, no publishing)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        _check_root(self.root)

    def _check_writable(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(f"cannot {action}: {self.root} was opened read-only")

    def work_dir(self, run_key: str) -> Path:
        """Where an unfinished run keeps its checkpoint, so ``--resume`` can find it."""
        return self.root / WORK_DIR / run_key

    @contextmanager
    def lock(self) -> Iterator[None]:
        """The folder's exclusive write lock (``benchmark.results.integrity.store_lock``)."""
        self._check_writable("lock the results folder")
        with store_lock(self.root):
            yield

    def staging_dir(self, run_id: str) -> Path:
        """A new folder to assemble ``run_id`` in (named for this process); stale ones are removed first."""
        self._check_writable("stage a run")
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_stale_staging()
        path = self.root / staging_name(run_id)
        path.mkdir(exist_ok=False)
        return path

    def remove_stale_staging(self) -> list[Path]:
        """Remove the staging folders of publishes that were killed midway (``stale_staging``); returns them."""
        self._check_writable("remove stale staging folders")
        removed = []
        for path, why in stale_staging(self.root):
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                log.warning("removed %s, left by a publish that did not finish (%s)", path, why)
                removed.append(path)
        return removed

    def publish(self, staging: Path, record: RunRecord) -> Path:
        """Rename the staged run into place, then list it in the index. Under the folder's lock, so that
        the checks (``check_new_run``) and the rename are one step for concurrent publishers."""
        self._check_writable("publish a run")
        final = self.root / record.run_id
        with self.lock():
            self.check_new_run(staging, record)
            if final.exists():
                raise DuplicateRunError(f"{final} already exists: run id {record.run_id} is taken; nothing was written")
            os.replace(staging, final)
            try:
                self._guarded(lambda: RunIndex(self.index_path).add(IndexedRun.from_record(record, final.name)))
            except sqlite3.Error as exc:  # the run is published; the next read rebuilds the index from the run dirs
                log.warning("run %s is written but the index %s was not updated (%s)", final.name, self.index_path, exc)
        return final

    def check_new_run(self, staging: Path, record: RunRecord) -> None:
        """Refuse (DuplicateRunError) a run whose entry already has a run of its seed, or a run whose test
        scores equal its own within SCORE_TOLERANCE. Reproductions are exempt (see the module docstring).
        Publish calls this under the lock; alone it is an early check that a race can still pass."""
        if record.reproduces is not None:
            return
        seeds = self._entry_seed_runs(record)
        same_seed = next((r for r in seeds if r.seed == record.seed), None)
        if same_seed is not None:
            raise DuplicateRunError(
                f"run {record.run_id}: {_entry_name(record)} already has run {same_seed.run_id} of seed "
                f"{record.seed}; each seed of an entry is recorded once. Train another seed, or re-run that run "
                f"with `benchmark reproduce {same_seed.run_id}` (recorded as a reproduction); nothing was written"
            )
        if seeds:
            self._check_new_scores(staging, record, seeds)

    def _entry_seed_runs(self, record: RunRecord) -> list[RunRecord]:
        """The records of the runs counted as seeds of ``record``'s entry (reproductions are not)."""
        found = []
        for row in self.query(RunFilter(entry_key=entry_key(record))):
            if row.run_id == record.run_id:
                continue
            try:
                other = self.load_record(row.run_id)
            except RecordError as exc:
                log.warning("not comparing run %s with run %s: %s", record.run_id, row.run_id, exc)
                continue
            if other.reproduces is None:
                found.append(other)
        return found

    def _check_new_scores(self, staging: Path, record: RunRecord, seeds: list[RunRecord]) -> None:
        new = read_table(staging, record, PREDICTIONS_FILE, record.n_test)
        for other in seeds:
            try:
                theirs = self.read_predictions(other)
            except RunDamagedError as exc:
                log.warning("not comparing run %s with run %s: %s", record.run_id, other.run_id, exc)
                continue
            difference = score_difference(new, theirs)
            if difference is not None and difference <= SCORE_TOLERANCE:
                raise DuplicateRunError(
                    f"run {record.run_id} (seed {record.seed}) has the test scores of run {other.run_id} (seed "
                    f"{other.seed}) of the same entry, {_entry_name(record)}: every score within {SCORE_TOLERANCE:g} "
                    f"(largest difference {difference:.3g}), matched by image id. Seeds of an entry are separately "
                    "trained models; one model's predictions saved again are not a new seed. Nothing was written"
                )

    def recorded_submission(
        self, task_hash: str, model_name: str, seed: int, sha256: str | None
    ) -> tuple[IndexedRun, str | None] | None:
        """An earlier run of a predictions submission of ``model_name`` on the task with this seed, or made
        from the file of this sha256 under another seed, with that file's recorded sha256; None when
        there is none. An early check, before scoring: publish repeats it by content, under the lock."""
        for run in self.query(RunFilter(task_hash=task_hash, model=model_name)):
            try:
                recorded = self.load_record(run.run_id)
            except RecordError as exc:
                log.warning("not comparing with run %s: %s", run.run_id, exc)
                continue
            if recorded.reproduces is not None:
                continue
            submission = recorded.submission
            recorded_sha = submission.sha256 if isinstance(submission, PredictionsSubmission) else None
            if run.seed == seed or (sha256 is not None and recorded_sha == sha256):
                return run, recorded_sha
        return None

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_FILE

    def index(self) -> RunIndex:
        """The index, rebuilt first if it is missing, damaged, or does not list exactly the run directories
        (less those it records as unlisted, unchanged since)."""
        self._check_writable("open the index for writing")
        index = RunIndex(self.index_path)
        paths, unlisted = self._guarded(lambda: (index.paths(), index.unlisted()))
        if not self._in_step(paths, unlisted, self.run_dirs()):
            log.info("index %s is missing or stale; rebuilding it from the run directories", self.index_path)
            self.rebuild_index()
        return index

    def rebuild_index(self) -> int:
        """Recreate the index from the run directories; returns the number of runs listed. Folders that
        hold no listable run are named in warnings and recorded as unlisted (``unlisted``)."""
        self._check_writable("rebuild the index")
        self.root.mkdir(parents=True, exist_ok=True)

        def scan() -> list[IndexedRun | UnlistedFolder]:
            runs, unlisted = self._scan(self.run_dirs())
            return [*runs, *unlisted]

        return self._guarded(lambda: RunIndex(self.index_path).replace_all(scan))

    def unlisted(self) -> list[UnlistedFolder]:
        """Folders with a record.json that the index does not list, and why (after bringing it in step)."""
        if not self.root.is_dir():
            return []
        if self.read_only:
            return self._listing_read_only()[1]
        return self._guarded(lambda: self.index().unlisted())

    def check_index(self) -> str:
        """SQLite's integrity check of the index; a damaged one is moved aside and rebuilt. Returns ``ok``
        or the damage found (then set aside)."""
        self._check_writable("check the index")
        try:
            verdict = RunIndex(self.index_path).integrity_check()
        except sqlite3.DatabaseError as exc:
            if not is_damaged(exc):
                raise
            verdict = str(exc)
        if verdict != "ok":
            self._set_aside_index(verdict)
            self.rebuild_index()
        return verdict

    def _guarded(self, operation: Callable[[], _T]) -> _T:
        """``operation()`` on the index; when SQLite finds the file damaged, it is moved aside and the
        operation runs once more on a fresh one (which the caller's staleness check then fills)."""
        try:
            return operation()
        except sqlite3.DatabaseError as exc:
            if not is_damaged(exc):
                raise
            self._set_aside_index(f"{type(exc).__name__}: {exc}")
            return operation()

    def _set_aside_index(self, problem: str) -> None:
        """Move a damaged index (and its -wal/-shm files) to ``index.sqlite3.damaged-<UTC time>``, under the
        folder's lock, unless another process already replaced it with a sound one."""
        with self.lock():
            if self._index_sound():
                return
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            aside = self.index_path.with_name(f"{INDEX_FILE}{DAMAGED_INDEX_SUFFIX}{stamp}")
            for suffix in ("", "-wal", "-shm"):
                source = self.index_path.with_name(INDEX_FILE + suffix)
                if source.exists():
                    os.replace(source, aside.with_name(aside.name + suffix))
            log.warning(
                "the results index %s is damaged (%s): moved aside to %s and rebuilt from the run directories "
                "(the index is a cache; nothing is lost; delete the moved file when done with it)",
                self.index_path,
                problem,
                aside,
            )

    def _index_sound(self) -> bool:
        if not self.index_path.is_file():
            return True  # gone (another process moved it aside): the next open makes a fresh one
        try:
            return RunIndex(self.index_path).integrity_check() == "ok"
        except sqlite3.DatabaseError as exc:
            if is_damaged(exc):
                return False
            raise

    def _in_step(self, paths: set[str], unlisted: list[UnlistedFolder], dirs: list[Path]) -> bool:
        """Whether the index lists exactly ``dirs``, less the unlisted folders whose record is unchanged."""
        names = {p.name for p in dirs}
        known = {u.path: u.stamp for u in unlisted}
        if paths & known.keys() or paths | known.keys() != names:
            return False
        return all(_stamp(self.root / name) == stamp for name, stamp in known.items())

    def _scan(self, dirs: list[Path]) -> tuple[list[IndexedRun], list[UnlistedFolder]]:
        """Each run directory's index row, reading its record; those that hold no listable run apart, each
        named in a warning: an unreadable record, or the record of another run (a copied or renamed folder)."""
        runs, unlisted = [], []
        for path in dirs:
            stamp = _stamp(path)
            try:
                record = self._read_record(path)
            except RecordError as exc:
                unlisted.append(UnlistedFolder(path.name, str(exc), stamp))
                continue
            if record.run_id != path.name:
                reason = (
                    f"folder {path} holds the record of run {record.run_id}: a copied or renamed run folder, "
                    f"not listed (it would count that run twice); remove the copy, or rename the folder to "
                    f"{record.run_id} if that run's own folder is gone"
                )
                unlisted.append(UnlistedFolder(path.name, reason, stamp))
                continue
            runs.append(IndexedRun.from_record(record, path.name))
        for folder in unlisted:
            log.warning("not listing %s: %s", self.root / folder.path, folder.reason)
        return runs, unlisted

    def query(self, where: RunFilter = ALL_RUNS) -> list[IndexedRun]:
        """Indexed runs matching every filter of ``where``, oldest first (none when the root does not exist)."""
        if not self.root.is_dir():
            return []
        if self.read_only:
            return where.select(self._runs_read_only())
        return self._guarded(lambda: self.index().query(where))

    def _runs_read_only(self) -> list[IndexedRun]:
        return self._listing_read_only()[0]

    def _listing_read_only(self) -> tuple[list[IndexedRun], list[UnlistedFolder]]:
        """Every run and unlisted folder, from the index when it lists exactly the run directories, else
        from their records (read, never written)."""
        dirs = self.run_dirs()
        listing = RunIndex(self.index_path).snapshot_listing()
        if listing is not None:
            rows, unlisted = listing
            paths = [r.path for r in rows]
            if len(paths) == len(set(paths)) and self._in_step(set(paths), unlisted, dirs):
                return rows, unlisted
        if listing is not None:  # a folder without an index (the shipped reference board) is normal: no message
            log.info("index %s is stale; reading the %d run records instead", self.index_path, len(dirs))
        return self._scan(dirs)

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

    def load_predictions(self, run_id: str, split: str = "test") -> pd.DataFrame:
        """The run's test (or ``split="val"``) Predictions table, checked against its record
        (``read_predictions``); RunDamagedError when missing, unreadable or not the file recorded."""
        run_dir = self.find(run_id)
        return predictions_in(run_dir, self._read_record(run_dir), split)

    def read_predictions(self, record: RunRecord, split: str = "test") -> pd.DataFrame:
        """The Predictions table of a run whose record is loaded, checked against the sha256 the record
        holds (and, for the test split, against its ``n_test`` rows)."""
        return predictions_in(self.find(record.run_id), record, split)

    def val_predictions(self, record: RunRecord) -> pd.DataFrame | None:
        """The run's validation Predictions table (checked), or None when the run has none."""
        return val_predictions_in(self.find(record.run_id), record)

    def run_file_bytes(self, record: RunRecord, name: str) -> bytes:
        """A file of the run as stored, checked against its record (``read_verified``)."""
        return read_verified(self.find(record.run_id), record, name)


def predictions_in(run_dir: Path, record: RunRecord, split: str = "test") -> pd.DataFrame:
    """The test (or val) Predictions table of the run in ``run_dir`` with record ``record``, checked against
    the sha256 the record holds (and, for the test split, against its ``n_test`` rows)."""
    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', got {split!r}")
    name, rows = (PREDICTIONS_FILE, record.n_test) if split == "test" else (VAL_PREDICTIONS_FILE, None)
    return read_table(run_dir, record, name, rows)


def val_predictions_in(run_dir: Path, record: RunRecord) -> pd.DataFrame | None:
    """The validation Predictions table of the run in ``run_dir`` (checked), or None when it has none."""
    return predictions_in(run_dir, record, "val") if has_file(run_dir, record, VAL_PREDICTIONS_FILE) else None


def _check_root(root: Path) -> None:
    """A results root must be a folder, or not exist yet (under an existing folder): else ConfigError."""
    for path in (root, *root.parents):
        if path.exists():
            if not path.is_dir():
                what = "the results folder" if path == root else f"the results folder {root} lies under it"
                raise ConfigError(
                    f"{path} is a file, not a folder ({what}): pass --results the results folder (default ./results)"
                )
            return


def _stamp(run_dir: Path) -> str:
    """Size and modification time of the folder's record.json: what tells a re-read unlisted folder apart."""
    try:
        stat = (run_dir / RECORD_FILE).stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _entry_name(record: RunRecord) -> str:
    return f"the entry of {record.model.name} on task {record.task.name} (task hash {record.task.hash[:12]})"


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
