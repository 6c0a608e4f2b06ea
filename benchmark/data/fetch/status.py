"""``benchmark data status``: one line per task saying what its data root holds.

States: ``complete`` (every image the task lists is present and the split matches the pin), ``metadata only``
(the index files are there, under 1% of the images), ``partial``, ``missing`` (nothing the task reads),
``damaged`` (an index file that does not parse, files changed since their download, or a complete set whose
split differs from the pin), ``not built`` (a derived task whose source is present). Quick: files are
stat'ed, not decoded; ``benchmark data check`` decodes and hashes them.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmark.data.dataset import DataSpec, load_data
from benchmark.data.download import PART_SUFFIX, file_digest
from benchmark.data.fetch.manifest import Manifest, find_manifest
from benchmark.data.fetch.plans import Plan, plan_for
from benchmark.data.sources.medmnist import medmnist_path
from benchmark.data.sources.nih14 import find_data_entry
from benchmark.errors import BenchmarkError, DatasetNotFoundError

# What reading a damaged index file (npz, CSV) raises besides the adapters' typed errors.
UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile)
METADATA_ONLY_BELOW = 0.01  # fraction of images present under which the data is "metadata only"
NIH1000_FOLDER = "nih14_64px"  # where lung3_64's pinned source images live under the data root
NIH1000_IMAGES = 1000


@dataclass(frozen=True)
class TaskStatus:
    task: str
    state: str
    detail: str

    def line(self) -> str:
        return f"{self.task:<15} {self.state:<14} {self.detail}"


def task_status(task: DataSpec, root: Path) -> TaskStatus:
    plan = plan_for(task)
    status = _status(task, root, plan)
    return TaskStatus(status.task, status.state, status.detail.replace("DIR", str(root)))


def _status(task: DataSpec, root: Path, plan: Plan) -> TaskStatus:
    try:
        with _quiet("benchmark.data.sources.medmnist"):  # a re-packed npz is reported on the line itself
            data = load_data(task, root, verify=False)
    except DatasetNotFoundError:
        return _absent(task, root, plan)
    except (BenchmarkError, *UNREADABLE) as exc:
        return TaskStatus(task.name, "damaged", f"{type(exc).__name__}: {_first_line(exc)}")
    frame = data.frame
    total = len(frame)
    present = total if data.index.in_memory else int(frame["location"].map(os.path.isfile).sum())
    manifest = find_manifest(root, plan.folder)
    changed = manifest.size_mismatches() if manifest is not None else []
    pinned = data.split_hash == task.split_sha256 and data.counts() == task.expected_counts
    counts = f"{present:,} of the {total:,} images the task reads are present"
    if changed:
        return TaskStatus(
            task.name, "damaged", f"{len(changed)} file(s) differ from the download manifest, e.g. {changed[0]}"
        )
    if present == total:
        if not pinned:
            return TaskStatus(task.name, "damaged", f"{counts}, but the split differs from the task's pin")
        return TaskStatus(task.name, "complete", f"{counts}; split matches the pin" + _note(task, root, manifest))
    state = "metadata only" if present < METADATA_ONLY_BELOW * total else "partial"
    return TaskStatus(task.name, state, f"{counts}{_partials(root, plan)}; get the rest: {_how(plan)}")


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    target = logging.getLogger(logger)
    level = target.level
    target.setLevel(logging.ERROR)
    try:
        yield
    finally:
        target.setLevel(level)


def _absent(task: DataSpec, root: Path, plan: Plan) -> TaskStatus:
    if task.source["kind"] == "lung64_npz":
        source = _lung64_source(root)
        if source is not None:
            build = next(step for step in plan.steps if "benchmark data build" in step)
            return TaskStatus(task.name, "not built", f"source complete ({source}); {build[0].lower()}{build[1:]}")
    return TaskStatus(task.name, "missing", f"nothing under {root / plan.folder}{_partials(root, plan)}; {_how(plan)}")


def _lung64_source(root: Path) -> str | None:
    """What lung3_64's pinned source holds under ``root`` (NIH metadata + the NIH1000 images), or None."""
    try:
        csv = find_data_entry(root)
    except DatasetNotFoundError:
        return None
    folder = root / NIH1000_FOLDER
    images = sum(1 for p in folder.rglob("*.png")) if folder.is_dir() else 0
    if images != NIH1000_IMAGES:
        return None
    return f"NIH metadata {csv.relative_to(root)} and {images:,} NIH1000 images in {NIH1000_FOLDER}/"


def _how(plan: Plan) -> str:
    if plan.downloadable:
        return f"`benchmark data download {plan.task} --data-root DIR` ({plan.size})"
    return f"`benchmark data download {plan.task}` prints the steps"


def _partials(root: Path, plan: Plan) -> str:
    folder = root / plan.folder
    parts = list(folder.glob(f"*{PART_SUFFIX}")) if folder.is_dir() else []
    return f"; {len(parts)} interrupted download(s) ({PART_SUFFIX}) to resume" if parts else ""


def _note(task: DataSpec, root: Path, manifest: Manifest | None) -> str:
    if task.source["kind"] == "medmnist" and file_digest(medmnist_path(root, task.source)) != task.source["md5"]:
        return "; not MedMNIST's published file (md5 differs: a re-packed copy)"
    return "; files match the download manifest's lengths" if manifest is not None else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text if len(text) <= 200 else text[:197] + "..."
