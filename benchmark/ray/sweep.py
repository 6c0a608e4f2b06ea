"""Sweeps as Ray tasks: every (task, model, seed) one task, published by the driver as it finishes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmark.errors import BenchmarkError, DistributedRunError
from benchmark.ray.cluster import DEFAULT_RETRIES, default_gpus, portable
from benchmark.ray.progress import RunLabel, SweepTable, primary_metric
from benchmark.results.store import RESUME_FILE, ResultsDir, discard, recorded_run_keys
from benchmark.training.runner import RunArtifacts, RunRequest, execute_run, publish_run, request_key, resolve


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
            pending[remote.remote(portable(replace(request, results=results), gpus))] = label
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
