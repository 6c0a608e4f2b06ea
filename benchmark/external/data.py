"""An external set's images under a data root: indexed by its source adapter, mapped onto the task's
labels, and prepared at the model's input size through the same cache as a task's own test images."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from benchmark.data.cache import open_or_prepare
from benchmark.data.root import resolve_data_root
from benchmark.data.source import SourceIndex
from benchmark.data.sources import SOURCES
from benchmark.errors import DatasetNotFoundError
from benchmark.external.labels import MappedFrame, apply_label_map
from benchmark.external.spec import ExternalDataMissingError, ExternalSet

if TYPE_CHECKING:
    from benchmark.data.prepared import PreparedSplit


@dataclass(frozen=True)
class _CacheKey:
    """What the prepared cache keys a folder by (``benchmark.data.cache.CachedTask``)."""

    name: str
    task_hash: str


@dataclass
class ExternalData:
    """An external set read from ``root``: the ``CacheSource`` the prepared cache builds from."""

    spec: ExternalSet
    root: Path
    index: SourceIndex
    mapped: MappedFrame
    labels: tuple[str, ...]

    @property
    def task(self) -> _CacheKey:
        return _CacheKey(f"{self.spec.task_name}-external-{self.spec.name}", self.spec.spec_hash)

    @property
    def frame(self) -> pd.DataFrame:
        return self.mapped.frame

    def prepare(self, size: int, skip_corrupt: bool = False) -> PreparedSplit:
        """The kept images at ``size`` px, targets in the task's label order (NaN = not scored)."""
        from benchmark.data.prepared import prepare_split

        cache = open_or_prepare(self, size, skip_corrupt=skip_corrupt)
        return prepare_split(cache, self.frame, list(self.labels))


def load_external(
    spec: ExternalSet,
    problem: str,
    labels: tuple[str, ...],
    class_names: tuple[str, ...],
    data_root: str | os.PathLike[str] | None,
) -> ExternalData:
    """Index the set under ``data_root`` and map its labels. ExternalDataMissingError (naming the fix)
    when the dataset, its split, or any of its images is not there."""
    root = resolve_data_root(data_root)
    adapter = SOURCES.get(spec.source["kind"])
    where = f"external set {spec.name!r} of task {spec.task_name}"
    try:
        index = adapter(root, spec.source, list(spec.source_labels), spec.source_problem)
    except DatasetNotFoundError as exc:
        raise ExternalDataMissingError(f"{where}: its data is not under {root}: {exc}") from exc
    rows = index.frame[index.frame["official_split"] == spec.official_split]
    if rows.empty:
        found = sorted(index.frame["official_split"].unique())
        raise ExternalDataMissingError(
            f"{where}: no image of official split {spec.official_split!r} under {root} (found {found}); "
            f"{spec.how_to_get}"
        )
    mapped = apply_label_map(rows, spec, problem, labels, class_names)
    if not index.in_memory:
        missing = [location for location in mapped.frame["location"] if not Path(location).is_file()]
        if missing:
            raise ExternalDataMissingError(
                f"{where}: {len(missing)} of its {len(mapped.frame)} images are missing under {root} "
                f"(e.g. {missing[0]}); {spec.how_to_get}"
            )
    return ExternalData(spec, root, index, mapped, labels)
