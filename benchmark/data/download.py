"""Downloading a published file and proving it with the publisher's checksum."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import urllib.request
from pathlib import Path

from benchmark.errors import ChecksumError

log = logging.getLogger(__name__)


def file_digest(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_url(url: str, destination: Path, md5: str, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``destination`` and check its md5.

    The bytes go to ``destination.part`` first; only a file whose md5 matches is renamed
    into place. A mismatch deletes the partial file and raises ChecksumError.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    log.info("downloading %s -> %s", url, destination)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
        actual = file_digest(partial, "md5")
        if actual != md5:
            raise ChecksumError(
                f"md5 of the file downloaded from {url} is {actual}, expected {md5}; "
                f"the partial file {partial} was deleted. Retry the download; if it keeps "
                "failing the server is serving a different file"
            )
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination
