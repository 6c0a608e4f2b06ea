"""What keeps the results store honest: reads checked against the record, seeds told apart by their
scores, one writer at a time, and what a killed writer left behind cleared away.

- Every file of a run directory is read back through ``read_verified``: its bytes are hashed and
  compared with the sha256 the run's record holds for it (``RunRecord.files``, written when the run
  was published), then parsed from those same bytes, so what is checked is what is used. A missing,
  unreadable, replaced or truncated file raises ``RunDamagedError`` naming the run, the file, both
  digests and what to do. Records written before ``files`` existed have no digests: their files are
  still checked for being present and readable, and the test predictions for having ``n_test`` rows.
- Two seeds of one entry whose test scores agree within ``SCORE_TOLERANCE`` on every image are one
  model's predictions counted twice (the same table saved again, re-encoded or with its columns or
  rows reordered), never two trained models: ``score_difference`` matches rows by image id and
  columns by name, so the file's encoding and order do not matter.
- ``store_lock`` is an exclusive ``flock`` on a file in the results root, held by a publish across
  its checks and its rename, so two processes cannot both record one (entry, seed).
- A staging folder's name carries the pid and host of the process that made it
  (``.tmp-<run id>~<pid>@<host>``); ``stale_staging`` finds those whose process is gone, or that are
  older than ``STALE_STAGING_S`` whatever their owner.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow

from benchmark.errors import RunDamagedError
from benchmark.metrics.predictions import SCORE_PREFIX
from benchmark.results.record import RunRecord

# Largest |score difference| at which two runs' test scores count as the same predictions. Trained
# seeds differ by far more on at least one image; the same table re-saved differs by 0, by float32
# rounding (~1e-7), or by rounding to 4 or more decimals (<= 5e-5).
SCORE_TOLERANCE = 1e-4
LOCK_FILE = ".store.lock"
STAGING_PREFIX = ".tmp-"
STALE_STAGING_S = 6 * 3600  # a publish stages for seconds; a staging folder this old is abandoned
_OWNER = re.compile(r"~(\d+)@([A-Za-z0-9._-]+)$")
_held = threading.local()  # roots whose lock this thread holds (the lock is re-entrant per thread)


def damage_message(record: RunRecord, path: Path, problem: str) -> str:
    """What a ``RunDamagedError`` says: the run, the file, the problem, and what to do."""
    run = record.run_id
    return (
        f"run {run}: {path} {problem}; its numbers cannot be trusted until this is fixed: restore the file, "
        f"re-run it (`benchmark reproduce {run}` records a new run from the same inputs), or move the folder "
        f"{path.parent.name} out of the results directory"
    )


def read_verified(run_dir: Path, record: RunRecord, name: str) -> bytes:
    """The bytes of ``run_dir/name``, checked against the sha256 ``record.files`` holds for it."""
    path = run_dir / name
    expected = None if record.files is None else record.files.get(name)
    if record.files is not None and expected is None:
        listed = sorted(record.files)
        raise RunDamagedError(damage_message(record, path, f"is not one of the files its record lists ({listed})"))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RunDamagedError(damage_message(record, path, "is missing")) from None
    except OSError as exc:
        raise RunDamagedError(damage_message(record, path, f"cannot be read ({type(exc).__name__}: {exc})")) from exc
    if expected is not None:
        found = hashlib.sha256(data).hexdigest()
        if found != expected:
            problem = f"has sha256 {found}, but its record holds {expected} (the file was replaced or damaged)"
            raise RunDamagedError(damage_message(record, path, problem))
    return data


def read_table(run_dir: Path, record: RunRecord, name: str, rows: int | None = None) -> pd.DataFrame:
    """A verified parquet file of the run as a table; ``rows``: the number of rows it must have."""
    data = read_verified(run_dir, record, name)
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        problem = f"is not a readable parquet file ({type(exc).__name__}: {exc})"
        raise RunDamagedError(damage_message(record, run_dir / name, problem)) from exc
    if rows is not None and len(frame) != rows:
        problem = f"has {len(frame)} rows, but its record scored {rows} test images"
        raise RunDamagedError(damage_message(record, run_dir / name, problem))
    return frame


def has_file(run_dir: Path, record: RunRecord, name: str) -> bool:
    """Whether the run has the file: listed in its record, or (a record without digests) present."""
    return name in record.files if record.files is not None else (run_dir / name).is_file()


def score_difference(a: pd.DataFrame, b: pd.DataFrame) -> float | None:
    """The largest |difference| between the scores of two Predictions tables of the same images (rows
    matched by ``image_id``, columns by name, in any order); None when their images or labels differ."""
    columns = sorted(str(c) for c in a.columns if str(c).startswith(SCORE_PREFIX))
    if not columns or columns != sorted(str(c) for c in b.columns if str(c).startswith(SCORE_PREFIX)):
        return None
    if "image_id" not in a.columns or "image_id" not in b.columns:
        return None
    left, right = a.set_index("image_id")[columns], b.set_index("image_id")[columns]
    if not (left.index.is_unique and right.index.is_unique) or set(left.index) != set(right.index):
        return None
    x = left.to_numpy(dtype=np.float64)
    y = right.loc[left.index].to_numpy(dtype=np.float64)
    both_missing = np.isnan(x) & np.isnan(y)
    gaps = np.where(both_missing, 0.0, np.nan_to_num(np.abs(x - y), nan=np.inf))
    return float(gaps.max()) if gaps.size else 0.0


@contextmanager
def store_lock(root: Path) -> Iterator[None]:
    """An exclusive lock on the results folder ``root`` (``flock`` on ``root/.store.lock``; created with
    the folder). Re-entrant within a thread; other threads and processes wait for it."""
    key = str(Path(root).resolve())
    held: set[str] = _held.__dict__.setdefault("roots", set())
    if key in held:
        yield
        return
    Path(root).mkdir(parents=True, exist_ok=True)
    with open(Path(root) / LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "host"


def staging_name(run_id: str) -> str:
    """The staging folder name of ``run_id`` for this process: ``.tmp-<run id>~<pid>@<host>``."""
    return f"{STAGING_PREFIX}{run_id}~{os.getpid()}@{_host()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def stale_staging(root: Path, now: float | None = None) -> list[tuple[Path, str]]:
    """Staging folders under ``root`` no publish will finish, each with why: its process (on this
    host) is gone, or it is older than STALE_STAGING_S (older names carry no owner)."""
    now = time.time() if now is None else now
    stale = []
    for path in sorted(Path(root).glob(f"{STAGING_PREFIX}*")):
        try:
            age = now - path.stat().st_mtime
        except OSError:  # removed meanwhile
            continue
        owner = _OWNER.search(path.name)
        if owner and owner.group(2) == _host() and not _alive(int(owner.group(1))):
            stale.append((path, f"its process {owner.group(1)} is gone"))
        elif age > STALE_STAGING_S:
            stale.append((path, f"it is {age / 3600:.1f} h old"))
    return stale
