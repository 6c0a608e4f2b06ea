"""``benchmark export --task T --format bundle --out FILE.tar.gz``: one archive of a task's standings fit for a
data deposit with a DOI.

It holds the standings (Markdown, JSON, CSV) rendered from the bundled runs, every run of the task hash
(ranked and unranked entries, and runs set aside: reproductions, repeated seeds) with its record.json and
prediction files (never weights: their sha256 stays in the records), the task file that scored them, the
split listing, the environment that wrote the bundle, the literature's claims on the task with their
verdicts, a README with the citation text, CITATION.bib, a manifest and SHA256SUMS. The same board gives
the same bytes on the same installation (sorted members, fixed times, no owner names; see ``archive``).
Runs are read from the results folder and the shipped reference board (``with_reference``), every file
through the store's verified reads: a damaged run is refused, never bundled.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import platform
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.bundle import archive, layout, splits
from benchmark.bundle.errors import BundleDamagedRunsError, BundleFormatError, BundleMismatchError
from benchmark.bundle.standings import OPTION_NAMES, STANDINGS_FILES, bundle_standings, rendered
from benchmark.errors import BenchmarkError, RecordError, RunNotFoundError
from benchmark.results.combined import ResultsReader
from benchmark.results.index import RunFilter
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.standings import Standings, default_task_hash
from benchmark.results.store import PREDICTIONS_FILE, VAL_PREDICTIONS_FILE, write_atomically
from benchmark.tasks import Task, load_task_file, tasks_dir

EXTRA_PACKAGES = ("pyarrow", "statsmodels", "pyyaml")  # beside provenance.PACKAGES: what scoring and reading need


@dataclass
class BundledRun:
    record: RunRecord
    files: dict[str, bytes]  # file name -> bytes, as stored (verified against the record)


@dataclass
class Bundle:
    top: str
    members: dict[str, bytes]
    mtime: int  # the newest run's creation time: the members' time in the archive
    runs: list[BundledRun] = field(default_factory=list)
    split_source: str = ""


def export_bundle(results: ResultsReader, args: argparse.Namespace) -> int:
    """The ``--format bundle`` writer of ``benchmark export`` (``WRITERS``): returns the exit code."""
    if args.task is None:
        raise BundleFormatError("benchmark export --format bundle needs --task (the task whose standings to bundle)")
    if args.out is None:
        raise BundleFormatError("benchmark export --format bundle needs --out FILE.tar.gz (the archive to write)")
    out = Path(args.out)
    archive.check_suffix(out)
    options = {name: getattr(args, name, None) for name in OPTION_NAMES}
    bundle = build_bundle(
        results,
        args.task,
        args.task_hash,
        options,
        data_root=args.data_root,
        claims=getattr(args, "claims", True),
    )
    write_atomically(out, lambda path: archive.write_archive(path, bundle.top, bundle.members, bundle.mtime))
    size = out.stat().st_size
    print(
        f"wrote {out}: {len(bundle.runs)} runs of task {args.task}, {len(bundle.members)} members, {size:,} bytes; "
        f"split listing from {bundle.split_source}; check it with `benchmark verify {out}`"
    )
    return 0


def build_bundle(
    results: ResultsReader,
    task_name: str,
    task_hash: str | None,
    options: dict[str, Any],
    data_root: str | None = None,
    claims: bool = True,
) -> Bundle:
    """Every member of the bundle of ``task_name`` at ``task_hash`` (default: ``default_task_hash``)."""
    task_hash = task_hash or default_task_hash(results, task_name)
    task_path, task = _task_file(task_name, task_hash)
    runs = collect_runs(results, task_name, task_hash)
    members: dict[str, bytes] = {}
    for run in runs:
        for name, data in run.files.items():
            members[layout.run_member(run.record.run_id, name)] = data
    members[layout.task_member(task_name)] = task_path.read_bytes()
    with tempfile.TemporaryDirectory(prefix="cxrbench-bundle-") as staging:
        runs_root = Path(staging) / layout.RUNS
        for run in runs:
            folder = runs_root / run.record.run_id
            folder.mkdir(parents=True)
            for name, data in run.files.items():
                (folder / name).write_bytes(data)
        standings = bundle_standings(runs_root, task, options)
    members.update({path: text.encode() for path, text in rendered(standings).items()})
    listing = _split_listing(task, runs, data_root)
    members[listing.path] = listing.text.encode()
    members[layout.ENVIRONMENT] = _json(environment())
    verdicts = _claims(results, task_name, task_hash, options) if claims else None
    if verdicts is not None:
        members[layout.CLAIMS] = _json(verdicts)
    members[layout.CITATION] = citation_bib(runs, task).encode()
    members[layout.README] = readme(task, runs, standings, listing, verdicts is not None).encode()
    manifest = _manifest(task, task_name, options, runs, standings, listing, members, verdicts is not None)
    members[layout.MANIFEST] = _json(manifest)
    members[archive.SUMS_FILE] = archive.sums_text(members).encode()
    newest = max(datetime.fromisoformat(run.record.created_at).timestamp() for run in runs)
    return Bundle(layout.top_folder(task_name, task_hash), members, int(newest), runs, listing.source)


def collect_runs(results: ResultsReader, task_name: str, task_hash: str) -> list[BundledRun]:
    """Every run of the task hash with its record and prediction files (verified reads); damaged runs refused."""
    rows = results.query(RunFilter(task=task_name, task_hash=task_hash))
    if not rows:
        raise RunNotFoundError(f"no runs of task {task_name!r} with hash {task_hash[:12]}: nothing to bundle")
    runs, damaged = [], []
    for row in rows:
        try:
            record = results.load_record(row.run_id)
            files = {RECORD_FILE: (results.find(row.run_id) / RECORD_FILE).read_bytes()}
            results.read_predictions(record)  # the digest, a readable table, n_test rows
            files[PREDICTIONS_FILE] = results.run_file_bytes(record, PREDICTIONS_FILE)
            if results.val_predictions(record) is not None:
                files[VAL_PREDICTIONS_FILE] = results.run_file_bytes(record, VAL_PREDICTIONS_FILE)
        except (RecordError, OSError) as exc:
            damaged.append(f"{row.run_id}: {exc}")
            continue
        runs.append(BundledRun(record, files))
    if damaged:
        raise BundleDamagedRunsError(
            f"{len(damaged)} run(s) of task {task_name} (hash {task_hash[:12]}) are damaged and a bundle holds every "
            "run of the task or none; restore, re-run or move these aside, then export again:\n  "
            + "\n  ".join(damaged)
        )
    return runs


def _task_file(task_name: str, task_hash: str) -> tuple[Path, Task]:
    """The task file as registered, which must be the one that scored the runs (same hash)."""
    path = tasks_dir() / f"{task_name}.yaml"
    if not path.is_file():
        raise BundleFormatError(f"no task file {path}: a bundle holds the task file that scored its runs")
    task = load_task_file(path)
    if task.task_hash != task_hash:
        raise BundleMismatchError(
            f"the task file {path} has hash {task.task_hash[:12]}, the runs bundled have {task_hash[:12]}: a bundle "
            f"holds the task file that scored its runs; bundle the current hash (--task-hash {task.task_hash[:12]}) "
            "or export from a checkout whose task file has the runs' hash (git log -- tasks/)"
        )
    return path, task


def _split_listing(task: Task, runs: list[BundledRun], data_root: str | None) -> splits.SplitListing:
    roots = splits.data_root_candidates(data_root, (run.record.task.data_root for run in runs))
    listing, tried = splits.from_data(task, roots)
    if listing is not None:
        return listing
    test = pd.read_parquet(io.BytesIO(runs[0].files[PREDICTIONS_FILE]))
    with_val = next((run for run in runs if VAL_PREDICTIONS_FILE in run.files), None)
    val = pd.read_parquet(io.BytesIO(with_val.files[VAL_PREDICTIONS_FILE])) if with_val else None
    return splits.from_predictions(test, val, tried)


def environment() -> dict[str, Any]:
    """What wrote the bundle: Python, platform and package versions (``provenance.package_versions``)."""
    from benchmark.results.provenance import package_versions

    packages = package_versions()
    for name in EXTRA_PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = "not installed"
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": dict(sorted(packages.items())),
    }


def _claims(results: ResultsReader, task: str, task_hash: str, options: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The literature's claims on the task with their verdicts (None when the ledger cannot be read)."""
    from benchmark.reference.claims import task_verdicts

    compare = {k: v for k, v in options.items() if k != "metric"}
    try:
        return [verdict.as_row() for verdict in task_verdicts(results, task, task_hash, **compare)]
    except (BenchmarkError, OSError):
        return None


def citation_bib(runs: list[BundledRun], task: Task) -> str:
    """CXR-Bench at the newest run's version and commit, then the task's dataset entries."""
    from benchmark.results.citation import bibtex

    newest = max(runs, key=lambda run: (run.record.created_at, run.record.run_id)).record
    return bibtex(newest, task)


def readme(
    task: Task, runs: list[BundledRun], standings: Standings, listing: splits.SplitListing, has_claims: bool
) -> str:
    """What the bundle is, what it holds, how to check it, its standings and how to cite it."""
    from benchmark.results.citation import methods_paragraph

    by_id = {run.record.run_id: run.record for run in runs}
    cxr = runs[0].record.versions.get("cxr-benchmark", "unknown")
    top = layout.top_folder(task.name, task.task_hash)
    lines = [
        f"# CXR-Bench standings of task {task.name} (v{task.version}, task hash {task.task_hash})",
        "",
        f"A citable snapshot of the CXR-Bench leaderboard of `{task.name}`: {len(runs)} runs of "
        f"{len(standings.entries)} entries ({len(standings.ranked)} ranked), with everything needed to check "
        "every number without the images or the model weights.",
        "",
        "## What it holds",
        "",
        "- `standings/standings.{md,json,csv}`: the leaderboard table with 95% CIs, paired tests and the top group, "
        "rendered from the runs in this bundle.",
        "- `runs/<run id>/record.json`, `predictions.parquet` (test), `val_predictions.parquet` (validation, where "
        "saved): each run's record and scores. Weights are not included; their sha256 is in each record.",
        f"- `task/{task.name}.yaml`: the task file that scored the runs (its hash is the task hash above).",
        f"- `{listing.path}`: the split listing ({listing.note}).",
        "- `environment.json`: the Python, platform and package versions that wrote this bundle.",
        *(["- `claims.json`: published claims on the task and their verdicts against these entries."] * has_claims),
        "- `CITATION.bib`, this README, `manifest.json` (task, options, runs, every member's sha256) and `SHA256SUMS`.",
        "",
        "## How to check it",
        "",
        "```",
        f"tar xzf BUNDLE.tar.gz && (cd {top} && sha256sum -c SHA256SUMS)   # every member's bytes",
        f"pip install cxr-benchmark=={cxr}",
        "benchmark verify BUNDLE.tar.gz   # checksums, every run re-scored from its predictions, standings re-rendered",
        "```",
        "",
        "## Standings",
        "",
        render_markdown(standings),
        "## How to cite",
        "",
        "Cite CXR-Bench and the dataset (`CITATION.bib`) and this deposit. The protocol of each entry:",
        "",
    ]
    for row in standings.entries.itertuples(index=False):
        record = by_id[row.run_ids[0]]
        seeds = sorted(by_id[i].seed for i in row.run_ids)
        lines += [f"### {row.entry}", "", "```latex", methods_paragraph(record, task, seeds), "```", ""]
    return "\n".join(lines)


def render_markdown(standings: Standings) -> str:
    from benchmark.results.export import render_standings

    return render_standings(standings, "markdown")


def _manifest(
    task: Task,
    task_name: str,
    options: dict[str, Any],
    runs: list[BundledRun],
    standings: Standings,
    listing: splits.SplitListing,
    members: dict[str, bytes],
    has_claims: bool,
) -> dict[str, Any]:
    entry_of = {i: row.entry for row in standings.entries.itertuples(index=False) for i in row.run_ids}
    return {
        "format": layout.FORMAT,
        "format_version": layout.FORMAT_VERSION,
        "task": {
            "name": task_name,
            "version": task.version,
            "hash": task.task_hash,
            "split_sha256": task.split_sha256,
            "file": layout.task_member(task_name),
        },
        "options": options,
        "standings": sorted(STANDINGS_FILES),
        "runs": [
            {
                "run_id": run.record.run_id,
                "model": run.record.model.name,
                "seed": run.record.seed,
                "origin": run.record.origin,
                "entry": entry_of.get(run.record.run_id),  # None: set aside (a reproduction or a repeated seed)
                "files": sorted(layout.run_member(run.record.run_id, name) for name in run.files),
            }
            for run in sorted(runs, key=lambda run: run.record.run_id)
        ],
        "set_aside_runs": list(standings.set_aside),
        "splits": listing.manifest(),
        "claims": layout.CLAIMS if has_claims else None,
        "left_out": "model weights (each record holds their sha256)",
        "members": {name: archive.sha256(members[name]) for name in sorted(members)},
    }


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities as null, numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json(payload: Any) -> bytes:
    return (json.dumps(_clean(payload), indent=2, sort_keys=True, default=str, allow_nan=False) + "\n").encode()
