"""``benchmark data check``: what a data root holds for a task, and every leak or defect found.

Counts of images, patients and labels per split; patients found in two splits; images
byte-identical or near-identical (256-bit difference hashes within 10 bits) across splits; files the
metadata lists but the root lacks (missing) and files that do not decode (unreadable); where
``benchmark data download`` left a manifest, files whose sha256 changed since (or that are gone).
``check_problems`` names what makes the data unusable for the task; the command then exits non-zero.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from benchmark.data.dataset import DataSpec, TaskData, load_data
from benchmark.data.download import file_digest
from benchmark.data.fetch.manifest import find_manifest
from benchmark.data.fetch.plans import plan_for
from benchmark.data.images import read_image
from benchmark.data.source import SPLITS
from benchmark.errors import BenchmarkError

HASH_SIDE = 16  # 256-bit difference hash: 64 bits cannot tell chest X-rays apart (most differ by 3)
NEAR_BITS = 10  # at most this many differing bits of 256 counts as near-identical


def difference_hash(image: Image.Image) -> str:
    """256-bit dHash: brightness gradients of a 17x16 thumbnail; survives re-encoding and resizing."""
    pixels = np.asarray(image.convert("L").resize((HASH_SIDE + 1, HASH_SIDE), Image.Resampling.BILINEAR), np.int16)
    return np.packbits(pixels[:, 1:] > pixels[:, :-1]).tobytes().hex()


def _fingerprint_file(location: str) -> tuple[str | None, str | None, str | None]:
    """(sha256, dhash, error) of one image file."""
    path = Path(location)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return digest, difference_hash(read_image(path)), None
    except BenchmarkError as exc:
        return None, None, str(exc)


def check_task_data(
    task: DataSpec, data_root: str | os.PathLike[str] | None, workers: int | None = None
) -> dict[str, Any]:
    data = load_data(task, data_root, verify=False)
    frame = data.frame.reset_index(drop=True)
    fingerprints, missing = _fingerprints(data, frame, workers or os.cpu_count() or 1)
    frame = frame.assign(sha256=fingerprints["sha256"], dhash=fingerprints["dhash"])
    manifest_path, changed, gone = _against_manifest(task, data, frame)
    byte_identical = _cross_split_groups(frame, "sha256")
    identical_ids = {image_id for group in byte_identical for image_id in group["image_ids"]}
    near = [g for g in _near_identical_pairs(frame) if not set(g["image_ids"]) <= identical_ids]
    patient_splits = frame.groupby("patient_id")["split"].nunique()
    return {
        "task": task.name,
        "task_hash": task.task_hash,
        "data_root": str(data.root),
        "split_sha256": data.split_hash,
        "pinned_split_sha256": task.split_sha256,
        "split_matches_pin": data.split_hash == task.split_sha256,
        "images": data.counts(),
        "patients": data.patient_counts(),
        "labels": _label_counts(frame, task.labels),
        "patients_in_two_splits": sorted(patient_splits[patient_splits > 1].index.astype(str)),
        "removed_cross_split_duplicates": data.report.removed_duplicates,
        "byte_identical_across_splits": byte_identical,
        "near_identical_across_splits": near,
        "missing": missing,
        "unreadable": [
            {"image_id": i, "error": e} for i, e in zip(frame["image_id"], fingerprints["error"], strict=True) if e
        ],
        "download_manifest": manifest_path,
        "changed_since_download": changed,
        "missing_since_download": gone,
    }


def check_problems(report: dict[str, Any]) -> list[str]:
    """What makes the data unusable for the task: missing, unreadable or changed files, a split off its pin."""
    problems = [
        f"{len(report[key])} {key.replace('_', ' ')}"
        for key in ("missing", "unreadable", "changed_since_download", "missing_since_download")
        if report[key]
    ]
    if not report["split_matches_pin"]:
        problems.append("split does not match the pin")
    return problems


def _against_manifest(task: DataSpec, data: TaskData, frame: pd.DataFrame) -> tuple[str | None, list[str], list[str]]:
    """(manifest path, files whose sha256 differs from it, files it lists that are gone); the sha256s of
    images already hashed for the report are reused, the other files (archives, CSVs, npz) are hashed here."""
    manifest = find_manifest(data.root, plan_for(task).folder)
    if manifest is None:
        return None, [], []
    known = {
        os.path.normpath(location): digest
        for location, digest in zip(frame["location"], frame["sha256"], strict=True)
        if isinstance(digest, str)
    }
    changed, gone = [], []
    for relative, (expected, _) in sorted(manifest.files.items()):
        path = os.path.normpath(manifest.folder / relative)
        if not os.path.isfile(path):
            gone.append(relative)
        elif (known.get(path) or file_digest(Path(path), "sha256")) != expected:
            changed.append(relative)
    return str(manifest.path), changed, gone


def _fingerprints(data: TaskData, frame: pd.DataFrame, workers: int) -> tuple[pd.DataFrame, list[str]]:
    """sha256 / dhash / decode error per row, and the image ids whose file is absent."""
    out = pd.DataFrame({"sha256": None, "dhash": None, "error": None}, index=frame.index, dtype=object)
    if data.index.in_memory:
        for position, (_, row) in enumerate(frame.iterrows()):
            image = data.index.load(row)
            out.iloc[position] = [row["content_hash"], difference_hash(image), None]
        return out, []
    present = frame["location"].map(os.path.isfile)
    missing = frame.loc[~present, "image_id"].tolist()
    locations = frame.loc[present, "location"].tolist()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_fingerprint_file, locations, chunksize=max(1, len(locations) // (workers * 8) or 1)))
    if results:
        out.loc[present[present].index] = results
    return out, missing


def _near_identical_pairs(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Cross-split pairs whose dHashes differ in at most NEAR_BITS bits.

    Candidates come from NEAR_BITS + 1 bit blocks: two hashes that close agree exactly on at
    least one block (pigeonhole), so no near pair is missed and no all-pairs comparison is needed.
    """
    known = frame[frame["dhash"].notna()].reset_index(drop=True)
    if known.empty:
        return []
    bits = np.unpackbits(np.stack([np.frombuffer(bytes.fromhex(h), np.uint8) for h in known["dhash"]]), axis=1)
    splits = known["split"].to_numpy()
    pairs: set[tuple[int, int]] = set()
    for block in np.array_split(np.arange(bits.shape[1]), NEAR_BITS + 1):
        keys = [row.tobytes() for row in np.packbits(bits[:, block], axis=1)]
        for members in pd.Series(np.arange(len(keys))).groupby(keys).groups.values():
            if len(members) < 2:
                continue
            members = np.asarray(members)
            a, b = np.triu_indices(len(members), k=1)
            left, right = members[a], members[b]
            distance = np.count_nonzero(bits[left] != bits[right], axis=1)
            close = (distance <= NEAR_BITS) & (splits[left] != splits[right])
            pairs.update(zip(left[close].tolist(), right[close].tolist(), strict=True))
    groups = []
    for left, right in pairs:
        ordered = known.iloc[[left, right]].sort_values("image_id")
        groups.append({"image_ids": ordered["image_id"].tolist(), "splits": ordered["split"].tolist()})
    return sorted(groups, key=lambda g: g["image_ids"])


def _cross_split_groups(frame: pd.DataFrame, column: str) -> list[dict[str, Any]]:
    known = frame[frame[column].notna()]
    groups = []
    for _, members in known.groupby(column):
        if members["split"].nunique() > 1:
            ordered = members.sort_values("image_id")
            groups.append({"image_ids": ordered["image_id"].tolist(), "splits": ordered["split"].tolist()})
    return sorted(groups, key=lambda g: g["image_ids"])


def _label_counts(frame: pd.DataFrame, labels: tuple[str, ...]) -> dict[str, dict[str, dict[str, int]]]:
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for split in SPLITS:
        rows = frame[frame["split"] == split]
        counts[split] = {
            label: {
                "positive": int((rows[label] == 1).sum()),
                "negative": int((rows[label] == 0).sum()),
                "unknown": int(rows[label].isna().sum()),
            }
            for label in labels
        }
    return counts


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"task {report['task']} ({report['task_hash'][:12]}) at {report['data_root']}",
        f"download manifest: {report['download_manifest'] or 'none (not fetched by `benchmark data download`)'}",
        f"split sha256 {report['split_sha256']} "
        + (
            "matches the pin"
            if report["split_matches_pin"]
            else f"DOES NOT match the pin {report['pinned_split_sha256']}"
        ),
    ]
    for split in SPLITS:
        labels = ", ".join(f"{k} {v['positive']}" for k, v in report["labels"][split].items())
        counts = f"{report['images'][split]:>7} images {report['patients'][split]:>6} patients"
        lines.append(f"  {split:<5} {counts}; positives {labels}")
    for key in (
        "removed_cross_split_duplicates",
        "patients_in_two_splits",
        "byte_identical_across_splits",
        "near_identical_across_splits",
        "missing",
        "unreadable",
        "changed_since_download",
        "missing_since_download",
    ):
        items = report[key]
        lines.append(f"{key.replace('_', ' ')}: {len(items)}")
        lines.extend(f"  {item}" for item in items[:10])
        if len(items) > 10:
            lines.append(f"  ... {len(items) - 10} more (--json lists all)")
    return "\n".join(lines)
