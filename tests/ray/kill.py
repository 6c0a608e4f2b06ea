"""Test-only: a training process that SIGKILLs itself at a chosen step, to test resuming.

The kill is a real ``SIGKILL`` of the real training process (a Ray worker, or a ``benchmark run``
subprocess), sent from inside it at a given (epoch, batch) of the loop's ``on_batch`` hook: the
point of death is the same on every machine, with no polling or sleeping for the right moment.

``python -m tests.ray.kill <benchmark arguments>`` is the ``benchmark`` command with that hook on
``benchmark run``: ``KILL_AT_ENV`` ("epoch,batch") says where its process dies.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

KILL_AT_ENV = "CXRBENCH_TEST_KILL_AT"


class KillOnce:
    """An ``on_batch`` hook: at (``epoch``, ``batch``) of the first attempt it leaves ``marker`` (its
    process id) and SIGKILLs its own process; a retry finds the marker and trains through (without a
    marker it kills at that point every time). Epoch 0's checkpoint is written before epoch 1
    starts, so the default point leaves one to resume from. With ``ray_train`` it first waits until
    Ray Train has committed the epochs reported so far (reports are registered asynchronously), so
    the restarted worker gets the last one back."""

    def __init__(self, marker: Path | None, epoch: int = 1, batch: int = 0, ray_train: bool = False) -> None:
        self.marker, self.at, self.ray_train = marker, (epoch, batch), ray_train

    def __call__(self, epoch: int, batch: int) -> None:
        if (epoch, batch) != self.at or (self.marker is not None and self.marker.exists()):
            return
        if self.ray_train:
            import ray.train

            ray.train.get_all_reported_checkpoints(ray.train.CheckpointConsistencyMode.COMMITTED)
        if self.marker is not None:
            partial = self.marker.with_name(self.marker.name + ".part")
            partial.write_text(str(os.getpid()))
            partial.rename(self.marker)
        os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    """``benchmark`` with ``argv``; a run it starts is killed at ``$CXRBENCH_TEST_KILL_AT``."""
    import benchmark.training.runner as runner
    from benchmark.cli import main as cli

    epoch, batch = (int(part) for part in os.environ[KILL_AT_ENV].split(","))
    hook = KillOnce(None, epoch, batch)
    run_benchmark = runner.run_benchmark

    def killed_at_hook(request: runner.RunRequest) -> Path:
        return run_benchmark(replace(request, on_batch=hook))

    runner.run_benchmark = killed_at_hook  # the command imports it from the module when it runs
    return cli(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
