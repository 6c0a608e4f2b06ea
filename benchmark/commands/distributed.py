"""`benchmark sweep|tune`: many runs, or a hyperparameter search, on Ray (imported only when run)."""

from __future__ import annotations

import argparse
import sys

from benchmark.commands.core import add_ray_arguments, add_recipe_arguments, recipe_overrides, report_run


def run_sweep(args: argparse.Namespace) -> int:
    from benchmark.models.registry import MODELS
    from benchmark.ray.cluster import ray_session
    from benchmark.ray.sweep import sweep
    from benchmark.tasks import TASKS
    from benchmark.training.runner import RunRequest

    overrides = recipe_overrides(args)
    requests = [
        RunRequest(
            task=TASKS.get(task),
            model=MODELS.get(model),
            data_root=args.data_root,
            seed=seed,
            overrides=overrides,
            results=args.results,
            skip_corrupt=args.skip_corrupt,
        )
        for task in args.tasks
        for model in args.models
        for seed in args.seeds
    ]
    with ray_session(args.address):
        try:
            table = sweep(requests, args.results, args.gpus_per_run, max_retries=args.max_retries)
        except KeyboardInterrupt:
            print("sweep interrupted: finished runs are recorded; the same command runs the rest", file=sys.stderr)
            return 130
    if not table.live:
        print(table.render())
    print(f"results: {args.results}")
    return 0


def run_tune(args: argparse.Namespace) -> int:
    from benchmark.ray.cluster import ray_session
    from benchmark.ray.tune import tune_run
    from benchmark.training.runner import RunRequest

    request = RunRequest(
        task=args.task,
        model=args.model,
        data_root=args.data_root,
        seed=args.seed,
        overrides=recipe_overrides(args),
        results=args.results,
        skip_corrupt=args.skip_corrupt,
    )
    with ray_session(args.address):
        run_dir = tune_run(request, args.samples, args.scheduler, args.gpus_per_trial, max_failures=args.max_failures)
    tuning = report_run(run_dir).tuning
    assert tuning is not None  # tune_run records its search
    print(f"best of {len(tuning.trials)} trials by {tuning.metric}: {tuning.best_config}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    sweep_parser = sub.add_parser(
        "sweep", help="every (task, model, seed) as one Ray task; runs already recorded are skipped"
    )
    sweep_parser.add_argument("--tasks", nargs="+", required=True)
    sweep_parser.add_argument("--models", nargs="+", required=True)
    sweep_parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    add_recipe_arguments(sweep_parser)
    sweep_parser.add_argument("--gpus-per-run", type=float, help="default: 1 when the cluster has GPUs, else 0")
    sweep_parser.add_argument(
        "--max-retries", type=int, default=3, help="reruns of a run whose worker died, from its checkpoint (default 3)"
    )
    add_ray_arguments(sweep_parser)
    sweep_parser.set_defaults(handler=run_sweep)

    tune_parser = sub.add_parser(
        "tune", help="Ray Tune over the model's search space (validation metric), then one run with the best"
    )
    tune_parser.add_argument("--task", required=True)
    tune_parser.add_argument("--model", required=True)
    tune_parser.add_argument("--samples", type=int, required=True, help="number of sampled configurations")
    tune_parser.add_argument("--scheduler", choices=["fifo", "asha"], default="fifo", help="asha stops weak trials")
    tune_parser.add_argument("--seed", type=int, default=0, help="training seed of every trial and the final run")
    add_recipe_arguments(tune_parser)
    tune_parser.add_argument("--gpus-per-trial", type=float, help="default: 1 when the cluster has GPUs, else 0")
    tune_parser.add_argument(
        "--max-failures", type=int, default=3, help="restarts of a failed trial from its last epoch (default 3)"
    )
    add_ray_arguments(tune_parser)
    tune_parser.set_defaults(handler=run_tune)
