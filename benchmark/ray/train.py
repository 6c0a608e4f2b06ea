"""Data-parallel runs under Ray Train: the plain runner on every rank of a TorchTrainer worker group."""

from __future__ import annotations

import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmark.ray.checkpoints import epoch_reporter, restore
from benchmark.ray.cluster import DEFAULT_RETRIES, checkpoint_storage, default_gpus, failure, portable
from benchmark.results.store import discard
from benchmark.training.ddp import World
from benchmark.training.runner import RunArtifacts, RunRequest, execute_run, publish_run, request_key, resolve


def run_distributed(
    request: RunRequest,
    workers: int,
    gpus_per_worker: float | None = None,
    cpus_per_worker: float = 1,
    max_failures: int = DEFAULT_RETRIES,
    storage: str | None = None,
) -> Path:
    """Train ``request`` with DDP on ``workers`` Ray Train workers (TorchTrainer: gloo on CPU, NCCL
    on GPU) and publish its record from the driver, with ``distributed`` added to it.

    A worker group that fails is restarted from the last reported epoch up to ``max_failures``
    times; with ``request.resume`` a run that was stopped continues from its last epoch.
    """
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig, TrainingFailedError
    from ray.train.torch import TorchTrainer

    _, _, recipe = resolve(request)
    World(0, workers).check_batch_size(recipe.batch_size)  # before any worker starts
    gpus = default_gpus(gpus_per_worker)
    request = portable(request, gpus)
    name, root = f"run-{request_key(request)}", checkpoint_storage(request, storage)
    if not request.resume:
        discard(Path(root) / name)  # Ray would otherwise continue a previous attempt of the same run
    resources = {"CPU": cpus_per_worker, **({"GPU": gpus} if gpus else {})}
    trainer = TorchTrainer(
        _train_worker,
        train_loop_config={"request": request, "distributed": {"workers": workers, "gpus_per_worker": gpus}},
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=bool(gpus), resources_per_worker=resources),
        run_config=RunConfig(
            name=name,
            storage_path=root,
            failure_config=FailureConfig(max_failures=max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
    )
    try:
        with _sigint_restored():
            result = trainer.fit()
    except TrainingFailedError as exc:
        hint = f"its last checkpoint stays under {root}/{name}: the same command with --resume continues it"
        raise failure(exc, f"training on {workers} worker(s)", hint) from exc
    if result.return_value is None:  # Ctrl-C: Ray Train aborted the run gracefully
        raise KeyboardInterrupt
    final = publish_run(result.return_value, Path(request.results))
    discard(Path(root) / name)
    return final


@contextmanager
def _sigint_restored() -> Iterator[None]:
    """Ray Train's fit installs its own Ctrl-C handler (abort the run) and leaves it installed;
    the previous handler comes back afterwards, so Ctrl-C raises KeyboardInterrupt again."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _train_worker(config: dict[str, Any]) -> RunArtifacts | None:
    """One rank of a data-parallel run: the plain runner, reporting every epoch to Ray Train."""
    import ray.train
    import ray.train.torch
    import torch.distributed as dist

    context = ray.train.get_context()
    scratch = Path(tempfile.mkdtemp(prefix=f"cxrbench-rank{context.get_world_rank()}-"))
    base: RunRequest = config["request"]
    distributed = {**config["distributed"], "world_size": context.get_world_size(), "backend": dist.get_backend()}
    request = replace(
        base,
        results=scratch,  # each rank its own copy of the checkpoint: rank 0 writes, every rank may restore
        device=ray.train.torch.get_device(),
        on_epoch=epoch_reporter(ray.train.report, ray.train.Checkpoint),
        extra={**base.extra, "distributed": distributed},
    )
    try:
        request.resume = restore(ray.train.get_checkpoint(), request)
        artifacts = execute_run(request)
    finally:
        discard(scratch)
    return artifacts if context.get_world_rank() == 0 else None
