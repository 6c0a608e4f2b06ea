"""Unpacking a downloaded archive into the layout a task reads, and proving the archive whole.

Members are streamed into a staging folder next to their destination, hashed as they are written,
and moved into place only when the whole archive has been read without error (gzip and zip CRCs
checked to the last byte) and the counts of placed files are the published ones. A damaged archive
leaves nothing behind but the error.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from benchmark.data.download import CHUNK
from benchmark.errors import ChecksumError, DownloadError

# member path inside the archive -> destination relative to the dataset folder, or None to skip it
Placer = Callable[[str], str | None]


@dataclass(frozen=True)
class Unpack:
    """How an archive's members land in the dataset folder, and what it must contain.

    ``counts`` maps a destination prefix (e.g. ``chest_xray/test/NORMAL/``) to the number of placed
    files under it; ``total`` is the number of placed files (None: not pinned).
    """

    kind: str  # "tar.gz" or "zip"
    place: Placer
    total: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    unpacked_bytes: int = 0  # estimate, for the disk-space check


def regex_placer(pattern: str, template: str, skip: str = r"(^|/)(__MACOSX|\.[^/.][^/]*)(/|$)") -> Placer:
    """A placer that keeps members matching ``pattern`` (a regex with named groups) at ``template``
    (``str.format`` with those groups); members matching ``skip`` (macOS litter, dot files) are dropped."""
    compiled, skipped = re.compile(pattern), re.compile(skip)

    def place(member: str) -> str | None:
        if skipped.search(member):
            return None
        match = compiled.search(member)
        return template.format(**match.groupdict()) if match else None

    return place


def unpack_archive(archive: Path, unpack: Unpack, folder: Path, label: str) -> dict[str, tuple[str, int]]:
    """Extract ``archive`` into ``folder`` by ``unpack``; returns destination -> (sha256, bytes).

    Raises ChecksumError (after removing what was staged) when the archive is damaged, holds two
    members for one destination, or its counts differ from ``unpack``'s.
    """
    staging = folder / f".{label}.unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        written = _extract(archive, unpack, staging, label)
        _check_counts(written, unpack, label)
        for relative in written:
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / relative, target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(archive: Path, unpack: Unpack, staging: Path, label: str) -> dict[str, tuple[str, int]]:
    written: dict[str, tuple[str, int]] = {}
    try:
        for member, stream in _members(archive, unpack.kind):
            relative = unpack.place(member)
            if relative is None:
                continue
            _safe(relative, label)
            if relative in written:
                raise ChecksumError(
                    f"{label}: two members of the archive unpack to {relative}; it is not the published archive"
                )
            written[relative] = _copy(stream, staging / relative)
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, gzip.BadGzipFile, OSError) as exc:
        raise ChecksumError(
            f"{label} ({archive}) is damaged: {exc}. It was removed; run the same command again to download it anew"
        ) from exc
    return written


def _members(archive: Path, kind: str) -> Iterator[tuple[str, IO[bytes]]]:
    """(member path, readable stream) of every regular file, reading the archive to its last byte."""
    if kind == "tar.gz":
        with gzip.open(archive, "rb") as compressed, tarfile.open(fileobj=compressed, mode="r|") as tar:
            for member in tar:
                if member.isfile():
                    stream = tar.extractfile(member)
                    if stream is not None:
                        yield member.name, stream
            while compressed.read(CHUNK):  # the gzip CRC and length are checked at the end of the stream
                pass
    elif kind == "zip":
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                if not info.is_dir():
                    with bundle.open(info) as stream:  # zip checks each member's CRC when it is read to the end
                        yield info.filename, stream
    else:
        raise ValueError(f"unknown archive kind {kind!r}")


def _copy(stream: IO[bytes], target: Path) -> tuple[str, int]:
    """Write ``stream`` to ``target``; a read error is the archive's (propagated as is), a write error
    the disk's (DownloadError, so the archive is not blamed and kept)."""
    digest, size = hashlib.sha256(), 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        out = open(target, "wb")  # noqa: SIM115 - closed below; write errors are told apart from read errors
    except OSError as exc:
        raise DownloadError(f"cannot write {target}: {exc}") from exc
    with out:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            try:
                out.write(chunk)
            except OSError as exc:
                raise DownloadError(f"cannot write {target}: {exc}; free some space and run the command again") from exc
    return digest.hexdigest(), size


def _safe(relative: str, label: str) -> None:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts:
        raise ChecksumError(f"{label}: member would unpack outside the dataset folder ({relative}); refused")


def _check_counts(written: dict[str, tuple[str, int]], unpack: Unpack, label: str) -> None:
    problems = []
    if unpack.total is not None and len(written) != unpack.total:
        problems.append(f"{len(written)} files, expected {unpack.total}")
    for prefix, expected in unpack.counts.items():
        found = sum(1 for relative in written if relative.startswith(prefix))
        if found != expected:
            problems.append(f"{found} files under {prefix}, expected {expected}")
    if problems:
        raise ChecksumError(
            f"{label} unpacked to {'; '.join(problems)}: it is not the published archive (or was cut short). "
            "It was removed; run the same command again to download it anew"
        )
