"""Ray glue: data-parallel runs (Ray Train), sweeps (Ray tasks) and tuning (Ray Tune).

Ray wraps the one training loop and the one runner, it never forks them: a data-parallel
worker, a sweep task and a tuning trial all call ``benchmark.training.runner`` with hooks, and only
the driver (the process that called these functions) writes run records. Ray is imported
inside the functions, so importing this module costs nothing.

Checkpoints. ``fit`` writes its full training state after every epoch; resuming from it
replays exactly what an uninterrupted run does. Every path here reuses that file:

* a sweep task resumes from the run's own work dir (``<results>/.work/<run key>/``) when Ray
  retries it after its worker died (``max_retries``), and when a stopped sweep is started again;
* a data-parallel run and a tuning trial report the same file to Ray as their Checkpoint
  after every epoch, and a restarted worker group or trial (``FailureConfig(max_failures)``)
  gets it back from ``ray.train.get_checkpoint()`` / ``ray.tune.get_checkpoint()``. Ray keeps
  it in its storage (shared storage on a cluster), so a worker restarted on another node, or
  every rank of a DDP group, resumes from the same state, which a node-local file cannot give.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.errors import BenchmarkError, ConfigError, DistributedRunError
from benchmark.models.search_space import SearchSpace
from benchmark.ray.progress import RunLabel, SweepTable, primary_metric
from benchmark.results.store import RESUME_FILE, WORK_DIR, ResultsDir, discard, recorded_run_keys
from benchmark.training.ddp import World
from benchmark.training.loop import EpochHook
from benchmark.training.runner import (
    RunArtifacts,
    RunRequest,
    execute_run,
    publish_run,
    request_key,
    resolve,
    train_run,
)

log = logging.getLogger(__name__)

LOCAL_OBJECT_STORE_BYTES = 512 * 2**20  # run artifacts are MBs to a few hundred MBs; Ray spills larger ones
ENV_PREFIX = "CXRBENCH_"  # data root, cache, tasks folder: settings every worker must share with the driver
DEFAULT_RETRIES = 3


# --- the Ray session ---------------------------------------------------------------------------


def worker_env() -> dict[str, str]:
    """Environment of every Ray worker: this checkout first on PYTHONPATH, so workers import the
    same code as the driver, and the driver's CXRBENCH_* settings."""
    root = str(Path(__file__).resolve().parent.parent)
    paths = [root, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root)]
    return {**{k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}, "PYTHONPATH": os.pathsep.join(paths)}


@contextmanager
def ray_session(address: str | None = None) -> Iterator[None]:
    """Ray for one command: joins ``address`` (or ``$RAY_ADDRESS``), else starts Ray in-process with
    this machine's CPUs and no dashboard; shut down afterwards. An already initialised Ray is used as is."""
    import ray

    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS")
    runtime_env = {"env_vars": worker_env()}
    if address:
        ray.init(address=address, runtime_env=runtime_env)
    else:
        ray.init(
            num_cpus=os.cpu_count(),
            include_dashboard=False,
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            runtime_env=runtime_env,
        )
    try:
        yield
    finally:
        ray.shutdown()


def default_gpus(requested: float | None) -> float:
    """``requested``, or one GPU per run/worker when the cluster has GPUs and none otherwise."""
    if requested is not None:
        return requested
    import ray

    return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0


def _portable(request: RunRequest, gpus: float) -> RunRequest:
    """``request`` as a worker needs it: absolute paths (workers do not share the driver's working
    directory) and the CPU when the run gets no GPU."""
    return replace(
        request,
        results=Path(request.results).resolve(),
        data_root=str(Path(request.data_root).resolve()) if request.data_root else None,
        device=torch.device("cpu") if not gpus else request.device,
    )


def _storage(request: RunRequest, storage: str | None) -> str:
    """Where Ray keeps reported checkpoints: ``storage`` (shared storage on a cluster), else the work area."""
    return storage or str(Path(request.results).resolve() / WORK_DIR / "ray")


# --- checkpoints through Ray -------------------------------------------------------------------


def _epoch_reporter(report: Callable[..., None], checkpoint_class: type) -> EpochHook:
    """An ``on_epoch`` hook reporting each epoch's scores, with fit's checkpoint file as the Ray Checkpoint."""

    def on_epoch(epoch: int, row: dict[str, float], checkpoint: Path | None) -> None:
        saved = checkpoint_class.from_directory(str(checkpoint.parent)) if checkpoint is not None else None
        report(dict(row), checkpoint=saved)

    return on_epoch


def _restore(checkpoint: Any, request: RunRequest) -> bool:
    """Put the last reported checkpoint where ``fit`` resumes from (the request's work dir);
    False when Ray has none (a first attempt)."""
    if checkpoint is None:
        return False
    work = ResultsDir(Path(request.results)).work_dir(request_key(request))
    work.mkdir(parents=True, exist_ok=True)
    with checkpoint.as_directory() as folder:
        shutil.copyfile(Path(folder) / RESUME_FILE, work / RESUME_FILE)
    return True


def _failure(exc: BaseException, what: str, hint: str) -> BenchmarkError:
    """The BenchmarkError behind a Ray failure (a wrong data root stays a DatasetNotFoundError), else
    a DistributedRunError naming ``what`` failed and ``hint`` (how to continue)."""
    causes = [exc, *getattr(exc, "worker_failures", {}).values(), getattr(exc, "cause", None), exc.__cause__]
    for cause in causes:
        if isinstance(cause, BenchmarkError):
            return cause
    return DistributedRunError(f"{what} failed: {exc}. {hint}")


# --- data-parallel runs (Ray Train) ------------------------------------------------------------


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
    request = _portable(request, gpus)
    name, root = f"run-{request_key(request)}", _storage(request, storage)
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
        raise _failure(exc, f"training on {workers} worker(s)", hint) from exc
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
        on_epoch=_epoch_reporter(ray.train.report, ray.train.Checkpoint),
        extra={**base.extra, "distributed": distributed},
    )
    try:
        request.resume = _restore(ray.train.get_checkpoint(), request)
        artifacts = execute_run(request)
    finally:
        discard(scratch)
    return artifacts if context.get_world_rank() == 0 else None


# --- sweeps (Ray tasks) ------------------------------------------------------------------------


def execute_on_worker(request: RunRequest) -> RunArtifacts:
    """A run on a Ray worker, resuming from its checkpoint when Ray retries it or a sweep restarts."""
    checkpoint = ResultsDir(Path(request.results)).work_dir(request_key(request)) / RESUME_FILE
    return execute_run(replace(request, resume=checkpoint.exists()))


def run_label(request: RunRequest) -> RunLabel:
    task, spec, _ = resolve(request)
    return task.name, spec.name, request.seed


def sweep(
    requests: Sequence[RunRequest],
    results: Path,
    gpus_per_run: float | None = None,
    cpus_per_run: float = 1,
    max_retries: int = DEFAULT_RETRIES,
    stream: Any = None,
) -> SweepTable:
    """Every request as one Ray task; runs already in the store (same run key) are skipped, so a
    stopped sweep continues where it stopped. The driver publishes each run as it finishes.

    Returns the final table; raises DistributedRunError naming the runs that failed.
    """
    import ray

    gpus = default_gpus(gpus_per_run)
    remote = ray.remote(execute_on_worker).options(num_cpus=cpus_per_run, num_gpus=gpus, max_retries=max_retries)
    recorded = recorded_run_keys(results)
    labels = {request_key(r): (run_label(r), r) for r in requests}  # one run per key: repeated requests collapse
    table = SweepTable([label for label, _ in labels.values()], stream)
    pending: dict[Any, RunLabel] = {}
    for key, (label, request) in labels.items():
        if key in recorded:
            table.update(label, "skipped", "already in the store")
        else:
            pending[remote.remote(_portable(replace(request, results=results), gpus))] = label
    failed: list[str] = []
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                label = pending.pop(ref)
                try:
                    artifacts: RunArtifacts = ray.get(ref)
                except (ray.exceptions.RayError, BenchmarkError) as exc:
                    cause = getattr(exc, "cause", None) or exc
                    table.update(label, "failed", f"{type(cause).__name__}: {str(cause).splitlines()[0][:200]}")
                    failed.append(f"{label[0]} {label[1]} seed {label[2]}: {type(cause).__name__}: {cause}")
                    continue
                publish_run(artifacts, results)
                discard(artifacts.work_dir)
                table.update(label, "done", primary_metric(artifacts.record))
    finally:
        if pending:  # interrupted: stop the rest (their checkpoints stay for the next sweep) before returning
            for ref in pending:  # not force=True: Ray 2.60's driver aborts when a force-killed task completes
                ray.cancel(ref)
            ray.wait(list(pending), num_returns=len(pending), timeout=60)
    if failed:
        raise DistributedRunError(
            f"{len(failed)} run(s) of the sweep failed (the others are recorded; the same command runs "
            "only what is missing):\n  " + "\n  ".join(failed)
        )
    return table


# --- tuning (Ray Tune) -------------------------------------------------------------------------


def tune_domains(space: SearchSpace) -> dict[str, Any]:
    """The declarative search space as Ray Tune distributions."""
    from ray import tune

    kinds: dict[str, Callable[..., Any]] = {
        "loguniform": tune.loguniform,
        "uniform": tune.uniform,
        "randint": tune.randint,
        "choice": lambda values: tune.choice(list(values)),
    }
    return {name: kinds[entry[0]](*entry[1:]) for name, entry in space.items()}


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    """Tune's sampled values as plain Python numbers (recipe overrides and JSON take no numpy scalars)."""
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in config.items()}


def _trial(config: dict[str, Any], request: RunRequest) -> None:
    """One tuning trial: train with the sampled overrides, report validation scores every epoch.
    It trains on train and validates on val only: the test split is never scored while tuning."""
    from ray import tune

    scratch = Path(tempfile.mkdtemp(prefix="cxrbench-trial-"))
    trial = replace(
        request,
        overrides={**request.overrides, **_plain(config)},
        results=scratch,
        on_epoch=_epoch_reporter(tune.report, tune.Checkpoint),
    )
    try:
        trial.resume = _restore(tune.get_checkpoint(), trial)
        train_run(trial)
    finally:
        discard(scratch)


def _best(values: Any, mode: str) -> float | None:
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).any():
        return None
    return float(np.nanmax(values) if mode == "max" else np.nanmin(values))


def tune_run(
    request: RunRequest,
    samples: int,
    scheduler: str = "fifo",
    gpus_per_trial: float | None = None,
    cpus_per_trial: float = 1,
    max_failures: int = DEFAULT_RETRIES,
    storage: str | None = None,
) -> Path:
    """Ray Tune over the model's declared search space, selecting on the recipe's validation metric
    (``select_on``), then one run with the best configuration (same seed), published by the driver
    with the configuration as its overrides and ``tuning`` (every trial and its best score) in the record.
    """
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    _, spec, recipe = resolve(request)
    if not spec.search_space:
        raise ConfigError(f"model {spec.name!r} declares no search_space; pass search_space= to register_model")
    clash = sorted(set(spec.search_space) & set(request.overrides))
    if clash:
        raise ConfigError(f"--set {', '.join(clash)} fixes what the search space searches; drop it or tune another")
    metric = recipe.select_on
    mode = "max" if metric == "val_auroc" else "min"
    gpus = default_gpus(gpus_per_trial)
    request = _portable(request, gpus)
    name, root = f"tune-{request_key(request)}", _storage(request, storage)
    discard(Path(root) / name)
    asha = ASHAScheduler(max_t=recipe.epochs, grace_period=1, reduction_factor=2) if scheduler == "asha" else None
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(_trial, request=request), {"cpu": cpus_per_trial, "gpu": gpus}),
        param_space=tune_domains(spec.search_space),
        tune_config=tune.TuneConfig(
            metric=metric,
            mode=mode,
            num_samples=samples,
            scheduler=asha,
            search_alg=BasicVariantGenerator(random_state=request.seed),
            reuse_actors=True,  # trials of one model share worker processes (imports, cache maps)
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=root,
            failure_config=tune.FailureConfig(max_failures=max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            verbose=1 if sys.stderr.isatty() else 0,
        ),
    )
    grid = tuner.fit()
    trials = [
        {
            "config": _plain(r.config),
            f"best_{metric}": _best(r.metrics_dataframe[metric], mode) if r.metrics_dataframe is not None else None,
            "epochs": 0 if r.metrics_dataframe is None else len(r.metrics_dataframe),
            "error": str(r.error).splitlines()[0] if r.error else None,
        }
        for r in grid
    ]
    try:  # scope "all": a trial's best epoch counts, as fit keeps the best epoch's weights
        best = _plain(grid.get_best_result(metric=metric, mode=mode, scope="all").config)
    except RuntimeError as exc:
        raise DistributedRunError(f"no trial of {spec.name} reported a finite {metric}: {trials}") from exc
    tuning = {
        "samples": samples,
        "scheduler": scheduler,
        "metric": metric,
        "mode": mode,
        "search_space": {k: list(v) for k, v in spec.search_space.items()},
        "best_config": best,
        "trials": trials,
    }
    final = replace(request, overrides={**request.overrides, **best}, extra={**request.extra, "tuning": tuning})
    log.info("best of %d trials by %s: %s", len(trials), metric, best)
    remote = ray.remote(execute_on_worker).options(num_cpus=cpus_per_trial, num_gpus=gpus, max_retries=max_failures)
    try:
        artifacts = ray.get(remote.remote(final))
    except ray.exceptions.RayError as exc:
        raise _failure(exc, "the run with the best configuration", "run `benchmark tune` again") from exc
    path = publish_run(artifacts, Path(request.results))
    discard(artifacts.work_dir)
    discard(Path(root) / name)
    return path
