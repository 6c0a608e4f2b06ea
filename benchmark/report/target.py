"""What `benchmark report TARGET` names: a run, or a leaderboard entry.

TARGET is tried as, in order: a run id (exact); an entry key (``benchmark.results.entries.entry_key``,
20 hex digits, a unique prefix of at least 6 is enough; the static site and ``benchmark report`` print
it); a unique run id prefix; a model name (``--task`` / ``--task-hash`` narrow it down). A name that
fits several entries is refused with the entries listed, each with its key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from benchmark.errors import RunNotFoundError
from benchmark.results.combined import ResultsReader
from benchmark.results.entries import Entry
from benchmark.results.index import RunFilter
from benchmark.text import one_line

_KEY = re.compile(r"^[0-9a-f]{6,20}$")


class ReportTargetError(RunNotFoundError):
    """A report target that names no run or entry, or several entries."""


@dataclass(frozen=True)
class Target:
    """Either ``run_id`` (a run's report) or ``entry`` (an entry's)."""

    run_id: str | None = None
    entry: Entry | None = None


def resolve(store: ResultsReader, target: str, task: str | None = None, task_hash: str | None = None) -> Target:
    """The run or entry ``target`` names in ``store`` (see the module docstring)."""
    where = RunFilter(task=task, task_hash=task_hash)
    rows = store.query(where)
    if any(row.run_id == target for row in rows):
        return Target(run_id=target)
    entries = store.entries(where)
    if _KEY.match(target):
        keyed = [e for e in entries if e.entry_key.startswith(target)]
        if len(keyed) == 1:
            return Target(entry=keyed[0])
    prefixed = [row.run_id for row in rows if row.run_id.startswith(target)]
    if len(prefixed) == 1:
        return Target(run_id=prefixed[0])
    named = [e for e in entries if target in (e.model_name, e.submission_name)]
    if len(named) == 1:
        return Target(entry=named[0])
    shown = one_line(target)
    if named:
        listing = "; ".join(f"{e.entry_key} ({one_line(e.task_name)} {e.task_hash[:12]}, seeds {list(e.seeds)})"
                            for e in named)  # fmt: skip
        raise ReportTargetError(
            f"{shown!r} names {len(named)} entries: {listing}. Give the entry key instead, or narrow it with "
            "--task / --task-hash"
        )
    if len(prefixed) > 1:
        raise ReportTargetError(f"{shown!r} is the start of {len(prefixed)} run ids; give more of the run id")
    raise ReportTargetError(
        f"no run, entry key or model named {shown!r} under {store.root}"
        + (f" for task {one_line(task)}" if task else "")
        + "; `benchmark runs` lists the runs (an entry is named by its key or its model name)"
    )
