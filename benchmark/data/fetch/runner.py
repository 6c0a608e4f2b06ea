"""``benchmark data download TASK``: fetch what is missing, verify it, unpack it into the task's layout.

Idempotent: a file the folder's manifest lists (and the disk still holds at the recorded lengths), a
published file already in place with its published checksum, or a task whose data is already complete in
any layout its adapter reads, is not fetched again. A file in the way that is not the published one (a
user's own copy) is never overwritten: it is kept when the task reads it, and named in an error otherwise.
The free space needed is checked before anything is written; files download in parallel (a small thread
pool), each resumable and verified on its own.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchmark.data.dataset import DataSpec, load_data
from benchmark.data.download import (
    Progress,
    RemoteFile,
    ensure_free_space,
    fetch,
    file_digest,
    format_bytes,
    partial_path,
    verify_download,
)
from benchmark.data.fetch.manifest import Manifest
from benchmark.data.fetch.plans import Item, Plan, plan_for
from benchmark.data.fetch.status import UNREADABLE
from benchmark.data.fetch.unpack import unpack_archive
from benchmark.errors import BenchmarkError, ChecksumError, ConfigError, DownloadError

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 4
SPACE_MARGIN = 1.05  # the size estimates are estimates


@dataclass
class DownloadResult:
    task: str
    folder: Path
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    transferred: int = 0
    notes: list[str] = field(default_factory=list)  # what the final check found
    problems: list[str] = field(default_factory=list)  # what makes the data unusable for the task as it stands


@dataclass
class _Options:
    base_url: str | None
    workers: int
    keep_archives: bool
    retries: int
    timeout: float


def download_task(
    task: DataSpec,
    data_root: str | os.PathLike[str],
    base_url: str | None = None,
    workers: int = DEFAULT_WORKERS,
    keep_archives: bool = False,
    retries: int = 3,
    timeout: float = 60.0,
    progress: bool | None = None,
    plan: Plan | None = None,
    metadata_only: bool = False,
) -> DownloadResult:
    """Download ``task``'s published files under ``data_root/<plan folder>`` (see the module docstring).

    ``plan`` defaults to ``plan_for(task)``; ``base_url`` (or ``$CXRBENCH_DOWNLOAD_BASE_URL``) fetches every
    file from ``<base_url>/<file name>``; ``progress`` None shows the bar when stderr is a terminal;
    ``metadata_only`` fetches the files kept as they are (NIH's CSVs and lists), not the image archives.

    ConfigError for a task whose data has no public address (``plan_for(task).steps`` says what to do);
    DiskSpaceError before anything is written; ChecksumError for a file that fails verification (it is
    deleted); DownloadError for a transfer that kept failing (its ``.part`` is kept to resume).
    """
    plan = plan or plan_for(task)
    if metadata_only:
        plan = replace(plan, items=tuple(item for item in plan.items if item.unpack is None))
    if not plan.downloadable:
        raise ConfigError(
            f"task {task.name}'s data has no public download address; `benchmark data download "
            f"{task.name}` prints the steps"
        )
    root = Path(data_root).expanduser()
    folder = root / plan.folder
    result = DownloadResult(task.name, folder)
    manifest = Manifest.load(folder) if folder.is_dir() else Manifest(folder)
    pending, conflicts = _classify(plan, folder, manifest, result)
    complete = _readable(task, root)[1] if pending else True
    if pending and complete:
        result.skipped.extend(item.remote.name for item in pending)
        result.notes.append(f"the data under {root} is already complete for {task.name}; nothing to download")
        return result
    if pending:
        options = _Options(base_url, max(1, workers), keep_archives, retries, timeout)
        _check_space(pending, folder, options, plan)
        result.transferred = _run(pending, folder, manifest, options, progress, task.name)
        result.fetched.extend(item.remote.name for item in pending)
    if conflicts:  # judged once the rest is in place: a user's own copy is kept when the task reads it
        if not _readable(task, root)[0]:
            raise ChecksumError(
                "; ".join(f"{path} exists but {problem}" for path, problem in conflicts)
                + "; it was left as it is and the task cannot read it: move it away (or delete it) and run "
                "`benchmark data download` again to fetch the published file"
            )
        result.notes.extend(f"kept {path}: it {problem}, but the task reads it" for path, problem in conflicts)
    _final_check(task, root, result, images_expected=not metadata_only)
    return result


def _classify(
    plan: Plan, folder: Path, manifest: Manifest, result: DownloadResult
) -> tuple[list[Item], list[tuple[Path, str]]]:
    """(items to fetch, (file, why) of files in the way that are not the published ones); skipped items go
    to ``result``."""
    pending: list[Item] = []
    conflicts: list[tuple[Path, str]] = []
    for item in plan.items:
        name = item.remote.name
        if manifest.complete(name) or any((folder / other).is_file() for other in item.satisfied_by):
            result.skipped.append(name)
            continue
        path = folder / item.destination
        if item.unpack is None and path.is_file():
            problem = _differs(path, item.remote)
            result.skipped.append(name)
            if problem is not None:
                conflicts.append((path, problem))
            continue
        pending.append(item)
    return pending, conflicts


def _differs(path: Path, remote: RemoteFile) -> str | None:
    """Why the file at ``path`` is not ``remote`` as published, or None when it is."""
    if remote.size is not None and path.stat().st_size != remote.size:
        return f"has {path.stat().st_size} bytes, not the published {remote.size}"
    for algorithm, expected in (("sha256", remote.sha256), ("md5", remote.md5)):
        if expected and (actual := file_digest(path, algorithm)) != expected:
            return f"has {algorithm} {actual}, not the published {expected}"
    return None


def _readable(task: DataSpec, root: Path) -> tuple[bool, bool]:
    """(the task's adapter indexes the data under ``root``, and finds every image it lists), in any layout it reads."""
    if not root.is_dir():
        return False, False
    try:
        data = load_data(task, root, verify=False)
    except (BenchmarkError, *UNREADABLE):
        return False, False
    return True, data.index.in_memory or bool(data.frame["location"].map(os.path.isfile).all())


def _check_space(pending: list[Item], folder: Path, options: _Options, plan: Plan) -> None:
    """The bytes still to arrive, plus what unpacking writes; archives are deleted after unpacking unless
    kept, so at most ``workers`` of them exist next to their unpacked copies."""
    remaining = {id(i): max(0, i.remote.expected_bytes - _partial_size(folder, i)) for i in pending}
    archives = sorted((remaining[id(i)] for i in pending if i.unpack is not None), reverse=True)
    files = sum(remaining[id(i)] for i in pending if i.unpack is None)
    held = sum(archives) if options.keep_archives else sum(archives[: options.workers])
    needed = int((files + held + sum(i.unpacked_bytes for i in pending)) * SPACE_MARGIN)
    ensure_free_space(folder, needed, f"downloading {len(pending)} file(s) of task {plan.task}")


def _partial_size(folder: Path, item: Item) -> int:
    partial = partial_path(folder / item.remote.name)
    return partial.stat().st_size if partial.is_file() else 0


def _run(pending: list[Item], folder: Path, manifest: Manifest, options: _Options, show: bool | None, task: str) -> int:
    """Fetch, verify and place every pending item on a small thread pool; all failures are reported together."""
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(item.remote.expected_bytes for item in pending)
    progress = Progress(total, f"{task}: {len(pending)} file(s)", show)
    progress.update(sum(_partial_size(folder, item) for item in pending))
    errors: list[BenchmarkError] = []
    transferred = 0
    try:
        with ThreadPoolExecutor(max_workers=min(options.workers, len(pending))) as pool:
            futures = [pool.submit(_fetch_item, item, folder, manifest, options, progress) for item in pending]
            for future in futures:
                try:
                    transferred += future.result()
                except BenchmarkError as exc:
                    errors.append(exc)
    finally:
        progress.close()
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise DownloadError(
            f"{len(errors)} of {len(pending)} files failed; the others are in place. "
            + " | ".join(f"{type(e).__name__}: {e}" for e in errors)
        )
    return transferred


def _fetch_item(item: Item, folder: Path, manifest: Manifest, options: _Options, progress: Progress) -> int:
    remote = item.remote
    url = remote.source_url(options.base_url)
    archive = folder / remote.name
    partial = partial_path(archive)
    log.info("downloading %s from %s", remote.name, url)
    moved = fetch(remote, partial, url, progress, options.retries, options.timeout)
    verify_download(remote, partial, url)
    info = {"url": url, "bytes": partial.stat().st_size, "sha256": file_digest(partial, "sha256"), "md5": remote.md5}
    if item.unpack is None:
        os.replace(partial, folder / item.destination)
        placed = {item.destination: (info["sha256"], info["bytes"])}
    else:
        log.info("unpacking %s", remote.name)
        try:
            placed = unpack_archive(partial, item.unpack, folder, remote.name)
        except ChecksumError:
            partial.unlink(missing_ok=True)
            raise
        if options.keep_archives:
            os.replace(partial, archive)
            placed[remote.name] = (info["sha256"], info["bytes"])
        else:
            partial.unlink()
    manifest.record(remote.name, info, placed)
    log.info("%s: %s verified, %d file(s) in place", remote.name, format_bytes(info["bytes"]), len(placed))
    return moved


def _final_check(task: DataSpec, root: Path, result: DownloadResult, images_expected: bool = True) -> None:
    """Counts and split pin of what the folder now holds, in ``result``'s notes and problems."""
    try:
        data = load_data(task, root, verify=False)
    except (BenchmarkError, *UNREADABLE) as exc:
        result.problems.append(f"the task cannot read the data yet: {exc}")
        return
    frame = data.frame
    if not data.index.in_memory:
        missing = int((~frame["location"].map(os.path.isfile)).sum())
        if missing:
            message = f"{missing} of the {len(frame)} images the task lists are missing"
            (result.problems if images_expected else result.notes).append(message)
    counts = data.counts()
    if data.split_hash == task.split_sha256 and counts == task.expected_counts:
        result.notes.append(f"{task.name}: {sum(counts.values())} images, split matches the task's pin ({counts})")
    else:
        result.problems.append(
            f"{task.name}: the split of this data ({counts}, sha256 {data.split_hash[:12]}) differs from the "
            f"task's pin ({task.expected_counts}, {task.split_sha256[:12]}); runs on it will be refused. "
            f"`benchmark data check {task.name}` lists the differences"
        )
