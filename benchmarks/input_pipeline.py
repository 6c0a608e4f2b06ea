"""The training input pipeline: batched augmentation against MONAI's per-image transforms, the whole
pipeline alone, and what augmentation adds to a training epoch, side by side in one run.

1. Augmentation alone, one torch thread, ``--aug-batch`` images (default 64) of the task's prepared
   cache at the model's size: the per-image MONAI path (``RandAffine`` + ``RandFlip`` +
   intensity transforms, one image at a time: what ``benchmark/training/augment.py`` did before)
   against the batched ``affine_grid`` + ``grid_sample`` path of ``BatchAugmenter``, with the model's
   augmentation recipe; and, for the parameters the batched path drew, the largest difference
   between the two outputs (MONAI applied image by image with those parameters).
2. The whole input pipeline alone, as the training loop runs it (default threads): cache gather in
   the prefetcher's thread, transfer to the device, augmentation, normalisation; no model.
3. ``benchmark``'s training loop (``fit``, one epoch of ``--steps`` batches of the recipe's batch size,
   validation on ``--val-images`` images) with the recipe's augmentation and without it (the aug_*
   fields reset), alternating, ``--repeats`` times; the ratio of the median seconds.

    .venv/bin/python benchmarks/input_pipeline.py --steps 40            # efficientnet_b0 on pneumonia
    .venv/bin/python benchmarks/input_pipeline.py --steps 0             # parts 1 and 2 only
    .venv/bin/python benchmarks/input_pipeline.py --steps 20 --set frozen_epochs=0   # whole network trained

A measurement script, not a test: it prints the figures and the ratios against the goals.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import torch
from _args import add_data_root  # first: puts this checkout on sys.path

from benchmark.data.prepared import PreparedSplit
from benchmark.models.io import default_device, normalise, num_outputs
from benchmark.models.registry import MODELS, ModelInputs
from benchmark.recipe import Recipe, parse_overrides
from benchmark.tasks import TASKS
from benchmark.training.augment import AugmentParams, BatchAugmenter, build_augmenter
from benchmark.training.loop import FitOptions, fit
from benchmark.training.prefetch import Prefetcher
from tests.fixtures.augment.monai_reference import monai_reference

AUGMENT_GOAL = 10.0  # batched / per-image images/s, same core
EPOCH_GOAL = 1.05  # augmented / unaugmented epoch seconds
AUG_FIELDS = [f.name for f in dataclasses.fields(Recipe) if f.name.startswith("aug_")]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_root(parser)
    parser.add_argument("--task", default="pneumonia")
    parser.add_argument("--model", default="efficientnet_b0")
    parser.add_argument("--aug-batch", type=int, default=64, help="batch of the augmentation comparison")
    parser.add_argument("--aug-repeats", type=int, default=3, help="timed batches per augmentation path")
    parser.add_argument("--pipeline-batches", type=int, default=40, help="batches of the input pipeline alone")
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps per epoch (default: a whole epoch; 0: skip part 3)"
    )
    parser.add_argument("--val-images", type=int, default=64, help="validation images after each timed epoch")
    parser.add_argument("--repeats", type=int, default=1, help="timed epochs of each kind, alternating")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="recipe override"
    )
    return parser.parse_args(argv)


def monai_per_image(recipe: Recipe, image_size: int) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """The augmenter as it was: MONAI transforms image by image, seeded per image (for comparison)."""
    from monai.transforms import Compose, RandAffine, RandFlip, RandScaleIntensity, RandScaleIntensityFixedMean

    transforms = []
    if recipe.aug_rotation or recipe.aug_zoom or recipe.aug_shift_x or recipe.aug_shift_y:
        transforms.append(
            RandAffine(
                prob=1.0,
                rotate_range=(math.radians(recipe.aug_rotation),),
                translate_range=(recipe.aug_shift_y * image_size, recipe.aug_shift_x * image_size),
                scale_range=(recipe.aug_zoom, recipe.aug_zoom),
                padding_mode="reflection" if recipe.aug_fill == "reflection" else "zeros",
                mode="bilinear",
            )
        )
    if recipe.aug_hflip:
        transforms.append(RandFlip(prob=0.5, spatial_axis=1))
    if recipe.aug_vflip:
        transforms.append(RandFlip(prob=0.5, spatial_axis=0))
    if recipe.aug_brightness:
        transforms.append(RandScaleIntensity(factors=recipe.aug_brightness, prob=1.0))
    if recipe.aug_contrast:
        transforms.append(RandScaleIntensityFixedMean(factors=recipe.aug_contrast, prob=1.0))
    pipeline = Compose(transforms)

    def augment(images: torch.Tensor, seed: int) -> torch.Tensor:
        out = torch.empty(images.shape, dtype=torch.float32)
        for i, image in enumerate(images.float()):
            pipeline.set_random_state(seed=(seed * 7919 + i) % (2**32))
            out[i] = torch.as_tensor(pipeline(image)).clamp_(0, 255)
        return out

    return augment


def monai_with(images: torch.Tensor, params: AugmentParams, fill: str) -> torch.Tensor:
    """MONAI's per-image transforms with the batched path's parameters."""
    return torch.stack([monai_reference(image, params, i, fill) for i, image in enumerate(images)])


def images_per_second(
    augment: Callable[[torch.Tensor, int], torch.Tensor], images: torch.Tensor, repeats: int
) -> float:
    augment(images, 0)  # warm-up (MONAI's lazy imports, allocations)
    seconds = []
    for repeat in range(repeats):
        started = time.perf_counter()
        augment(images, repeat + 1)
        seconds.append(time.perf_counter() - started)
    return len(images) / statistics.median(seconds)


def part_augmentation(recipe: Recipe, train: PreparedSplit, args: argparse.Namespace) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        images, _ = next(train.batches(args.aug_batch))
        size = images.shape[-1]
        active = {
            name: getattr(recipe, name) for name in AUG_FIELDS if getattr(recipe, name) != getattr(Recipe(), name)
        }
        print(f"\n1. augmentation alone, one thread, batch {len(images)} at {size} px; recipe {active}")
        per_image = images_per_second(monai_per_image(recipe, size), images, args.aug_repeats)
        batched_augmenter = BatchAugmenter(recipe)
        batched = images_per_second(batched_augmenter, images, args.aug_repeats)
        ratio = batched / per_image
        verdict = "meets goal" if ratio >= AUGMENT_GOAL else "MISSES goal"
        print(f"   MONAI per image   {per_image:10.1f} images/s")
        print(f"   batched           {batched:10.1f} images/s")
        print(f"   ratio batched / per image = {ratio:.1f} (goal >= {AUGMENT_GOAL:.0f}): {verdict}")
        params = batched_augmenter.draw(len(images), seed=1)
        difference = batched_augmenter.apply(images, params) - monai_with(
            images, params, batched_augmenter.padding_mode
        )
        print(
            f"   same parameters, batched vs MONAI per image: max |difference| {float(difference.abs().max()):.2e}, "
            f"mean {float(difference.abs().mean()):.2e} grey levels (of 255)"
        )
    finally:
        torch.set_num_threads(threads)


def part_pipeline(recipe: Recipe, train: PreparedSplit, device: torch.device, args: argparse.Namespace) -> None:
    augment = build_augmenter(recipe)
    shuffle = torch.Generator().manual_seed(args.seed)
    batches = train.batches(recipe.batch_size, shuffle)
    n = 0
    first = True
    started = time.perf_counter()
    with Prefetcher(islice(batches, args.pipeline_batches + 1), device) as fetched:
        for index, (images, _) in enumerate(fetched):
            if augment is not None:
                images = augment(images, index)
            x = normalise(images, recipe, device)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if first:  # the first batch pays the thread's start and the first allocations
                started, first = time.perf_counter(), False
                continue
            n += len(x)
    seconds = time.perf_counter() - started
    print(
        f"\n2. input pipeline alone on {device} ({torch.get_num_threads()} threads): cache gather (prefetch thread), "
        f"transfer, augmentation, normalisation to {recipe.in_chans} channels; batch {recipe.batch_size}"
    )
    print(f"   {n / seconds:10.1f} images/s ({n} images in {seconds:.2f} s)")


def part_epoch(
    recipe: Recipe,
    task_problem: str,
    train: PreparedSplit,
    val: PreparedSplit,
    device: torch.device,
    args: argparse.Namespace,
) -> None:
    spec = MODELS.get(args.model)
    size = recipe.image_size or train.images.shape[-1]
    inputs = ModelInputs(num_outputs(recipe, task_problem, train.targets.shape[1]), recipe.in_chans, size)
    plain = recipe.with_overrides({name: getattr(Recipe(), name) for name in AUG_FIELDS})
    steps = args.steps
    arms = {"augmented": recipe, "unaugmented": plain}

    def run(arm_recipe: Recipe, steps: int | None) -> tuple[float, float]:
        with torch.random.fork_rng():
            torch.manual_seed(args.seed)
            model = spec.build(inputs, arm_recipe)
        timed = arm_recipe.with_overrides({"epochs": 1, "steps_per_epoch": steps})
        with tempfile.TemporaryDirectory(prefix="cxrbench-pipeline-") as tmp:
            started = time.perf_counter()
            result = fit(model, timed, task_problem, train, val, FitOptions(Path(tmp) / "c.pt", args.seed, device))
            seconds = time.perf_counter() - started
        return seconds, result.history[-1]["train_loss"]

    n_steps = steps if steps is not None else -(-len(train) // recipe.batch_size)
    print(
        f"\n3. {args.model} training epoch through benchmark's loop on {device} ({torch.get_num_threads()} threads): "
        f"{n_steps} steps of {recipe.batch_size} ({n_steps * recipe.batch_size} of {len(train)} training images), "
        f"stage of epoch 1 (frozen_epochs={recipe.frozen_epochs}), validation on {len(val)} images"
    )
    run(plain, 2)  # warm-up: allocator, kernels, imports
    seconds: dict[str, list[float]] = {name: [] for name in arms}
    for repeat in range(args.repeats):
        order = list(arms) if repeat % 2 == 0 else list(reversed(arms))
        for name in order:
            spent, loss = run(arms[name], steps)
            seconds[name].append(spent)
            print(f"   repeat {repeat + 1}/{args.repeats} {name:<12} {spent:8.2f} s  train loss {loss:.4f}", flush=True)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    for name in arms:
        print(f"   {name:<12} {median[name]:8.2f} s  {n_steps * recipe.batch_size / median[name]:8.1f} images/s")
    ratio = median["augmented"] / median["unaugmented"]
    verdict = "meets goal" if ratio <= EPOCH_GOAL else "MISSES goal"
    print(f"   ratio augmented / unaugmented = {ratio:.3f} (goal <= {EPOCH_GOAL}): {verdict}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    task = TASKS.get(args.task)
    spec = MODELS.get(args.model)
    recipe = spec.recipe.with_overrides(parse_overrides(args.overrides))
    if build_augmenter(recipe) is None:
        print(f"model {args.model!r} declares no augmentation", file=sys.stderr)
        return 2
    device = default_device()
    size = recipe.image_size or task.native_image_size
    loading = time.perf_counter()
    data = task.load_data(args.data_root)
    train, val = data.prepare("train", size), data.prepare("val", size)
    val = PreparedSplit(
        val.image_ids[: args.val_images],
        val.patient_ids[: args.val_images],
        val.images,
        val.rows[: args.val_images],
        val.targets[: args.val_images],
    )
    print(
        f"{task.name} / {args.model}: {len(train)} train images at {size} px, device {device}, "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs; data ready in "
        f"{time.perf_counter() - loading:.1f} s"
    )
    part_augmentation(recipe, train, args)
    part_pipeline(recipe, train, device, args)
    if args.steps != 0:
        part_epoch(recipe, task.problem, train, val, device, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
