"""`benchmark tasks|models|run|runs|show`: listing, training one run, reading records."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmark.errors import ConfigError
from benchmark.recipe import Recipe, check_seed
from benchmark.results.index import RunFilter
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.store import DEFAULT_RESULTS
from benchmark.submission.metadata import METADATA_FILE
from benchmark.text import terminal_cell


def list_tasks(args: argparse.Namespace) -> int:
    from benchmark.tasks import TASKS

    tasks = [TASKS.get(name) for name in TASKS.names()]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": t.name,
                        "version": t.version,
                        "problem": t.problem,
                        "labels": list(t.labels),
                        "primary_metric": t.primary_metric,
                        "hash": t.task_hash,
                        "split_sha256": t.split_sha256,
                        "expected_counts": t.expected_counts,
                    }
                    for t in tasks
                ],
                indent=2,
            )
        )
        return 0
    for t in tasks:
        counts = "/".join(str(t.expected_counts[s]) for s in ("train", "val", "test"))
        labels = f"{len(t.labels)} label(s)"
        print(f"{t.name:<16} v{t.version} {t.problem:<10} {labels}  train/val/test {counts} primary {t.primary_metric}")
    return 0


def list_models(args: argparse.Namespace) -> int:
    from benchmark.models.registry import MODELS

    if args.show:
        print(model_card(args.show))
        return 0
    specs = [MODELS.get(name) for name in MODELS.names()]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "family": s.family,
                        "card": s.card,
                        "recipe": s.recipe.to_dict(),
                        "source_hash": s.source_hash,
                        "search_space": {k: list(v) for k, v in (s.search_space or {}).items()},
                    }
                    for s in specs
                ],
                indent=2,
            )
        )
        return 0
    for s in specs:
        size = s.recipe.image_size or "task"
        print(f"{s.name:<16} {s.family:<12} input {size} x{s.recipe.in_chans}ch  {s.card.splitlines()[0][:80]}")
    return 0


def model_card(name: str) -> str:
    """Source report, input, parameter count, the recipe and the tasks it runs on."""
    from benchmark.models.io import num_outputs
    from benchmark.models.registry import MODELS, ModelInputs
    from benchmark.recipe import Recipe
    from benchmark.tasks import TASKS

    spec = MODELS.get(name)
    recipe, defaults = spec.recipe, Recipe()
    lines = [f"{spec.name} ({spec.family})", f"source report: {spec.source_report or 'n/a'}", spec.card, ""]
    lines.append(f"input: {recipe.image_size or 'the task native size'} px, {recipe.in_chans} channel(s)")
    always = {"loss", "optimizer", "lr", "schedule", "epochs", "batch_size"}
    lines.append("recipe (main fields and those that differ from the defaults):")
    lines += [
        f"  {k} = {v}"
        for k, v in recipe.to_dict().items()
        if k != "notes" and (k in always or v != getattr(defaults, k))
    ]
    if recipe.notes:
        lines.append(f"  ({recipe.notes})")
    if spec.search_space:
        lines.append("search space (benchmark tune): " + ", ".join(f"{k} {v}" for k, v in spec.search_space.items()))
    lines.append("tasks (input size, parameters with that task's head):")
    for task_name in TASKS.names():
        task = TASKS.get(task_name)
        size = recipe.image_size or task.native_image_size
        outputs = num_outputs(recipe, task.problem, len(task.labels))
        model = spec.factory(ModelInputs(outputs, recipe.in_chans, size))
        lines.append(f"  {task_name:<15} {size:>4} px  {sum(p.numel() for p in model.parameters()):>12,}")
    return "\n".join(lines)


def recipe_overrides(args: argparse.Namespace) -> dict:
    """``--set``, ``--epochs`` and ``--weights`` as one overrides dict (shared by run, sweep, tune)."""
    from benchmark.recipe import parse_overrides

    overrides = parse_overrides(args.overrides)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.weights is not None:
        overrides["pretrained_weights"] = args.weights
    return overrides


def epochs_argument(text: str) -> int:
    """``--epochs``: a whole number the Recipe accepts as ``epochs`` (its own rule, checked on parsing)."""
    try:
        return Recipe().with_overrides({"epochs": int(text)}).epochs
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a whole number of epochs (at least 1), got {text!r}") from None
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def seed_argument(text: str) -> int:
    """``--seed`` (and each ``--seeds`` value): a whole number in the range ``check_seed`` allows."""
    try:
        return check_seed(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a whole number, got {text!r}") from None
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every training command shares: data, recipe overrides, results folder."""
    parser.add_argument("--data-root", help="dataset folder (default: $CXRBENCH_DATA)")
    parser.add_argument("--epochs", type=epochs_argument, help="override the recipe's epochs (at least 1)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field"
    )
    parser.add_argument("--weights", help="local pretrained weights (.safetensors or .pth); default: random init")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--skip-corrupt", action="store_true", help="leave unreadable images out (recorded)")


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="join this Ray cluster (default: $RAY_ADDRESS, else Ray on this machine)")


def run(args: argparse.Namespace) -> int:
    import torch

    from benchmark.training.runner import RunRequest, run_benchmark

    if args.workers is None and (args.gpus_per_worker is not None or args.address):
        raise ConfigError("--gpus-per-worker and --address go with --workers N (data-parallel training on Ray)")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    if is_submission_folder(args.model):  # a submissions/<team> folder: its code runs in a child process
        return run_submission_folder(args)
    request = RunRequest(
        task=args.task,
        model=args.model,
        data_root=args.data_root,
        seed=args.seed,
        overrides=recipe_overrides(args),
        results=args.results,
        resume=args.resume,
        device=torch.device(args.device) if args.device else None,
        skip_corrupt=args.skip_corrupt,
    )
    if args.workers is None:
        run_dir = run_benchmark(request)
    else:  # Ray only for this branch: the plain run starts fast
        from benchmark.ray.cluster import ray_session
        from benchmark.ray.train import run_distributed

        with ray_session(args.address):
            run_dir = run_distributed(request, args.workers, args.gpus_per_worker, max_failures=args.max_failures)
    report_run(run_dir)
    return 0


def run_submission_folder(args: argparse.Namespace) -> int:
    """``run --model FOLDER``: the plugin trains in its child process (``benchmark.submission.isolation``,
    as ``benchmark submit`` runs it); this process scores and records its predictions."""
    from benchmark.submission.isolation import PluginRun, run_and_publish
    from benchmark.tasks import TASKS

    if args.workers is not None or args.skip_corrupt:
        raise ConfigError(
            f"{args.model} is a submission folder: it trains in its own child process, without --workers or "
            "--skip-corrupt (those are for registered models)"
        )
    run = PluginRun(
        folder=Path(args.model),
        task=TASKS.get(args.task),
        seed=args.seed,
        overrides=recipe_overrides(args),
        data_root=args.data_root,
        results=args.results,
        device=args.device,
        resume=args.resume,
    )
    report_run(run_and_publish(run))
    return 0


def is_submission_folder(value: str) -> bool:
    """Whether a ``--model`` argument names a submission folder rather than a registered model."""
    return (Path(value) / METADATA_FILE).is_file()


def summary(record: RunRecord) -> str:
    run_id, task, model = map(terminal_cell, (record.run_id, record.task.name, record.model.name))
    lines = [
        f"{run_id}  task {task} ({terminal_cell(record.task.hash[:12])})  "
        f"model {model}  seed {record.seed}  n_test {record.n_test}"
    ]
    for name, m in record.metrics.items():
        if "/" in name:
            continue
        lines.append(f"  {terminal_cell(name):<18} {m.value:.4f}  95% CI [{m.ci_low:.4f}, {m.ci_high:.4f}]")
    lines.extend(_scored_after_lines(record))
    return "\n".join(lines)


def _scored_after_lines(record: RunRecord) -> list[str]:
    """One line per external set (its primary metric) of the record's ``external`` section."""
    metric = record.task.primary_metric
    lines = []
    for name, payload in (record.external or {}).items():
        row = next((r for r in payload.get("rows", []) if r.get("metric") == metric), None)
        if row is None:
            why = payload.get("skipped") or payload.get("not_external") or "not scored"
            lines.append(f"  external {terminal_cell(name)}: {terminal_cell(str(why))}")
        else:
            lines.append(
                f"  external {terminal_cell(name)}: {metric} {row['value']:.4f}  95% CI [{row['ci_low']:.4f}, "
                f"{row['ci_high']:.4f}] on {row.get('n_images', '?')} images"
            )
    return lines


def report_run(run_dir: Path) -> RunRecord:
    """Print the summary of a run just published and where its record is; returns the record."""
    record = RunRecord.load(run_dir / RECORD_FILE)
    print(summary(record))
    print(f"record: {run_dir / RECORD_FILE}")
    return record


def add_reference_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="leave out the shipped reference board's runs (read beside --results by default; $CXRBENCH_REFERENCE)",
    )


def list_runs(args: argparse.Namespace) -> int:
    from benchmark.reference.board import with_reference

    results = with_reference(args.results, args.reference)
    runs = results.query(
        RunFilter(task=args.task, task_hash=args.task_hash, model=args.model, origin=args.origin, run_key=args.run_key)
    )
    if args.json:
        print(json.dumps([results.load_record(r.run_id).to_dict() for r in runs], indent=2, default=str))
        return 0
    if not runs:
        print(f"no matching runs under {args.results}")
        return 0
    print(f"{'run id':<64} {'task':<15} {'model':<28} {'origin':<10} {'seed':>4}  primary metric")
    for r in runs:
        value = "n/a" if r.primary_value is None else f"{r.primary_value:.4f}"
        ci = "" if r.primary_ci_low is None else f" [{r.primary_ci_low:.4f}, {r.primary_ci_high:.4f}]"
        names = (r.run_id, r.task_name, r.model_name, r.origin, r.primary_metric)
        run_id, task, model, origin, metric = map(terminal_cell, names)  # a name can hold a newline or a |
        print(f"{run_id:<64} {task:<15} {model:<28} {origin:<10} {r.seed:>4}  {metric} {value}{ci}")
    return 0


def show(args: argparse.Namespace) -> int:
    from benchmark.reference.board import with_reference

    print(with_reference(args.results, args.reference).load_record(args.run_id).to_json(), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    tasks = sub.add_parser("tasks", help="list tasks")
    tasks.add_argument("--json", action="store_true")
    tasks.set_defaults(handler=list_tasks)
    models = sub.add_parser("models", help="list models")
    models.add_argument("--json", action="store_true")
    models.add_argument("--show", metavar="NAME", help="print one model's card")
    models.set_defaults(handler=list_models)

    run_parser = sub.add_parser("run", help="train and evaluate one model on one task")
    run_parser.add_argument("--task", required=True)
    run_parser.add_argument("--model", required=True, help="a registered model, or a submissions/<team> folder")
    run_parser.add_argument("--seed", type=seed_argument, default=0, help="training seed, 0 <= seed < 2**32")
    add_recipe_arguments(run_parser)
    run_parser.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    run_parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    run_parser.add_argument(
        "--workers", type=int, help="train data-parallel on N Ray Train workers (DDP; batch_size is the global batch)"
    )
    run_parser.add_argument(
        "--gpus-per-worker", type=float, help="with --workers (default: 1 when the cluster has GPUs, else 0)"
    )
    run_parser.add_argument(
        "--max-failures", type=int, default=3, help="with --workers: restarts from the last epoch (default 3)"
    )
    add_ray_arguments(run_parser)
    run_parser.set_defaults(handler=run)

    runs = sub.add_parser("runs", help="list recorded runs (from the results index), optionally filtered")
    runs.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    runs.add_argument("--task", help="task name")
    runs.add_argument("--task-hash", help="task hash (results from different hashes are never ranked together)")
    runs.add_argument("--model", help="model name (submissions: submission:<name>)")
    runs.add_argument("--origin", choices=["baseline", "submission", "reference"])
    runs.add_argument("--run-key", help="runs with these inputs (task hash, model code, recipe, seed)")
    runs.add_argument("--json", action="store_true", help="print the full records of the matching runs")
    add_reference_argument(runs)
    runs.set_defaults(handler=list_runs)
    show_parser = sub.add_parser("show", help="print a run record")
    show_parser.add_argument("run_id")
    show_parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    add_reference_argument(show_parser)
    show_parser.set_defaults(handler=show)
