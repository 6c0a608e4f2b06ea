"""``cxrbench-download.json``: what ``benchmark data download`` fetched into a dataset folder.

Written on the first download (atomically, after each file completes): for every fetched file its
address, length and checksums, and the sha256 and length of every file it put in place (an archive's
members, or the file itself). A later call skips what the manifest lists and the disk still holds at
the recorded lengths; ``benchmark data check`` re-hashes the files and reports any that changed.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmark.errors import DataFormatError

MANIFEST_NAME = "cxrbench-download.json"
FORMAT = 1


@dataclass
class Manifest:
    """The manifest of one dataset folder; ``files`` maps a path relative to the folder to (sha256, bytes)."""

    folder: Path
    downloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST_NAME

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        """The manifest in ``folder``, or an empty one when there is none yet."""
        path = folder / MANIFEST_NAME
        if not path.is_file():
            return cls(folder)
        try:
            raw = json.loads(path.read_text())
            files = {name: (str(entry[0]), int(entry[1])) for name, entry in raw["files"].items()}
            return cls(folder, dict(raw["downloads"]), files)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise DataFormatError(
                f"{path} is not a download manifest CXR-Bench wrote ({exc}); delete it and run "
                "`benchmark data download` again (files already in place are fetched anew)"
            ) from exc

    def record(self, name: str, info: dict[str, Any], placed: dict[str, tuple[str, int]]) -> None:
        """Note that ``name`` was fetched and put ``placed`` in place, and save the manifest."""
        with self._lock:
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            self.downloads[name] = {**info, "files": sorted(placed), "completed": stamp}
            self.files.update(placed)
            self._save()

    def complete(self, name: str) -> bool:
        """Whether ``name`` was fetched and every file it placed is still there at its recorded length."""
        entry = self.downloads.get(name)
        if entry is None:
            return False
        for relative in entry["files"]:
            recorded = self.files.get(relative)
            path = self.folder / relative
            if recorded is None or not path.is_file() or path.stat().st_size != recorded[1]:
                return False
        return True

    def size_mismatches(self) -> list[str]:
        """Files the manifest lists that are gone or whose length changed (a stat each, no hashing)."""
        wrong = []
        for relative, (_, size) in sorted(self.files.items()):
            path = self.folder / relative
            if not path.is_file():
                wrong.append(f"{relative} (missing)")
            elif path.stat().st_size != size:
                wrong.append(f"{relative} ({path.stat().st_size} bytes, recorded {size})")
        return wrong

    def _save(self) -> None:
        body = {"format": FORMAT, "downloads": self.downloads, "files": {k: list(v) for k, v in self.files.items()}}
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{MANIFEST_NAME}.tmp-{os.getpid()}-{threading.get_ident()}")
        temporary.write_text(json.dumps(body, indent=1, sort_keys=True))
        os.replace(temporary, self.path)


def find_manifest(root: Path, folder: str) -> Manifest | None:
    """The manifest of a task's dataset folder: ``root/folder`` or ``root`` itself (a user may name either)."""
    for candidate in (root / folder, root):
        if (candidate / MANIFEST_NAME).is_file():
            return Manifest.load(candidate)
    return None
