"""`benchmark sweep|tune`: many runs, or a hyperparameter search, on Ray (imported only when run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.commands.core import add_ray_arguments, add_recipe_arguments, recipe_overrides, report_run, seed_argument
from benchmark.errors import ConfigError
from benchmark.results.store import DEFAULT_RESULTS

if TYPE_CHECKING:
    from benchmark.models.registry import ModelSpec
    from benchmark.results.record import Origin
    from benchmark.tasks import Task
    from benchmark.training.runner import RunRequest


def run_sweep(args: argparse.Namespace) -> int:
    from benchmark.ray.cluster import ray_session
    from benchmark.ray.sweep import sweep

    requests, results = _plan_requests(args) if args.plan else _grid_requests(args)
    if not requests:
        print("nothing to run: no planned task has its data under the data root")
        return 0
    with ray_session(args.address):
        try:
            table = sweep(requests, results, args.gpus_per_run, max_retries=args.max_retries)
        except KeyboardInterrupt:
            print("sweep interrupted: finished runs are recorded; the same command runs the rest", file=sys.stderr)
            return 130
    if not table.live:
        print(table.render())
    if args.plan:
        _plan_audits(args, {request.task.name for request in requests}, results)
    print(f"results: {results}")
    return 0


def _plan_audits(args: argparse.Namespace, present: set[str], results: Path) -> None:
    """The plan's shortcut audits of the tasks swept (their normal runs are the plan's, reused by run key),
    one after another on this process; an audit already complete reuses every run and rewrites its report."""
    from benchmark.audit.run import AuditRequest, run_audit
    from benchmark.reference.plan import load_plan

    for audit in load_plan(None if args.plan == "default" else Path(args.plan)).audits:
        if audit.task not in present:
            continue
        request = AuditRequest(audit.task, audit.model, audit.seeds, args.data_root, results)
        report, path = run_audit(request)
        print(f"audit {audit.task} {audit.model}: flagged {report['summary']['flagged']}; report {path}")


def _grid_requests(args: argparse.Namespace) -> tuple[list[RunRequest], Path]:
    """--tasks x --models x --seeds, each by its recipe plus the command's overrides."""
    from benchmark.models.registry import MODELS
    from benchmark.tasks import TASKS

    if not args.tasks or not args.models:
        raise ConfigError("benchmark sweep takes --tasks and --models (or --plan FILE)")
    overrides = recipe_overrides(args)
    requests = [
        _request(args, TASKS.get(task), MODELS.get(model), seed, overrides, args.results or DEFAULT_RESULTS)
        for task in args.tasks
        for model in args.models
        for seed in args.seeds
    ]
    return requests, args.results or DEFAULT_RESULTS


def _plan_requests(args: argparse.Namespace) -> tuple[list[RunRequest], Path]:
    """The reference plan's runs (origin ``reference``), for the planned tasks (or --tasks) whose data
    is under the data root; the others are named and left for a machine that has their data."""
    from benchmark.data.fetch.status import task_status
    from benchmark.data.root import resolve_data_root
    from benchmark.models.registry import MODELS
    from benchmark.reference.plan import load_plan
    from benchmark.tasks import TASKS

    if args.models or recipe_overrides(args):
        raise ConfigError(
            "--plan runs each planned model by its recipe: --models, --set, --epochs, --weights go without it"
        )
    plan = load_plan(None if args.plan == "default" else Path(args.plan))
    results = args.results or plan.results
    root = resolve_data_root(args.data_root)
    present = []
    for task in args.tasks or plan.tasks:
        status = task_status(TASKS.get(task), root)  # every image present and the split as pinned
        if status.state != "complete":
            print(f"plan: {task} skipped, its data is not here ({status.state}: {status.detail})", file=sys.stderr)
            continue
        present.append(task)
    requests = [
        _request(args, TASKS.get(task), MODELS.get(model), seed, overrides, results, origin="reference")
        for task, model, seed, overrides in plan.runs(present)
    ]
    return requests, results


def _request(
    args: argparse.Namespace,
    task: Task,
    model: ModelSpec,
    seed: int,
    overrides: dict[str, Any],
    results: Path,
    origin: Origin = "baseline",
) -> RunRequest:
    from benchmark.training.runner import RunRequest

    return RunRequest(
        task=task,
        model=model,
        data_root=args.data_root,
        seed=seed,
        overrides=overrides,
        results=results,
        skip_corrupt=args.skip_corrupt,
        origin=origin,
    )


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
    sweep_parser.add_argument(
        "--plan",
        nargs="?",
        const="default",
        help="run a reference plan (default: the shipped leaderboard/reference.yaml) into its results folder; "
        "--tasks narrows it",
    )
    sweep_parser.add_argument("--tasks", nargs="+")
    sweep_parser.add_argument("--models", nargs="+")
    sweep_parser.add_argument("--seeds", nargs="+", type=seed_argument, default=[0])
    add_recipe_arguments(sweep_parser)
    sweep_parser.set_defaults(results=None)  # --plan: the plan's folder; otherwise ./results
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
    tune_parser.add_argument(
        "--seed", type=seed_argument, default=0, help="training seed of every trial and the final run"
    )
    add_recipe_arguments(tune_parser)
    tune_parser.add_argument("--gpus-per-trial", type=float, help="default: 1 when the cluster has GPUs, else 0")
    tune_parser.add_argument(
        "--max-failures", type=int, default=3, help="restarts of a failed trial from its last epoch (default 3)"
    )
    add_ray_arguments(tune_parser)
    tune_parser.set_defaults(handler=run_tune)
