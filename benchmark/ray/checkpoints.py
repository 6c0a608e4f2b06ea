"""Fit's checkpoint through Ray: reported to Ray after every epoch, restored when Ray restarts a run.

``fit`` writes its full training state after every epoch; resuming from it replays exactly what
an uninterrupted run does. Every Ray path reuses that file:

* a sweep task resumes from the run's own work dir (``<results>/.work/<run key>/``) when Ray
  retries it after its worker died (``max_retries``), and when a stopped sweep is started again
  (see :func:`benchmark.ray.sweep.execute_on_worker`);
* a data-parallel run and a tuning trial report the same file to Ray as their Checkpoint
  after every epoch (:func:`epoch_reporter`), and a restarted worker group or trial
  (``FailureConfig(max_failures)``) gets it back from ``ray.train.get_checkpoint()`` /
  ``ray.tune.get_checkpoint()`` (:func:`restore`). Ray keeps it in its storage (shared storage
  on a cluster), so a worker restarted on another node, or every rank of a DDP group, resumes
  from the same state, which a node-local file cannot give.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.results.store import RESUME_FILE, ResultsDir
from benchmark.training.loop import EpochHook
from benchmark.training.runner import RunRequest, request_key


def epoch_reporter(report: Callable[..., None], checkpoint_class: type) -> EpochHook:
    """An ``on_epoch`` hook reporting each epoch's scores, with fit's checkpoint file as the Ray Checkpoint."""

    def on_epoch(epoch: int, row: dict[str, float], checkpoint: Path | None) -> None:
        saved = checkpoint_class.from_directory(str(checkpoint.parent)) if checkpoint is not None else None
        report(dict(row), checkpoint=saved)

    return on_epoch


def restore(checkpoint: Any, request: RunRequest) -> bool:
    """Put the last reported checkpoint where ``fit`` resumes from (the request's work dir);
    False when Ray has none (a first attempt)."""
    if checkpoint is None:
        return False
    work = ResultsDir(Path(request.results)).work_dir(request_key(request))
    work.mkdir(parents=True, exist_ok=True)
    with checkpoint.as_directory() as folder:
        shutil.copyfile(Path(folder) / RESUME_FILE, work / RESUME_FILE)
    return True
