"""Where a task's files are: ``--data-root`` or ``$CXRBENCH_DATA``."""

from __future__ import annotations

import os
from pathlib import Path

from benchmark.errors import DatasetNotFoundError

DATA_ROOT_ENV = "CXRBENCH_DATA"


def resolve_data_root(data_root: str | os.PathLike[str] | None) -> Path:
    """The data root the user named, from the argument or the environment."""
    chosen = data_root if data_root is not None else os.environ.get(DATA_ROOT_ENV)
    if not chosen:
        raise DatasetNotFoundError(
            f"no data root given: pass --data-root DIR or set {DATA_ROOT_ENV}=DIR "
            "(the folder that holds the dataset as its publisher distributes it)"
        )
    root = Path(chosen).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(f"data root {root} is not a directory; check --data-root / {DATA_ROOT_ENV}")
    return root


def find_dataset_dir(root: Path, marker: str, folder: str, how_to_get: str) -> Path:
    """The directory under ``root`` that holds ``marker``.

    A user may point at the dataset's own folder or at a parent that holds several
    datasets, so both ``root/marker`` and ``root/folder/marker`` are accepted.
    """
    for candidate in (root, root / folder):
        if (candidate / marker).exists():
            return candidate
    raise DatasetNotFoundError(f"expected {marker} under {root} or {root / folder}; {how_to_get}")
