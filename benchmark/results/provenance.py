"""What a result depends on besides its inputs: package versions, code commit, hardware."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

import benchmark

CHECKOUT = Path(benchmark.__file__).resolve().parent.parent  # the folder holding the benchmark package
PACKAGES = ("cxr-benchmark", "torch", "torchvision", "timm", "numpy", "pandas", "scikit-learn", "scipy", "pillow")


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """Commit of the project checkout and whether its tracked files had uncommitted changes. Untracked files
    do not count: results written inside the checkout (the reference board's runs, a ./results folder) would
    otherwise mark every later run dirty; a new source file a model imports is covered by its source hash."""
    where = str(path or CHECKOUT)
    try:
        commit = subprocess.run(
            ["git", "-C", where, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def hardware(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        # CUDA's version, or ROCm's where torch is built for it (torch.version.cuda is None there)
        info["cuda"] = torch.version.cuda or f"hip {torch.version.hip}"
    return info
