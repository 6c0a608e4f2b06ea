"""The prepared cache: every image of a task decoded once, grayscale, resized, in one memory-mapped file.

Layout of ``<cache root>/<task>-<task hash>-<data key>-<size>px/``: ``images.u8`` (N x size x size
uint8, row order of ``index.parquet``), ``index.parquet`` (image_id, row) and ``meta.json``.
The folder is built under a temporary name and renamed, so a cache that exists is complete.
Keyed by the task hash and the data, a changed task, split or data root never reads a stale cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from benchmark.data.images import read_image, to_array
from benchmark.data.source import SourceIndex
from benchmark.errors import BenchmarkError, DataFormatError

log = logging.getLogger(__name__)

CACHE_ENV = "CXRBENCH_CACHE"
IMAGES_FILE, INDEX_FILE, META_FILE = "images.u8", "index.parquet", "meta.json"


class CachedTask(Protocol):
    """What the cache reads of a task: the name and hash its folder is keyed by."""

    @property
    def name(self) -> str: ...
    @property
    def task_hash(self) -> str: ...


class CacheSource(Protocol):
    """What building a cache reads of a task's data (``benchmark.data.dataset.TaskData`` has these; the
    dataset module builds on this one, so the cache names what it needs instead of importing it)."""

    @property
    def task(self) -> CachedTask: ...
    @property
    def root(self) -> Path: ...
    @property
    def index(self) -> SourceIndex: ...
    @property
    def frame(self) -> pd.DataFrame: ...


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "cxrbench")


@dataclass
class PreparedCache:
    path: Path
    size: int
    rows: dict[str, int]  # image_id -> row in images
    images: np.ndarray  # (N, size, size) uint8, memory-mapped copy-on-write
    skipped: list[dict[str, str]]  # unreadable images left out with --skip-corrupt

    @classmethod
    def open(cls, path: Path) -> PreparedCache:
        meta = json.loads((path / META_FILE).read_text())
        index = pd.read_parquet(path / INDEX_FILE)
        shape = (len(index), meta["size"], meta["size"])
        images = (
            np.memmap(path / IMAGES_FILE, dtype=np.uint8, mode="c", shape=shape)
            if len(index)
            else np.zeros(shape, np.uint8)
        )
        rows = dict(zip(index["image_id"], index["row"].astype(int), strict=True))
        return cls(path, meta["size"], rows, images, meta["skipped"])


def cache_dir(data: CacheSource, size: int) -> Path:
    """Keyed by task hash, data root and (where hashed) image content, so nothing stale is read."""
    source = hashlib.sha256(str(data.root.resolve()).encode())
    for content in data.frame["content_hash"].fillna(""):
        source.update(content.encode())
    return cache_root() / f"{data.task.name}-{data.task.task_hash[:12]}-{source.hexdigest()[:12]}-{size}px"


def open_or_prepare(
    data: CacheSource, size: int, workers: int | None = None, skip_corrupt: bool = False
) -> PreparedCache:
    """The task's cache at ``size``, built first if it does not exist yet."""
    path = cache_dir(data, size)
    if (path / META_FILE).is_file():
        return PreparedCache.open(path)
    return prepare_cache(data, size, workers, skip_corrupt)


def prepare_cache(
    data: CacheSource, size: int, workers: int | None = None, skip_corrupt: bool = False
) -> PreparedCache:
    """Decode every image of the task (all cores), grayscale, resize to ``size``, and store it.

    Unreadable or missing images stop the build with their list, unless ``skip_corrupt``,
    which leaves them out and records them in the cache (and so in the run's split report).
    """
    final = cache_dir(data, size)
    staging = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    frame = data.frame.reset_index(drop=True)
    try:
        images = np.lib.format.open_memmap(
            staging / "staging.npy", mode="w+", dtype=np.uint8, shape=(len(frame), size, size)
        )
        failures = _decode_all(data, frame, size, images, workers or os.cpu_count() or 1)
        if failures and not skip_corrupt:
            listing = "\n".join(f"  {f['image_id']}: {f['error']}" for f in failures[:20])
            more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
            raise DataFormatError(
                f"{len(failures)} image(s) of task {data.task.name} under {data.root} could not be read:\n"
                f"{listing}{more}\nrestore them from the original download, or pass --skip-corrupt to "
                "leave them out (they are then listed in the split report)"
            )
        keep = np.setdiff1d(np.arange(len(frame)), [f["position"] for f in failures])
        with open(staging / IMAGES_FILE, "wb") as out:
            for start in range(0, len(keep), 4096):
                out.write(np.ascontiguousarray(images[keep[start : start + 4096]]).tobytes())
        del images
        (staging / "staging.npy").unlink()
        index = pd.DataFrame({"image_id": frame["image_id"].to_numpy()[keep], "row": np.arange(len(keep))})
        index.to_parquet(staging / INDEX_FILE, index=False)
        skipped = [{"image_id": f["image_id"], "error": f["error"]} for f in failures]
        meta: dict[str, Any] = {
            "task": data.task.name,
            "task_hash": data.task.task_hash,
            "size": size,
            "skipped": skipped,
        }
        (staging / META_FILE).write_text(json.dumps(meta, indent=2))
        try:
            os.replace(staging, final)
        except OSError:  # another process finished the same cache first
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("prepared cache %s (%d images, %d skipped)", final, len(keep), len(failures))
    return PreparedCache.open(final)


def _decode_all(
    data: CacheSource, frame: pd.DataFrame, size: int, out: np.ndarray, workers: int
) -> list[dict[str, Any]]:
    """Fill ``out`` row by row; returns the images that could not be read."""
    failures: list[dict[str, Any]] = []
    quiet = not os.isatty(2)
    if data.index.in_memory or workers <= 1:
        for position, (_, row) in enumerate(tqdm(frame.iterrows(), total=len(frame), disable=quiet, desc="prepare")):
            try:
                out[position] = to_array(data.index.load(row), size, 1)[0]
            except BenchmarkError as exc:
                failures.append({"position": position, "image_id": row["image_id"], "error": str(exc)})
        return failures
    paths = frame["location"].tolist()
    chunk = max(1, min(256, len(paths) // (workers * 8) or 1))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_decode_file, paths, [size] * len(paths), chunksize=chunk)
        for position, (pixels, error) in enumerate(tqdm(results, total=len(paths), disable=quiet, desc="prepare")):
            if error is None:
                out[position] = pixels
            else:
                failures.append({"position": position, "image_id": frame["image_id"].iat[position], "error": error})
    return failures


def _decode_file(location: str, size: int) -> tuple[np.ndarray | None, str | None]:
    try:
        return to_array(read_image(Path(location)), size, 1)[0], None
    except BenchmarkError as exc:
        return None, str(exc)
