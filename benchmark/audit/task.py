"""A task whose images are masked: the same spec, split and test images, with ``mask`` in its hash.

``MaskedTask`` is a ``Task`` with one more field, ``mask`` (the condition and the bounds). A non-default
field enters ``Task.task_hash``, so a masked run's record carries another task hash than the task's
own runs and is never ranked with them (``benchmark.results.standings`` ranks one hash at a time).
Its data is the task's own (same split check, same prepared cache); only the images a split hands
to training and inference are masked, lazily, batch by batch (``MaskedImages``), so no copy of
the cache is made.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmark.audit.mask import LungMask
from benchmark.data.dataset import TaskData
from benchmark.tasks.spec import Task

if TYPE_CHECKING:
    from benchmark.data.prepared import PreparedSplit


class MaskedImages:
    """A read view of a uint8 image array (N, H, W) that masks whatever rows are read from it."""

    def __init__(self, images: np.ndarray, mask: LungMask, condition: str) -> None:
        self.images, self.mask, self.condition = images, mask, condition
        self.shape, self.dtype = images.shape, images.dtype

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: Any) -> np.ndarray:
        return self.mask.apply(np.asarray(self.images[index]), self.condition)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.mask.apply(np.asarray(self.images), self.condition)
        return out if dtype is None else out.astype(dtype)


@dataclass
class MaskedTaskData(TaskData):
    """The task's data (its ``task`` is the unmasked task, so the prepared cache is shared) whose splits
    hand out masked images."""

    lung_mask: LungMask = dataclasses.field(default_factory=LungMask)
    condition: str = ""

    def prepare(self, split: str, size: int, skip_corrupt: bool = False) -> PreparedSplit:
        prepared = super().prepare(split, size, skip_corrupt)
        return dataclasses.replace(prepared, images=MaskedImages(prepared.images, self.lung_mask, self.condition))


@dataclass(frozen=True)
class MaskedTask(Task):
    mask: dict[str, Any] | None = None  # {"condition", "rows", "cols", "fill"}; None: not masked

    @classmethod
    def of(cls, task: Task, mask: LungMask, condition: str) -> MaskedTask:
        values = {f.name: getattr(task, f.name) for f in dataclasses.fields(Task)}
        # a masked model would score external images unmasked: meaningless numbers in its record
        values["external"] = None
        return cls(**values, mask={"condition": condition, **mask.to_dict()})

    @property
    def lung_mask(self) -> LungMask:
        spec = self.mask or {}
        return LungMask(tuple(spec["rows"]), tuple(spec["cols"]), int(spec["fill"]))

    @property
    def condition(self) -> str:
        return str((self.mask or {})["condition"])

    def unmasked(self) -> Task:
        return Task(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Task)})

    def load_data(self, data_root: str | os.PathLike[str] | None, verify: bool = True) -> TaskData:
        """The task's own data (split checked against its pin), whose splits mask their images."""
        if self.mask is None:
            return super().load_data(data_root, verify)
        data = self.unmasked().load_data(data_root, verify)
        values = {f.name: getattr(data, f.name) for f in dataclasses.fields(TaskData)}
        return MaskedTaskData(**values, lung_mask=self.lung_mask, condition=self.condition)
