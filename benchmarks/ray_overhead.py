"""What Ray costs: start-up, and the same small runs with and without Ray, side by side.

Four measurements on one task and model (default: covid3, lotko_cnn, 2 epochs):

1. the runs without Ray, one after another in this process (``execute_run`` + ``publish_run``);
2. ``ray.init`` on this machine (the start-up every ``sweep``/``tune``/``run --workers`` pays);
3. the same runs as Ray tasks, one at a time (the per-run overhead: scheduling, worker start,
   shipping the artifacts back, publishing from the driver), and all at once as ``sweep`` does;
4. one run under Ray Train (``run --workers 1``) against the same run without Ray.

Every run trains on one torch thread, as a Ray worker with one CPU does. The prepared cache is
built before any timing.

    .venv/bin/python benchmarks/ray_overhead.py                        # 4 runs (seeds 0-3)
    .venv/bin/python benchmarks/ray_overhead.py --runs 8 --epochs 5

A measurement script, not a test: it prints the timings and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from _args import add_data_root  # first: puts this checkout on sys.path

from benchmark.ray.cluster import ray_session
from benchmark.ray.sweep import execute_on_worker, sweep
from benchmark.ray.train import run_distributed
from benchmark.results.store import discard
from benchmark.training.runner import RunRequest, execute_run, publish_run


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_root(parser)
    parser.add_argument("--task", default="covid3")
    parser.add_argument("--model", default="lotko_cnn")
    parser.add_argument("--runs", type=int, default=4, help="runs per measurement (seeds 0..N-1)")
    parser.add_argument("--epochs", type=int, default=2)
    return parser.parse_args(argv)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    scratch = Path(tempfile.mkdtemp(prefix="ray-overhead-"))

    def request(seed: int, phase: str) -> RunRequest:
        return RunRequest(
            task=args.task,
            model=args.model,
            data_root=args.data_root,
            seed=seed,
            overrides={"epochs": args.epochs},
            results=scratch / phase,
        )

    def plain(seed: int, phase: str = "plain") -> None:
        artifacts = execute_run(request(seed, phase))
        publish_run(artifacts, scratch / phase)
        discard(artifacts.work_dir)

    seeds = range(args.runs)
    plain(0, "warm-up")  # prepared cache, imports, first-call costs
    without = [timed(lambda s=s: plain(s)) for s in seeds]

    started = time.perf_counter()
    with ray_session():
        startup = time.perf_counter() - started
        import ray

        remote = ray.remote(execute_on_worker).options(num_cpus=1, num_gpus=0)

        def one_task(seed: int) -> None:
            artifacts = ray.get(remote.remote(request(seed, "tasks")))
            publish_run(artifacts, scratch / "tasks")

        tasks = [timed(lambda s=s: one_task(s)) for s in seeds]
        swept = timed(lambda: sweep([request(s, "sweep") for s in seeds], scratch / "sweep", 0, stream=sys.stdout))
        trained = timed(lambda: run_distributed(request(0, "train"), workers=1, gpus_per_worker=0))
    plain_one = without[0]

    print(f"\n{args.task} / {args.model}, {args.epochs} epochs, {args.runs} runs, {os.cpu_count()} CPU(s)")
    print(f"ray start-up (ray.init, local)          {startup:7.2f} s")
    print(f"run without Ray (median of {args.runs})          {statistics.median(without):7.2f} s  {_list(without)}")
    print(f"run as a Ray task, one at a time        {statistics.median(tasks):7.2f} s  {_list(tasks)}")
    overhead = statistics.median(tasks) - statistics.median(without)
    ratio = statistics.median(tasks) / statistics.median(without)
    print(f"  per-run overhead (median)             {overhead:7.2f} s  ratio {ratio:.2f}")
    print(f"  first task (starts a worker)          {tasks[0] - statistics.median(without):7.2f} s over a plain run")
    print(f"sweep of all {args.runs} runs (concurrent)       {swept:7.2f} s  vs {sum(without):.2f} s one after another")
    print(f"  ratio sweep / sequential without Ray  {swept / sum(without):7.2f}")
    print(f"run --workers 1 (Ray Train)             {trained:7.2f} s  vs {plain_one:.2f} s without Ray")
    print(f"  ratio                                 {trained / plain_one:7.2f}  overhead {trained - plain_one:.2f} s")
    discard(scratch)


def _list(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


if __name__ == "__main__":
    main()
