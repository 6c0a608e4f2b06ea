"""``benchmark verify BUNDLE``: a bundle checked with nothing but itself and the installed package.

1. Checksums: every member's sha256 against SHA256SUMS and the manifest; a missing, unlisted or altered
   member is named (with its run).
2. Every run: its record read and of the bundled task's hash, its prediction files against the sha256 its
   record holds, then re-scored from them by the bundled task's evaluation with the record's thresholds and
   bootstrap settings (``rescore``); any difference names the run, the file and the metric.
3. The split listing: from the data, its sha256 is the task's split_sha256; every run's test (and val)
   images are the listing's.
4. The standings rendered again from the bundled runs with the recorded options equal the bundled files.
Any failure raises a typed error (exit code 2 through the CLI); nothing is written but a temporary folder.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow

from benchmark.bundle import archive, layout, splits
from benchmark.bundle.errors import BundleChecksumError, BundleFormatError, BundleMismatchError
from benchmark.bundle.rescore import RESCORE_TOLERANCE, rescore_differences
from benchmark.bundle.standings import OPTION_NAMES, bundle_standings, rendered
from benchmark.errors import ConfigError
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.store import PREDICTIONS_FILE, VAL_PREDICTIONS_FILE
from benchmark.tasks import Task, load_task_file


@dataclass
class Verified:
    """What ``verify_bundle`` checked."""

    path: Path
    top: str
    task: str
    task_hash: str
    members: int = 0
    runs: list[str] = field(default_factory=list)
    metrics: int = 0  # metric values (each with its CI) re-scored and compared
    split: str = ""
    standings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def text(self) -> str:
        return "\n".join(
            [
                f"bundle {self.path} ({self.top}) verified in {self.seconds:.1f} s:",
                f"  {self.members} members: sha256 equal to SHA256SUMS and manifest.json; none missing, none extra",
                f"  task {self.task} (hash {self.task_hash[:12]}): the bundled task file has the runs' hash",
                f"  {len(self.runs)} runs re-scored from their prediction files: {self.metrics} metric values with "
                f"their CIs equal to the records (tolerance {RESCORE_TOLERANCE:g}); bootstrap settings, thresholds "
                "and confusion matrices equal",
                f"  split listing: {self.split}",
                f"  standings re-rendered from the bundled runs, identical: {', '.join(self.standings)}",
            ]
        )


def verify_bundle(path: Path) -> Verified:
    started = time.perf_counter()
    path = Path(path)
    top, members = archive.read_archive(path)
    check_checksums(path, top, members)
    manifest = _manifest(path, members)
    task = _task(path, manifest, members)
    result = Verified(path, top, task.name, task.task_hash, members=len(members))
    runs = _run_ids(path, members)
    with tempfile.TemporaryDirectory(prefix="cxrbench-verify-") as staging:
        runs_root = Path(staging) / layout.RUNS
        tables: dict[str, tuple[pd.DataFrame, pd.DataFrame | None]] = {}
        for run_id in runs:
            record, test, val = _check_run(path, task, run_id, members)
            tables[run_id] = (test, val)
            result.metrics += len(record.metrics)
            folder = runs_root / run_id
            folder.mkdir(parents=True)
            for name in layout.RUN_FILES:
                if layout.run_member(run_id, name) in members:
                    (folder / name).write_bytes(members[layout.run_member(run_id, name)])
        result.runs = runs
        result.split = _check_split(path, task, manifest, members, tables)
        options = {name: manifest["options"].get(name) for name in OPTION_NAMES}
        texts = rendered(bundle_standings(runs_root, task, options))
    for member, text in texts.items():
        if members.get(member, b"").decode(errors="replace") != text:
            raise BundleMismatchError(
                f"{path}: {member} differs from the standings rendered again from the bundled runs "
                f"({_first_difference(members.get(member, b'').decode(errors='replace'), text)}); the table was "
                "edited after the runs were bundled: this bundle cannot be trusted"
            )
    result.standings = sorted(texts)
    result.seconds = time.perf_counter() - started
    return result


def check_checksums(path: Path, top: str, members: dict[str, bytes]) -> None:
    """Every member listed in SHA256SUMS with its sha256, none more, none fewer; the manifest agrees."""
    if archive.SUMS_FILE not in members:
        raise BundleChecksumError(f"{path}: {top}/{archive.SUMS_FILE} is missing; not a CXR-Bench bundle, or damaged")
    listed = archive.parse_sums(members[archive.SUMS_FILE].decode(errors="replace"), f"{path}: {archive.SUMS_FILE}")
    present = set(members) - {archive.SUMS_FILE}
    missing = sorted(set(listed) - present)
    problems = [f"{layout.described(name)} is listed in SHA256SUMS but missing" for name in missing]
    problems += [f"{layout.described(name)} is not listed in SHA256SUMS" for name in sorted(present - set(listed))]
    for name in sorted(present & set(listed)):
        found = archive.sha256(members[name])
        if found != listed[name]:
            problems.append(
                f"{layout.described(name)} has sha256 {found}, SHA256SUMS holds {listed[name]} (altered or damaged)"
            )
    if not problems and layout.MANIFEST in members:
        recorded = _manifest(path, members).get("members", {})
        expected = {name: digest for name, digest in listed.items() if name != layout.MANIFEST}
        for name in sorted(set(recorded) | set(expected)):
            if recorded.get(name) != expected.get(name):
                problems.append(
                    f"{layout.described(name)}: manifest.json holds sha256 {recorded.get(name)}, SHA256SUMS "
                    f"{expected.get(name)} (one of them was edited)"
                )
    if problems:
        raise BundleChecksumError(
            f"{path}: {len(problems)} member(s) fail their checksums; this bundle cannot be trusted, fetch it again "
            "from its deposit:\n  " + "\n  ".join(problems)
        )


def _manifest(path: Path, members: dict[str, bytes]) -> dict[str, Any]:
    try:
        manifest = json.loads(members[layout.MANIFEST])
    except KeyError:
        raise BundleFormatError(f"{path}: {layout.MANIFEST} is missing; not a CXR-Bench bundle") from None
    except ValueError as exc:
        raise BundleFormatError(f"{path}: {layout.MANIFEST} is not JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != layout.FORMAT:
        raise BundleFormatError(f"{path}: {layout.MANIFEST} is not a CXR-Bench bundle manifest")
    if manifest.get("format_version") != layout.FORMAT_VERSION:
        raise BundleFormatError(
            f"{path}: bundle format version {manifest.get('format_version')!r}; this CXR-Bench reads version "
            f"{layout.FORMAT_VERSION}: verify it with the CXR-Bench version its environment.json names"
        )
    return manifest


def _task(path: Path, manifest: dict[str, Any], members: dict[str, bytes]) -> Task:
    """The bundled task file, loaded as a registered one is, with the hash the manifest states."""
    name, expected = manifest["task"]["name"], manifest["task"]["hash"]
    member = layout.task_member(name)
    if member not in members:
        raise BundleFormatError(f"{path}: the task file {member} is missing")
    with tempfile.TemporaryDirectory(prefix="cxrbench-task-") as folder:
        file = Path(folder) / f"{name}.yaml"
        file.write_bytes(members[member])
        try:
            task = load_task_file(file)
        except ConfigError as exc:
            raise BundleFormatError(f"{path}: {member} is not a valid task file: {exc}") from exc
    if task.task_hash != expected:
        raise BundleMismatchError(
            f"{path}: {member} has task hash {task.task_hash}, the manifest {expected}: not the task file that scored "
            "the runs"
        )
    return task


def _run_ids(path: Path, members: dict[str, bytes]) -> list[str]:
    runs = sorted({run for name in members if (run := layout.run_of(name)) is not None})
    for name in members:
        run = layout.run_of(name)
        if name.startswith(f"{layout.RUNS}/") and (run is None or name.rsplit("/", 1)[1] not in layout.RUN_FILES):
            raise BundleFormatError(f"{path}: {name} is not a run's record or prediction file")
    missing = [run for run in runs if layout.run_member(run, RECORD_FILE) not in members]
    if missing:
        raise BundleFormatError(f"{path}: run folder(s) without record.json: {missing}")
    if not runs:
        raise BundleFormatError(f"{path}: holds no runs")
    return runs


def _check_run(
    path: Path, task: Task, run_id: str, members: dict[str, bytes]
) -> tuple[RunRecord, pd.DataFrame, pd.DataFrame | None]:
    """The run's record (of the task's hash), its prediction files checked against the record, and re-scored."""
    record_member = layout.run_member(run_id, RECORD_FILE)
    record = RunRecord.from_json(members[record_member].decode(errors="replace"), f"{path}: {record_member}")
    if record.run_id != run_id:
        raise BundleMismatchError(f"{path}: {record_member} is the record of run {record.run_id}, not of {run_id}")
    if record.task.hash != task.task_hash:
        raise BundleMismatchError(
            f"{path}: run {run_id} is of task hash {record.task.hash[:12]}, the bundle's task file "
            f"{task.task_hash[:12]}"
        )
    tables: dict[str, pd.DataFrame] = {}
    for name in (PREDICTIONS_FILE, VAL_PREDICTIONS_FILE):
        member = layout.run_member(run_id, name)
        listed = record.files is None or name in record.files
        if member not in members:
            if name == PREDICTIONS_FILE or (record.files is not None and name in record.files):
                raise BundleChecksumError(f"{path}: {member} (run {run_id}) is missing; its record lists it")
            continue
        if not listed:
            raise BundleChecksumError(f"{path}: {member} (run {run_id}) is not a file its record lists")
        data = members[member]
        expected = record.files.get(name) if record.files is not None else None
        if expected is not None and archive.sha256(data) != expected:
            raise BundleChecksumError(
                f"{path}: {member} (run {run_id}) has sha256 {archive.sha256(data)}, but the run's record holds "
                f"{expected}: the predictions were replaced after the run was published; this bundle cannot be trusted"
            )
        try:
            tables[name] = pd.read_parquet(io.BytesIO(data))
        except (OSError, ValueError, pyarrow.ArrowException) as exc:
            raise BundleMismatchError(f"{path}: {member} (run {run_id}) is not a readable parquet file: {exc}") from exc
    problems = rescore_differences(task, record, tables[PREDICTIONS_FILE], tables.get(VAL_PREDICTIONS_FILE))
    if problems:
        member = layout.run_member(run_id, PREDICTIONS_FILE)
        raise BundleMismatchError(
            f"{path}: run {run_id} re-scored from {member} does not give its record ({record_member}):\n  "
            + "\n  ".join(problems)
            + "\nThe predictions or the record were changed after scoring: this bundle cannot be trusted"
        )
    return record, tables[PREDICTIONS_FILE], tables.get(VAL_PREDICTIONS_FILE)


def _check_split(
    path: Path,
    task: Task,
    manifest: dict[str, Any],
    members: dict[str, bytes],
    tables: dict[str, tuple[pd.DataFrame, pd.DataFrame | None]],
) -> str:
    """The listing's hash (from the data: the task's split_sha256) and every run's images against it."""
    info = manifest["splits"]
    member = info["file"]
    if member not in members:
        raise BundleFormatError(f"{path}: the split listing {member} is missing")
    text = members[member].decode(errors="replace")
    if info["source"] == "data" and archive.sha256(members[member]) != task.split_sha256:
        raise BundleMismatchError(
            f"{path}: {member} has sha256 {archive.sha256(members[member])}, the task's split_sha256 is "
            f"{task.split_sha256}: the listing is not the pinned split"
        )
    listing = splits.parse_listing(text)
    expected = {s: set(listing.loc[listing["split"] == s, "image_id"]) for s in ("test", "val")}
    for run_id, (test, val) in tables.items():
        for split, frame in (("test", test), ("val", val)):
            if frame is None or (split == "val" and not expected["val"]):
                continue
            if set(frame["image_id"].astype(str)) != expected[split]:
                name = PREDICTIONS_FILE if split == "test" else VAL_PREDICTIONS_FILE
                raise BundleMismatchError(
                    f"{path}: {layout.run_member(run_id, name)} (run {run_id}) does not hold exactly the {split} "
                    f"images of {member}"
                )
    if info["source"] == "data":
        return f"{member} hashes to the task's split_sha256; every run's test and val images are its own"
    return f"{member} (from the prediction files, no data at export): every run's images are the listed ones"


def _first_difference(old: str, new: str) -> str:
    for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=False), 1):
        if a != b:
            return f"line {number}: bundled {a[:80]!r}, rendered {b[:80]!r}"
    return f"bundled {len(old.splitlines())} lines, rendered {len(new.splitlines())}"
