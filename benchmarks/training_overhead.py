"""Overhead of the project's training loop over a bare PyTorch loop, on one PneumoniaMNIST epoch.

Both loops train the same model (built from the same seed) on the same shuffled batches
and then make one pass over the validation split. The project's loop (``benchmark.training.loop.fit``)
also scores validation AUROC and writes a checkpoint each epoch; that is part of its cost and
is counted. Data loading and model construction are outside both timings.

    .venv/bin/python benchmarks/training_overhead.py                      # one full epoch each
    .venv/bin/python benchmarks/training_overhead.py --repeats 3          # median of 3, alternating
    .venv/bin/python benchmarks/training_overhead.py --limit-train 512    # quick smoke run

A measurement script, not a test: it prints the timings and the ratio against the goal.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from _args import add_data_root  # first: puts this checkout on sys.path
from torch import nn

from benchmark.data.prepared import PreparedSplit
from benchmark.models.io import default_device, num_outputs, uses_cross_entropy
from benchmark.models.registry import MODELS, ModelInputs, ModelSpec
from benchmark.recipe import Recipe
from benchmark.tasks import TASKS
from benchmark.training.loop import FitOptions, epoch_seed, fit

TASK = "pneumoniamnist"
GOAL = 1.10


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_root(parser)
    parser.add_argument("--model", default="resnet18", help="registered model name (default: resnet18)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each loop; the median is reported")
    parser.add_argument("--limit-train", type=int, default=None, metavar="N", help="use only the first N train images")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    parser.add_argument(
        "--warmup-batches",
        type=int,
        default=2,
        help="untimed training steps on a throwaway model before timing, so neither loop pays one-off start-up "
        "costs (default: 2; 0 disables)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.limit_train is not None and args.limit_train < 1:
        parser.error("--limit-train must be at least 1")
    return args


def head(split: PreparedSplit, n: int | None) -> PreparedSplit:
    if n is None or n >= len(split):
        return split
    return PreparedSplit(split.image_ids[:n], split.patient_ids[:n], split.images, split.rows[:n], split.targets[:n])


def build(spec: ModelSpec, inputs: ModelInputs, recipe: Recipe, seed: int) -> nn.Module:
    """As benchmark.training.runner does: the model's initial weights depend on the seed alone."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return spec.build(inputs, recipe)


def _fork_devices(device: torch.device) -> list[int]:
    return [device.index or 0] if device.type == "cuda" else []


def bare_epoch(
    model: nn.Module,
    recipe: Recipe,
    train: PreparedSplit,
    val: PreparedSplit,
    seed: int,
    device: torch.device,
    max_batches: int | None = None,
) -> tuple[float, float]:
    """One epoch of plain PyTorch: Adam, cross-entropy on the 2-logit head, then one validation pass.

    Returns (mean training loss, validation loss).
    """
    cuda = device.type == "cuda"
    model.to(device)
    if cuda:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=cuda)
    mean = torch.tensor(recipe.normalize_mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(recipe.normalize_std, device=device).view(1, -1, 1, 1)

    def prepare(images: torch.Tensor) -> torch.Tensor:
        x = (images.to(device, non_blocking=True).float().div_(255.0) - mean) / std
        return x.contiguous(memory_format=torch.channels_last) if cuda else x

    with torch.random.fork_rng(devices=_fork_devices(device)):
        torch.manual_seed(epoch_seed(seed, 0))
        shuffle = torch.Generator().manual_seed(epoch_seed(seed, 0) + 1)
        model.train()
        total, seen = 0.0, 0
        for index, (images, targets) in enumerate(train.batches(recipe.batch_size, shuffle)):
            if max_batches is not None and index >= max_batches:
                break
            x, y = prepare(images), targets[:, 0].long().to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=cuda):
                loss = nn.functional.cross_entropy(model(x).float(), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += loss.item() * len(images)
            seen += len(images)
        if max_batches is not None:
            return total / max(seen, 1), float("nan")

        model.eval()
        val_total = 0.0
        with torch.no_grad():
            for images, targets in val.batches(recipe.eval_batch_size):
                with torch.autocast(device.type, enabled=cuda):
                    logits = model(prepare(images)).float()
                y = targets[:, 0].long().to(device, non_blocking=True)
                val_total += nn.functional.cross_entropy(logits, y, reduction="sum").item()
    return total / max(seen, 1), val_total / max(len(val), 1)


def timed_bare(
    spec: ModelSpec,
    inputs: ModelInputs,
    recipe: Recipe,
    train: PreparedSplit,
    val: PreparedSplit,
    seed: int,
    device: torch.device,
) -> tuple[float, float, float]:
    model = build(spec, inputs, recipe, seed)
    _sync(device)
    started = time.perf_counter()
    train_loss, val_loss = bare_epoch(model, recipe, train, val, seed, device)
    _sync(device)
    return time.perf_counter() - started, train_loss, val_loss


def timed_project(
    spec: ModelSpec,
    inputs: ModelInputs,
    recipe: Recipe,
    problem: str,
    train: PreparedSplit,
    val: PreparedSplit,
    seed: int,
    device: torch.device,
) -> tuple[float, float, float]:
    model = build(spec, inputs, recipe, seed)
    with tempfile.TemporaryDirectory(prefix="cxrbench-overhead-") as tmp:
        _sync(device)
        started = time.perf_counter()
        result = fit(model, recipe, problem, train, val, FitOptions(Path(tmp) / "checkpoint.pt", seed, device))
        _sync(device)
        seconds = time.perf_counter() - started
    last = result.history[-1]
    return seconds, last["train_loss"], last["val_loss"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    task = TASKS.get(TASK)
    spec = MODELS.get(args.model)
    recipe = spec.recipe.with_overrides({"epochs": 1})
    if not (task.problem == "binary" and uses_cross_entropy(recipe, task.problem)) or recipe.class_weights:
        print(
            f"the bare loop covers unweighted cross-entropy on a binary task only; model {spec.name!r} uses "
            f"loss={recipe.loss!r}, class_weights={recipe.class_weights}",
            file=sys.stderr,
        )
        return 2
    if recipe.optimizer != "adam":
        print(f"the bare loop uses Adam; model {spec.name!r} uses {recipe.optimizer!r}", file=sys.stderr)
        return 2
    device = default_device()
    size = recipe.image_size or task.native_image_size

    loading = time.perf_counter()
    data = task.load_data(args.data_root)
    train = head(data.prepare("train", size), args.limit_train)
    val = data.prepare("val", size)
    inputs = ModelInputs(num_outputs(recipe, task.problem, len(task.labels)), recipe.in_chans, size)
    n_batches = -(-len(train) // recipe.batch_size)
    print(
        f"{task.name} / {spec.name} on {device}, {torch.get_num_threads()} threads: {len(train)} train images "
        f"({n_batches} batches of {recipe.batch_size}), {len(val)} val images, {size}px x{recipe.in_chans}, "
        f"seed {args.seed}, data ready in {time.perf_counter() - loading:.1f}s"
    )

    if args.warmup_batches > 0:
        throwaway = build(spec, inputs, recipe, args.seed + 1)
        bare_epoch(throwaway, recipe, train, val, args.seed, device, max_batches=args.warmup_batches)

    runs: dict[str, list[tuple[float, float, float]]] = {"bare": [], "benchmark": []}
    for repeat in range(args.repeats):
        # alternate which loop goes first, so neither is always the one that runs on a warmer machine
        order = ("bare", "benchmark") if repeat % 2 == 0 else ("benchmark", "bare")
        for name in order:
            if name == "bare":
                run = timed_bare(spec, inputs, recipe, train, val, args.seed, device)
            else:
                run = timed_project(spec, inputs, recipe, task.problem, train, val, args.seed, device)
            runs[name].append(run)
            print(f"  repeat {repeat + 1}/{args.repeats} {name:<9} {run[0]:8.2f}s", flush=True)

    seconds = {name: statistics.median(r[0] for r in rows) for name, rows in runs.items()}
    print()
    label = "median seconds" if args.repeats > 1 else "seconds"
    print(f"{'loop':<11}{label:>15}{'train loss':>13}{'val loss':>11}")
    for name in ("bare", "benchmark"):
        _, train_loss, val_loss = runs[name][-1]
        print(f"{name:<11}{seconds[name]:>15.2f}{train_loss:>13.4f}{val_loss:>11.4f}")
    ratio = seconds["benchmark"] / seconds["bare"]
    verdict = "meets goal" if ratio <= GOAL else "MISSES goal"
    print(f"\nratio benchmark/bare = {ratio:.2f} (goal <= {GOAL:.2f}): {verdict}")

    bare_loss, project_loss = runs["bare"][-1][1], runs["benchmark"][-1][1]
    gap = abs(bare_loss - project_loss) / max(abs(bare_loss), 1e-12)
    agree = "agree" if gap <= 0.01 else "DIFFER: the two loops did not do the same work"
    print(f"final train loss: bare {bare_loss:.6f}, benchmark {project_loss:.6f} (relative gap {gap:.2e}, {agree})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
