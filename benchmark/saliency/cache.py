"""A run's saliency cache: ``<run_dir>/saliency/maps.npz`` + ``<run_dir>/saliency/index.json``.

``maps.npz`` holds ``images`` (N, H, W) uint8, the sampled test images at the model's input
resolution as the model saw them (before normalisation), and ``maps`` (M, H, W) float16 in [0, 1].
``index.json`` says what each array row is (its ``entries`` name image, class and method of
every map), how they were made, and the box scores. Both files are written under temporary
names and renamed; the index, written last, holds the sha256 of ``maps.npz``, so a reader never
pairs an index with maps it does not describe. The run's record.json is never touched.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.download import file_digest
from benchmark.errors import SaliencyCacheError
from benchmark.results.store import write_atomically, write_json

SALIENCY_DIR = "saliency"
INDEX_FILE = "index.json"
MAPS_FILE = "maps.npz"
CACHE_SCHEMA = 1


@dataclass(frozen=True)
class SaliencyCache:
    index: dict[str, Any]
    images: np.ndarray  # (N, H, W) uint8
    maps: np.ndarray  # (M, H, W) float16, row i described by index["entries"][i]


def cache_key(parameters: dict[str, Any]) -> str:
    """Identity of what a cache was computed from (record, weights, settings)."""
    return hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()


def cache_dir(run_dir: Path) -> Path:
    return run_dir / SALIENCY_DIR


def read_index(run_dir: Path) -> dict[str, Any] | None:
    """The cache's index, or None when the run has none (or an unreadable one)."""
    path = cache_dir(run_dir) / INDEX_FILE
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return index if isinstance(index, dict) and index.get("schema") == CACHE_SCHEMA else None


def write_cache(run_dir: Path, index: dict[str, Any], images: np.ndarray, maps: np.ndarray) -> Path:
    """Write maps then index, each atomically; returns the cache folder."""
    folder = cache_dir(run_dir)
    folder.mkdir(exist_ok=True)

    def write_maps(path: Path) -> None:
        with open(path, "wb") as handle:  # a file object: np.savez would append ".npz" to a path
            np.savez_compressed(handle, images=images.astype(np.uint8), maps=maps.astype(np.float16))

    write_atomically(folder / MAPS_FILE, write_maps)
    full = {**index, "schema": CACHE_SCHEMA, "maps_sha256": file_digest(folder / MAPS_FILE, "sha256")}
    write_atomically(folder / INDEX_FILE, lambda path: write_json(path, full))
    return folder


def read_cache(run_dir: Path) -> SaliencyCache:
    """Index and arrays of a run's cache, checked against each other."""
    folder = cache_dir(run_dir)
    index = read_index(run_dir)
    maps_path = folder / MAPS_FILE
    if index is None or not maps_path.is_file():
        raise SaliencyCacheError(
            f"run {run_dir.name} has no saliency cache in {folder}; compute it with `benchmark saliency {run_dir.name}`"
        )
    if file_digest(maps_path, "sha256") != index.get("maps_sha256"):
        raise SaliencyCacheError(
            f"{maps_path} does not match {folder / INDEX_FILE} (being rewritten, or edited); reload, or re-run "
            f"`benchmark saliency {run_dir.name} --force`"
        )
    with np.load(maps_path) as arrays:
        images, maps = arrays["images"], arrays["maps"]
    if len(maps) != len(index["entries"]) or len(images) != len(index["images"]):
        raise SaliencyCacheError(f"{maps_path}: array sizes disagree with the index; re-run with --force")
    return SaliencyCache(index, images, maps)
