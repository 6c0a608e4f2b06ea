"""What each CLI subcommand does, given parsed arguments."""

from __future__ import annotations

import argparse
import json

from benchmark.store import ResultsDir


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
    from benchmark.models import MODELS

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
    from benchmark.models import MODELS, ModelInputs
    from benchmark.recipe import Recipe
    from benchmark.tasks import TASKS
    from benchmark.training import num_outputs

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
    lines.append("tasks (input size, parameters with that task's head):")
    for task_name in TASKS.names():
        task = TASKS.get(task_name)
        size = recipe.image_size or task.native_image_size
        outputs = num_outputs(recipe, task.problem, len(task.labels))
        model = spec.factory(ModelInputs(outputs, recipe.in_chans, size))
        lines.append(f"  {task_name:<15} {size:>4} px  {sum(p.numel() for p in model.parameters()):>12,}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import torch

    from benchmark.recipe import parse_overrides
    from benchmark.runner import RunRequest, run_benchmark

    overrides = parse_overrides(args.overrides)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.weights is not None:
        overrides["pretrained_weights"] = args.weights
    request = RunRequest(
        task=args.task,
        model=args.model,
        data_root=args.data_root,
        seed=args.seed,
        overrides=overrides,
        results=args.results,
        resume=args.resume,
        device=torch.device(args.device) if args.device else None,
        skip_corrupt=args.skip_corrupt,
    )
    run_dir = run_benchmark(request)
    record = json.loads((run_dir / "record.json").read_text())
    print(summary(record))
    print(f"record: {run_dir / 'record.json'}")
    return 0


def summary(record: dict) -> str:
    lines = [
        f"{record['run_id']}  task {record['task']['name']} ({record['task']['hash'][:12]})  "
        f"model {record['model']['name']}  seed {record['seed']}  n_test {record['n_test']}"
    ]
    for name, m in record["metrics"].items():
        if "/" in name:
            continue
        lines.append(f"  {name:<18} {m['value']:.4f}  95% CI [{m['ci_low']:.4f}, {m['ci_high']:.4f}]")
    return "\n".join(lines)


def list_runs(args: argparse.Namespace) -> int:
    records = ResultsDir(args.results).records()
    if args.json:
        print(json.dumps(records, indent=2, default=str))
        return 0
    if not records:
        print(f"no runs under {args.results}")
        return 0
    print(f"{'run id':<58} {'task':<15} {'model':<14} {'seed':>4}  primary metric")
    for r in records:
        primary = r["task"]["primary_metric"]
        m = r["metrics"][primary]
        print(
            f"{r['run_id']:<58} {r['task']['name']:<15} {r['model']['name']:<14} {r['seed']:>4}  "
            f"{primary} {m['value']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}]"
        )
    return 0


def show(args: argparse.Namespace) -> int:
    print(json.dumps(ResultsDir(args.results).load_record(args.run_id), indent=2, sort_keys=True))
    return 0


def data(args: argparse.Namespace) -> int:
    handlers = {"download": data_download, "check": data_check, "prepare": data_prepare, "build": data_build}
    return handlers[args.data_command](args)


def data_download(args: argparse.Namespace) -> int:
    from benchmark.data.sources.medmnist import download_medmnist
    from benchmark.errors import ConfigError
    from benchmark.tasks import TASKS

    task = TASKS.get(args.task)
    if task.source["kind"] != "medmnist":
        raise ConfigError(f"task {task.name} has no download: {task.source.get('how_to_get', 'see its task file')}")
    path = download_medmnist(args.data_root, task.source)
    print(f"{path} ok (md5 {task.source['md5']})")
    return 0


def data_check(args: argparse.Namespace) -> int:
    from benchmark.data.check import check_task_data, format_report
    from benchmark.tasks import TASKS

    report = check_task_data(TASKS.get(args.task), args.data_root, args.workers)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def data_prepare(args: argparse.Namespace) -> int:
    from benchmark.data.cache import prepare_cache
    from benchmark.tasks import TASKS

    task = TASKS.get(args.task)
    data = task.load_data(args.data_root)
    cache = prepare_cache(data, args.size or task.native_image_size, args.workers, args.skip_corrupt)
    print(f"{cache.path}: {len(cache.rows)} images at {cache.size}x{cache.size}, {len(cache.skipped)} skipped")
    return 0


def data_build(args: argparse.Namespace) -> int:
    from benchmark.data.build_lung64 import build_lung3_64

    out = build_lung3_64(args.data_root, args.images or args.data_root, args.out)
    print(f"wrote {out}")
    return 0
