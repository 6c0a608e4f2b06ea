"""The bundle's split listing: which image ids are in train, val and test.

From the task's data when a data root that gives the pinned split is at hand: the canonical listing
(``benchmark.data.split.split_sha256``: one ``image_id<TAB>split`` line per image, sorted), so its
sha256 is the task's ``split_sha256`` and anyone can check it. Without the data, the test images (and the
validation images, where a run saved its validation predictions) are listed from the prediction files in
the same form, and the manifest says so: train cannot be listed then.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from benchmark.data.root import DATA_ROOT_ENV
from benchmark.data.split import split_sha256
from benchmark.errors import BenchmarkError
from benchmark.tasks import Task

log = logging.getLogger(__name__)

FROM_DATA = "splits/split.tsv"  # every image: its sha256 is the task's split_sha256
FROM_PREDICTIONS = "splits/from_predictions.tsv"  # test (and val) images only, from the prediction files


@dataclass(frozen=True)
class SplitListing:
    path: str  # the member's path in the bundle
    text: str
    source: str  # "data" or "predictions"
    note: str

    def manifest(self) -> dict[str, str]:
        return {"file": self.path, "source": self.source, "note": self.note}


def listing_text(ids: Iterable[str], splits: Iterable[str]) -> str:
    """The canonical listing: ``image_id<TAB>split`` lines sorted (what ``split_sha256`` hashes)."""
    return "".join(sorted(f"{i}\t{s}\n" for i, s in zip(ids, splits, strict=True)))


def parse_listing(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), sep="\t", names=["image_id", "split"], dtype=str, keep_default_na=False)


def from_data(task: Task, roots: Iterable[str | None]) -> tuple[SplitListing | None, list[str]]:
    """The listing from the first data root that gives the task's pinned split; else None, with why per root."""
    tried: list[str] = []
    for root in dict.fromkeys(r for r in roots if r):
        if not os.path.isdir(root):
            tried.append(f"{root}: not a folder here")
            continue
        try:
            data = task.load_data(root)  # checks the split against the pinned hash
        except (BenchmarkError, OSError) as exc:
            tried.append(f"{root}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        text = listing_text(data.frame["image_id"].astype(str), data.frame["split"].astype(str))
        assert split_sha256(data.frame) == task.split_sha256  # load_data verified it
        note = (
            f"every image of the pinned split, read from the data under {root}; the file's sha256 is the task's "
            f"split_sha256 {task.split_sha256}"
        )
        return SplitListing(FROM_DATA, text, "data", note), tried
    return None, tried


def from_predictions(test: pd.DataFrame, val: pd.DataFrame | None, tried: list[str]) -> SplitListing:
    """The test images (and val images, when a run saved validation predictions) from prediction tables."""
    frames = [test[["image_id"]].assign(split="test")]
    if val is not None:
        frames.append(val[["image_id"]].assign(split="val"))
    rows = pd.concat(frames, ignore_index=True)
    why = "; ".join(tried) if tried else f"no data root given (--data-root or {DATA_ROOT_ENV})"
    listed = "test and val" if val is not None else "test"
    note = (
        f"the data was not at hand ({why}): the {listed} images are listed from the runs' prediction files; "
        "train is not listed. Exported again with the data root, the bundle lists every image (sha256 = split_sha256)"
    )
    text = listing_text(rows["image_id"].astype(str), rows["split"])
    return SplitListing(FROM_PREDICTIONS, text, "predictions", note)


def data_root_candidates(explicit: str | None, recorded: Iterable[str]) -> list[str | None]:
    """Where to look for the data: the root asked for, ``$CXRBENCH_DATA``, then the roots the runs recorded."""
    return [explicit, os.environ.get(DATA_ROOT_ENV), *sorted(set(recorded))]
