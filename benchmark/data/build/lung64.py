"""Build the ``lung3_64`` npz (healthy / pre-existing condition / effusion or mass, 64x64) from NIH ChestX-ray14.

Classes come from NIH's Data_Entry CSV by the rules in ``tasks/lung3_64.yaml`` (``source.from_nih14``);
images are found by their NIH file name anywhere under an image folder, whatever sub-folders hold
them. The npz is written deterministically (sorted by image id, fixed zip timestamps) under a
temporary name and renamed, so the same inputs give a byte-identical file and a crash leaves none.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.data.dataset import DataSpec
from benchmark.data.images import read_image, to_array
from benchmark.data.sources.nih14 import FINDINGS, NO_FINDING, find_data_entry, label_matrix, read_data_entry
from benchmark.errors import ConfigError, DataFormatError, DatasetNotFoundError

log = logging.getLogger(__name__)

TASK = "lung3_64"
SIZE = 64
NIH_NAME = re.compile(r"^\d{8}_\d{3}\.png$")
_SERIAL_BELOW = 2048  # fewer images than this decode in-process (a worker pool costs more than it saves)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def class_rules(task_source: dict[str, Any], labels: tuple[str, ...]) -> list[dict[str, Any]]:
    """The task's ``from_nih14`` rules, checked: each names a task label and NIH findings; the last is ``otherwise``."""
    rules = task_source.get("from_nih14")
    known = {*FINDINGS, NO_FINDING}
    if not isinstance(rules, list) or not rules:
        raise ConfigError(f"task {TASK}: source.from_nih14 must be a list of rules")
    for rule in rules:
        if rule.get("label") not in labels:
            raise ConfigError(f"task {TASK}: rule {rule} names a label not in {list(labels)}")
        if set(rule) not in ({"label", "any_of"}, {"label", "otherwise"}):
            raise ConfigError(f"task {TASK}: rule {rule} must have `label` and either `any_of` or `otherwise: true`")
        if unknown := sorted(set(rule.get("any_of", [])) - known):
            raise ConfigError(f"task {TASK}: rule {rule} names {unknown}, not NIH findings {sorted(known)}")
    if rules[-1].get("otherwise") is not True:
        raise ConfigError(f"task {TASK}: the last rule of source.from_nih14 must be `otherwise: true`")
    if unused := sorted(set(labels) - {r["label"] for r in rules}):
        raise ConfigError(f"task {TASK}: no rule of source.from_nih14 gives the labels {unused}")
    return rules


def assign_classes(findings: pd.Series, rules: list[dict[str, Any]], labels: tuple[str, ...]) -> np.ndarray:
    """Class index (in ``labels`` order) of each ``Finding Labels`` value: the first matching rule wins."""
    sets = findings.str.split("|").map(lambda values: {v.strip() for v in values})
    classes = np.full(len(findings), -1, dtype=np.int64)
    for rule in rules:
        wanted = set(rule.get("any_of", []))
        matches = np.fromiter((rule.get("otherwise") is True or bool(s & wanted) for s in sets), bool, len(sets))
        classes[(classes < 0) & matches] = labels.index(rule["label"])
    return classes


def find_nih_images(image_root: Path, known: set[str]) -> dict[str, Path]:
    """NIH file name -> path for every PNG under ``image_root`` named in the CSV (one listing per folder)."""
    if not image_root.is_dir():
        raise DatasetNotFoundError(f"image folder {image_root} does not exist; pass the folder that holds NIH's PNGs")
    found: dict[str, Path] = {}
    for folder, _, files in sorted(os.walk(image_root)):
        for name in sorted(files):
            if name in known:
                path = Path(folder) / name
                if name in found:
                    raise DataFormatError(
                        f"NIH image {name} is both {found[name]} and {path}; keep one copy under {image_root}"
                    )
                found[name] = path
            elif NIH_NAME.match(name):
                raise DataFormatError(
                    f"{Path(folder) / name} has an NIH file name that the Data_Entry CSV does not list; "
                    "the images and the metadata come from different releases"
                )
    if not found:
        raise DatasetNotFoundError(f"no NIH ChestX-ray14 PNGs (e.g. 00000001_000.png) under {image_root}")
    return found


def _decode(path: str) -> np.ndarray:
    return to_array(read_image(Path(path)), SIZE, 1)[0]


def decode_all(paths: list[str], workers: int) -> np.ndarray:
    """(N, 64, 64) uint8 grayscale, bilinear-resized exactly as the training pipeline resizes."""
    if len(paths) < _SERIAL_BELOW or workers <= 1:
        arrays = [_decode(p) for p in paths]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            arrays = list(pool.map(_decode, paths, chunksize=64))
    return np.stack(arrays) if arrays else np.zeros((0, SIZE, SIZE), np.uint8)


def write_npz(out: Path, arrays: dict[str, np.ndarray]) -> Path:
    """``np.savez_compressed`` with fixed zip timestamps, written to a temporary name and renamed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as handle:
                    np.lib.format.write_array(handle, np.ascontiguousarray(array), allow_pickle=False)
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return out


def build_lung3_64(
    task: DataSpec,
    metadata_root: Path,
    image_root: Path,
    out: Path,
    rules: list[dict[str, Any]] | None = None,
    workers: int | None = None,
) -> Path:
    """Write ``out`` (npz: images, labels, image_ids, patient_ids) from the NIH images under ``image_root``.

    ``task`` is the ``lung3_64`` task (the caller passes the registered one: the data stage does not
    read the task registry); its labels are the classes. ``metadata_root`` holds NIH's Data_Entry CSV
    (the NIH folder itself or a data root with ``nih14/``); ``rules`` default to the task file's
    ``source.from_nih14``. Returns ``out``.
    """
    rules = class_rules({"from_nih14": rules} if rules is not None else task.source, task.labels)
    csv_path = find_data_entry(Path(metadata_root))
    entries = read_data_entry(csv_path)
    label_matrix(entries, [*FINDINGS, NO_FINDING], csv_path)  # rejects findings NIH does not have
    found = find_nih_images(Path(image_root), set(entries["image_id"]))
    chosen = entries[entries["image_id"].isin(found)].sort_values("image_id").reset_index(drop=True)
    classes = assign_classes(chosen["findings"], rules, task.labels)
    images = decode_all([str(found[i]) for i in chosen["image_id"]], workers or os.cpu_count() or 1)
    log.info("lung3_64: %d images from %s, class counts %s", len(chosen), image_root, np.bincount(classes).tolist())
    arrays = {
        "images": images,
        "labels": classes.astype(np.uint8),
        "image_ids": chosen["image_id"].to_numpy(dtype=str),
        "patient_ids": chosen["patient_id"].to_numpy(dtype=str),
    }
    return write_npz(Path(out), arrays)
