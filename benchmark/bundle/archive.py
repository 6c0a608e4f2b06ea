"""A bundle on disk: a gzip-compressed tar of regular files under one top folder, written so that the same
members give the same bytes (sorted members, fixed mtime, uid/gid 0, no owner names, gzip header mtime 0),
and read back into memory with every member name checked (no links, no absolute or ``..`` paths)."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from benchmark.bundle.errors import BundleChecksumError, BundleFormatError

SUFFIXES = (".tar.gz", ".tgz")
SUMS_FILE = "SHA256SUMS"  # `sha256sum -c SHA256SUMS` inside the top folder checks every other member
MEMBER_MODE = 0o644
COMPRESS_LEVEL = 9


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_suffix(path: Path) -> None:
    if not str(path).endswith(SUFFIXES):
        raise BundleFormatError(f"{path}: a bundle is a gzip-compressed tar; name the file *.tar.gz (or *.tgz)")


def sums_text(members: Mapping[str, bytes]) -> str:
    """``sha256sum``'s format: ``<sha256>  <path>`` per member, sorted by path."""
    return "".join(f"{sha256(members[name])}  {name}\n" for name in sorted(members))


def parse_sums(text: str, where: str) -> dict[str, str]:
    """path -> sha256 from a SHA256SUMS text; a malformed or repeated line raises BundleChecksumError."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name:
            raise BundleChecksumError(f"{where} line {number} is not '<sha256>  <path>': {line[:120]!r}")
        if name in found:
            raise BundleChecksumError(f"{where} lists {name} twice (line {number})")
        found[name] = digest
    return found


def write_archive(path: Path, top: str, members: Mapping[str, bytes], mtime: int) -> None:
    """``members`` (paths relative to ``top``) as ``path``: a tar.gz whose bytes depend only on the members,
    their names, ``top`` and ``mtime``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            data = members[name]
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mtime, info.mode = len(data), mtime, MEMBER_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    with (
        open(path, "wb") as handle,
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=COMPRESS_LEVEL) as gz,
    ):
        gz.write(raw.getvalue())


def read_archive(path: Path) -> tuple[str, dict[str, bytes]]:
    """(top folder, member path relative to it -> bytes) of the bundle at ``path``."""
    if not Path(path).is_file():
        raise BundleFormatError(f"{path} is not a file; pass the bundle written by `benchmark export --format bundle`")
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            return _members(tar, path)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BundleFormatError(
            f"{path} is not a readable .tar.gz ({type(exc).__name__}: {exc}); the file is damaged or truncated: "
            "fetch it again from where it was deposited"
        ) from exc


def _members(tar: tarfile.TarFile, path: Path) -> tuple[str, dict[str, bytes]]:
    tops: set[str] = set()
    members: dict[str, bytes] = {}
    for info in tar:
        name = PurePosixPath(info.name)
        if info.isdir():
            continue
        if not info.isfile():
            raise BundleFormatError(f"{path}: member {info.name} is not a regular file (a link or device); refused")
        if name.is_absolute() or ".." in name.parts or len(name.parts) < 2:
            raise BundleFormatError(f"{path}: member {info.name} lies outside the bundle's top folder; refused")
        tops.add(name.parts[0])
        inner = str(PurePosixPath(*name.parts[1:]))
        if inner in members:
            raise BundleFormatError(f"{path}: member {info.name} appears twice; refused")
        handle = tar.extractfile(info)
        assert handle is not None
        members[inner] = handle.read()
    if len(tops) != 1:
        raise BundleFormatError(f"{path}: a bundle holds one top folder; found {sorted(tops) or 'none'}")
    return tops.pop(), members
