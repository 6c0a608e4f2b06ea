"""The Ray session of one command, and what every Ray path shares: worker environment, resources,
requests made portable to workers, where Ray keeps checkpoints, and errors from Ray failures.

Ray is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch

from benchmark.errors import BenchmarkError, DistributedRunError
from benchmark.results.provenance import CHECKOUT
from benchmark.results.store import WORK_DIR
from benchmark.training.runner import RunRequest

LOCAL_OBJECT_STORE_BYTES = 512 * 2**20  # run artifacts are MBs to a few hundred MBs; Ray spills larger ones
ENV_PREFIX = "CXRBENCH_"  # data root, cache, tasks folder: settings every worker must share with the driver
DEFAULT_RETRIES = 3


def worker_env() -> dict[str, str]:
    """Environment of every Ray worker: this checkout first on PYTHONPATH, so workers import the
    same code as the driver, and the driver's CXRBENCH_* settings."""
    root = str(CHECKOUT)
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


def portable(request: RunRequest, gpus: float) -> RunRequest:
    """``request`` as a worker needs it: absolute paths (workers do not share the driver's working
    directory) and the CPU when the run gets no GPU."""
    return replace(
        request,
        results=Path(request.results).resolve(),
        data_root=str(Path(request.data_root).resolve()) if request.data_root else None,
        device=torch.device("cpu") if not gpus else request.device,
    )


def checkpoint_storage(request: RunRequest, storage: str | None) -> str:
    """Where Ray keeps reported checkpoints: ``storage`` (shared storage on a cluster), else the work area."""
    return storage or str(Path(request.results).resolve() / WORK_DIR / "ray")


def failure(exc: BaseException, what: str, hint: str) -> BenchmarkError:
    """The BenchmarkError behind a Ray failure (a wrong data root stays a DatasetNotFoundError), else
    a DistributedRunError naming ``what`` failed and ``hint`` (how to continue)."""
    causes = [exc, *getattr(exc, "worker_failures", {}).values(), getattr(exc, "cause", None), exc.__cause__]
    for cause in causes:
        if isinstance(cause, BenchmarkError):
            return cause
    return DistributedRunError(f"{what} failed: {exc}. {hint}")
