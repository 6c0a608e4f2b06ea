"""Member names of a bundle (paths inside its top folder) and what tells them apart."""

from __future__ import annotations

from pathlib import PurePosixPath

from benchmark.results.record import RECORD_FILE
from benchmark.results.store import PREDICTIONS_FILE, VAL_PREDICTIONS_FILE

FORMAT = "cxr-bench bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"  # the task, options, runs, split listing, environment and every member's sha256
README = "README.md"
CITATION = "CITATION.bib"
ENVIRONMENT = "environment.json"
CLAIMS = "claims.json"
RUNS = "runs"
RUN_FILES = (RECORD_FILE, PREDICTIONS_FILE, VAL_PREDICTIONS_FILE)  # never weights: their sha256 is in the record


def top_folder(task: str, task_hash: str) -> str:
    return f"cxrbench-{task}-{task_hash[:12]}"


def task_member(task: str) -> str:
    return f"task/{task}.yaml"


def run_member(run_id: str, name: str) -> str:
    return f"{RUNS}/{run_id}/{name}"


def run_of(member: str) -> str | None:
    """The run id a member belongs to (``runs/<run id>/...``), else None."""
    parts = PurePosixPath(member).parts
    return parts[1] if len(parts) == 3 and parts[0] == RUNS else None


def described(member: str) -> str:
    """A member as an error names it: its path, and its run when it is a run's file."""
    run = run_of(member)
    return f"{member} (run {run})" if run else member
