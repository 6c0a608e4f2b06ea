"""Where the shipped reference board's runs are, and the results a command reads beside the user's.

The board's run records and prediction files ship in the ``leaderboard`` package (``reference/``,
the plan's ``results`` folder), so a checkout and an installed wheel both have them. ``benchmark
runs``, ``export`` and ``leaderboard`` read them by default beside the user's results folder,
read-only; ``--no-reference`` or ``CXRBENCH_REFERENCE=none`` leaves them out, and
``CXRBENCH_REFERENCE=DIR[:DIR...]`` reads other folders instead (a board grown on a cluster).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from benchmark.results.combined import CombinedResults
from benchmark.results.store import ResultsDir

REFERENCE_ENV = "CXRBENCH_REFERENCE"
SHIPPED_FOLDER = "reference"  # the plan's `results`, beside leaderboard/reference.yaml


def shipped_results() -> Path:
    """The shipped board's folder in the installed ``leaderboard`` package."""
    import leaderboard

    return Path(leaderboard.__file__).resolve().parent / SHIPPED_FOLDER


def reference_roots(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The folders read beside the user's: $CXRBENCH_REFERENCE (``none`` for none), else the shipped board."""
    value = (os.environ if environ is None else environ).get(REFERENCE_ENV)
    if value is None:
        return (shipped_results(),)
    if value.strip().lower() in ("", "none"):
        return ()
    return tuple(Path(part).expanduser().absolute() for part in value.split(os.pathsep) if part)


def with_reference(results: Path, include: bool = True, read_only: bool = False) -> ResultsDir | CombinedResults:
    """``results`` alone, or read beside the reference folders that exist (never written: read-only)."""
    own = ResultsDir(Path(results), read_only=read_only)
    others = [root for root in reference_roots() if include and root.is_dir() and root.resolve() != own.root.resolve()]
    if not others:
        return own
    return CombinedResults((own, *(ResultsDir(root, read_only=True) for root in others)))
