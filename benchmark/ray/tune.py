"""Ray Tune over a model's declared search space, then one run with the best configuration."""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import ConfigError, DistributedRunError
from benchmark.models.search_space import SearchSpace
from benchmark.ray.checkpoints import epoch_reporter, restore
from benchmark.ray.cluster import DEFAULT_RETRIES, checkpoint_storage, default_gpus, failure, portable
from benchmark.ray.sweep import execute_on_worker
from benchmark.results.store import discard
from benchmark.training.runner import RunRequest, publish_run, request_key, resolve, train_run

log = logging.getLogger(__name__)


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
        on_epoch=epoch_reporter(tune.report, tune.Checkpoint),
    )
    try:
        trial.resume = restore(tune.get_checkpoint(), trial)
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
    request = portable(request, gpus)
    name, root = f"tune-{request_key(request)}", checkpoint_storage(request, storage)
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
        raise failure(exc, "the run with the best configuration", "run `benchmark tune` again") from exc
    path = publish_run(artifacts, Path(request.results))
    discard(artifacts.work_dir)
    discard(Path(root) / name)
    return path
