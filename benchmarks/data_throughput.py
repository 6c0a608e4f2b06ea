"""Images per second fed to a consumer: the prepared cache against per-item file decoding.

The reference decodes each image file per item inside a torch DataLoader with one worker
per core, as torchxrayvision's datasets do (read the file, grayscale, resize to 224 on every
access). The candidate reads 224x224 batches from the memory-mapped prepared cache. Both feed
the same minimal consumer (it takes the uint8 batch and reads one pixel per image), so what is
timed is the feeding alone; over the same images.

    .venv/bin/python benchmarks/data_throughput.py [--task covid3] [--data-root ../shared/data] [--passes 20]

Goal: ratio >= 20 and >= 5,000 images/s per core from the cache.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch
from _args import add_data_root  # first: puts this checkout on sys.path
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from benchmark.data.cache import CACHE_ENV, prepare_cache
from benchmark.tasks import TASKS

SIZE = 224


class PerItemDecode(Dataset):
    """What per-item loaders do: open, decode, grayscale and resize the file at every access."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as image:
            pixels = np.asarray(image.convert("L").resize((SIZE, SIZE), Image.Resampling.BILINEAR))
        return torch.from_numpy(pixels.copy()).unsqueeze(0)


def consume(batch: torch.Tensor) -> int:
    return int(batch[:, 0, 0, 0].sum())


def time_cache(split, batch_size: int, passes: int) -> float:
    started, n = time.perf_counter(), 0
    for epoch in range(passes):
        for images, _ in split.batches(batch_size, torch.Generator().manual_seed(epoch)):
            consume(images)
            n += len(images)
    return n / (time.perf_counter() - started)


def time_per_item(paths: list[str], batch_size: int, workers: int) -> float:
    loader = DataLoader(PerItemDecode(paths), batch_size=batch_size, shuffle=True, num_workers=workers)
    started, n = time.perf_counter(), 0
    for images in loader:
        consume(images)
        n += len(images)
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="covid3")
    add_data_root(parser)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--passes", type=int, default=20, help="passes over the cache (the per-item side does one)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as cache:
        os.environ[CACHE_ENV] = cache
        data = TASKS.get(args.task).load_data(args.data_root)
        started = time.perf_counter()
        prepare_cache(data, SIZE)
        prepare_seconds = time.perf_counter() - started
        split = data.prepare("train", SIZE)
        paths = data.frame.loc[data.frame["split"] == "train", "location"].tolist()
        cached = time_cache(split, args.batch_size, args.passes)
        per_item = time_per_item(paths, args.batch_size, cores)
    print(f"{args.task}: {len(paths)} training images, {SIZE}x{SIZE}, batch {args.batch_size}, {cores} cores")
    print(f"  one-off prepare (all cores)   {prepare_seconds:8.1f} s")
    print(f"  per-item decode (DataLoader)  {per_item:10.0f} images/s")
    print(f"  prepared cache                {cached:10.0f} images/s  ({cached / cores:.0f} per core)")
    ratio = cached / per_item
    print(f"ratio cache/per-item = {ratio:.1f} (goal >= 20): {'meets goal' if ratio >= 20 else 'BELOW goal'}")
    verdict = "meets goal" if cached / cores >= 5000 else "BELOW goal"
    print(f"cache per core = {cached / cores:.0f} images/s (goal >= 5000): {verdict}")


if __name__ == "__main__":
    main()
