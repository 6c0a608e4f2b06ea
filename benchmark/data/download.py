"""Downloading a published file: resumable, verified, never mistaken for complete while partial.

The bytes of ``NAME`` go to ``NAME.part``. A transfer cut off midway is resumed from the length of
the ``.part`` with an HTTP Range request, both within one call (``retries``) and by the next call; a
server that ignores Range sends the whole file again and the ``.part`` starts over. Only a file whose
length and published checksum (md5 or sha256, where the publisher gives one) verify is renamed to
``NAME``; one that fails is deleted and reported.

Every published address can be replaced by a mirror: ``$CXRBENCH_DOWNLOAD_BASE_URL`` (or a
``base_url`` argument) makes each file come from ``<base>/<published file name>`` (tests point it at
127.0.0.1; a site with a local copy of the archives points it at that).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm.auto import tqdm

from benchmark.errors import ChecksumError, DiskSpaceError, DownloadError

log = logging.getLogger(__name__)

BASE_URL_ENV = "CXRBENCH_DOWNLOAD_BASE_URL"
CHUNK = 1 << 20
PART_SUFFIX = ".part"
RETRY_PAUSE = 1.0  # seconds before the first retry of a cut-off transfer; doubled for each further one
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
# Cut-off transfers: the server closed the connection, reset it, or stopped sending.
_TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError)


def file_digest(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class RemoteFile:
    """One file as its publisher serves it.

    ``size`` is the exact length where it is known (then it is checked); ``approx_bytes`` an estimate
    used for the disk-space check and the progress bar before the server states the length.
    """

    name: str
    url: str
    approx_bytes: int
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None

    def source_url(self, base_url: str | None = None) -> str:
        """The published address, or ``<base>/<name>`` when a mirror is named (argument, then environment)."""
        base = base_url or os.environ.get(BASE_URL_ENV)
        return f"{base.rstrip('/')}/{self.name}" if base else self.url

    @property
    def expected_bytes(self) -> int:
        return self.size if self.size is not None else self.approx_bytes


def partial_path(destination: Path) -> Path:
    return destination.with_name(destination.name + PART_SUFFIX)


class Progress:
    """One byte counter for every file of a download: total size, rate and ETA on stderr (tqdm).

    Thread-safe; the total starts from the expected sizes and is corrected as servers state lengths.
    """

    def __init__(self, total: int, description: str, enabled: bool | None = None) -> None:
        self._lock = threading.Lock()
        self._bar = tqdm(
            total=total,
            desc=description,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            disable=(not sys.stderr.isatty()) if enabled is None else not enabled,
            mininterval=0.5,
        )

    def update(self, n: int) -> None:
        with self._lock:
            self._bar.update(n)

    def resize(self, delta: int) -> None:
        if delta:
            with self._lock:
                self._bar.total = max(0, (self._bar.total or 0) + delta)
                self._bar.refresh()

    def close(self) -> None:
        with self._lock:
            self._bar.close()


def ensure_free_space(folder: Path, needed: int, what: str) -> None:
    """DiskSpaceError before anything is written when ``folder``'s file system has under ``needed`` bytes free."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise DiskSpaceError(
            f"{what} needs {format_bytes(needed)} free under {folder}, but {probe} has {format_bytes(free)} free; "
            "free some space or pass another --data-root (nothing was written)"
        )


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def fetch(
    remote: RemoteFile,
    partial: Path,
    url: str,
    progress: Progress | None = None,
    retries: int = 3,
    timeout: float = 60.0,
) -> int:
    """Bring ``partial`` to the whole file of ``remote`` from ``url``, resuming what it holds; returns the
    bytes transferred.

    A transfer cut off midway is retried ``retries`` times from where it stopped (Range), after a short
    pause; after that DownloadError says how much is kept and that the same command resumes it.
    """
    transferred, failures, sized = 0, 0, False
    while True:
        try:
            done, moved, total = _transfer(url, remote, partial, progress, timeout)
            transferred += moved
            if progress is not None and total is not None and not sized:
                progress.resize(total - remote.expected_bytes)  # the server's length replaces the estimate
                sized = True
            if done:
                return transferred
            reason: Exception = DownloadError(f"the server closed the connection before the end of {url}")
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise DownloadError(
                    f"{url} answered HTTP {exc.code} {exc.reason}; {partial} keeps what arrived. "
                    f"Check the address (or ${BASE_URL_ENV}) and run the same command again"
                ) from exc
            reason = exc
        except _TRANSIENT as exc:
            reason = exc
        failures += 1
        kept = partial.stat().st_size if partial.exists() else 0
        if failures > retries:
            raise DownloadError(
                f"downloading {url} failed {failures} time(s) (last: {reason}); {partial} keeps "
                f"{format_bytes(kept)} and the same command resumes from there"
            ) from reason
        log.warning("%s: %s; resuming at byte %d (retry %d of %d)", remote.name, reason, kept, failures, retries)
        time.sleep(RETRY_PAUSE * 2 ** (failures - 1))


def _transfer(
    url: str, remote: RemoteFile, partial: Path, progress: Progress | None, timeout: float
) -> tuple[bool, int, int | None]:
    """One request: append to ``partial`` from its length (or restart when the server ignores Range).
    Returns (whole file present, bytes transferred, the file's length as the server states it)."""
    offset = partial.stat().st_size if partial.exists() else 0
    if remote.size is not None and offset == remote.size:
        return True, 0, remote.size
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code != 416:
            raise
        # Range not satisfiable: the .part already holds the whole file, or more than it (start over).
        match = re.match(r"^bytes \*/(\d+)$", exc.headers.get("Content-Range", "") if exc.headers else "")
        if match is not None and int(match[1]) == offset:
            return True, 0, offset
        _restart(partial, progress)
        return False, 0, None
    with response:
        total = _total_length(response, offset, url)
        if offset and response.status != 206:  # no Range support: the body is the whole file
            _restart(partial, progress)
            offset = 0
        moved = 0
        with _open_local(partial, "ab" if offset else "wb") as out:
            while chunk := response.read(CHUNK):  # a network error here is retried by fetch
                _write_local(out, chunk, partial)
                moved += len(chunk)
                if progress is not None:
                    progress.update(len(chunk))
    have = offset + moved
    return (have == total) if total is not None else True, moved, total


def _open_local(path: Path, mode: str) -> IO[bytes]:
    """``open`` whose failure is a DownloadError (a local problem: retrying the server does not help)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, mode)
    except OSError as exc:
        raise DownloadError(f"cannot write {path}: {exc}; choose a writable --data-root") from exc


def _write_local(out: IO[bytes], chunk: bytes, path: Path) -> None:
    try:
        out.write(chunk)
    except OSError as exc:
        raise DownloadError(
            f"cannot write {path}: {exc}; free some space and run the same command again (it resumes)"
        ) from exc


def _total_length(response: http.client.HTTPResponse, offset: int, url: str) -> int | None:
    """The whole file's length from Content-Range (206) or Content-Length (200); None when unstated."""
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match is None or int(match[1]) != offset:
            raise DownloadError(
                f"{url} answered a Range request for byte {offset} with Content-Range "
                f"{response.headers.get('Content-Range')!r}; delete the .part file and run the command again"
            )
        return int(match[3]) if match[3] != "*" else None
    length = response.headers.get("Content-Length")
    return int(length) if length is not None else None


def _restart(partial: Path, progress: Progress | None) -> None:
    kept = partial.stat().st_size if partial.exists() else 0
    partial.unlink(missing_ok=True)
    if progress is not None:
        progress.update(-kept)


def verify_download(remote: RemoteFile, partial: Path, url: str) -> None:
    """Length and published checksums of a complete ``partial``; on a mismatch it is deleted (ChecksumError)."""
    problems = []
    actual_size = partial.stat().st_size
    if remote.size is not None and actual_size != remote.size:
        problems.append(f"{actual_size} bytes, expected {remote.size}")
    for algorithm, expected in (("md5", remote.md5), ("sha256", remote.sha256)):
        if expected and not problems:
            actual = file_digest(partial, algorithm)
            if actual != expected:
                problems.append(f"{algorithm} of the file downloaded from {url} is {actual}, expected {expected}")
    if problems:
        partial.unlink(missing_ok=True)
        raise ChecksumError(
            f"{remote.name}: {'; '.join(problems)}; the partial file {partial} was deleted. Run the same command "
            "again to download it anew; if it keeps failing the server is serving a different file"
        )


def download_url(url: str, destination: Path, md5: str, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``destination`` and check its md5.

    The bytes go to ``destination.part`` first (resumed if a previous call was cut off); only a file
    whose md5 matches is renamed into place. A mismatch deletes the partial file and raises ChecksumError.
    """
    remote = RemoteFile(name=destination.name, url=url, approx_bytes=0, md5=md5)
    partial = partial_path(destination)
    log.info("downloading %s -> %s", url, destination)
    fetch(remote, partial, url, timeout=timeout)
    verify_download(remote, partial, url)
    os.replace(partial, destination)
    return destination
