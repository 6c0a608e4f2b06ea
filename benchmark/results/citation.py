"""``benchmark cite``: BibTeX for CXR-Bench and the dataset papers, and a methods paragraph that
states the exact protocol of a recorded run (task version and hashes, seeds, CI method)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from benchmark.errors import UnknownNameError
from benchmark.results.entries import entry_key
from benchmark.results.index import RunFilter
from benchmark.results.record import PredictionsSubmission, RunRecord
from benchmark.stats.render import latex_escape
from benchmark.tasks import TASKS, Task

if TYPE_CHECKING:
    from benchmark.results.store import ResultsDir

log = logging.getLogger(__name__)

SOFTWARE_KEY = "cxrbench"


def software_bibtex(record: RunRecord) -> str:
    """@software entry for the CXR-Bench version and commit that produced ``record``."""
    version = record.versions.get("cxr-benchmark", "unknown")
    commit = record.git.commit or "unknown"
    dirty = ", with uncommitted changes" if record.git.dirty else ""
    year = datetime.fromisoformat(record.created_at).year
    return (
        f"@software{{{SOFTWARE_KEY},\n"
        "  author  = {{CXR-Bench contributors}},\n"
        "  title   = {{CXR-Bench}: Reproducible Chest {X}-Ray Classification Benchmarks},\n"
        f"  version = {{{version}}},\n"
        f"  year    = {{{year}}},\n"
        f"  note    = {{git commit {commit}{dirty}}}\n"
        "}\n"
    )


def bibtex(record: RunRecord, task: Task | None) -> str:
    """CXR-Bench's entry, then the task's dataset entries (from its task file)."""
    parts = [software_bibtex(record)]
    if task is not None and task.bibtex.strip():
        parts.append(task.bibtex.strip() + "\n")
    return "\n".join(parts)


def bibtex_keys(text: str) -> list[str]:
    return re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", text)


def methods_paragraph(record: RunRecord, task: Task | None, seeds: list[int]) -> str:
    """A LaTeX paragraph stating the protocol of ``record``; ``seeds`` are those of its leaderboard entry."""
    t, boot = record.task, record.bootstrap
    dataset_keys = bibtex_keys(task.bibtex) if task is not None else []
    dataset_cite = f"~\\cite{{{','.join(dataset_keys)}}}" if dataset_keys else ""
    unit = "patients (all images of a drawn patient together)" if boot.unit == "patient" else "test images"
    level = round(100 * float(boot.level))
    patients = t.patients.get("test")
    test_set = f"{record.n_test:,} test images" + (f" of {patients:,} patients" if patients else "")
    sentences = [
        f"We evaluated {latex_escape(record.model.name)} on the CXR-Bench~\\cite{{{SOFTWARE_KEY}}} task "
        f"\\texttt{{{latex_escape(t.name)}}} (version {t.version}; task hash \\texttt{{{t.hash}}}; "
        f"pinned split sha256 \\texttt{{{t.split_sha256}}}), a {t.problem} task on the "
        f"{latex_escape(', '.join(t.labels))} labels of its dataset{dataset_cite}, scored on the task's "
        f"pinned test split ({test_set}).",
        _training_sentence(record, seeds),
        _threshold_sentence(record, task),
        f"Every metric is reported with a {level}\\% confidence interval from a percentile bootstrap over {unit} "
        f"({boot.n_resamples:,} resamples, seed {boot.seed}).",
        "Model comparisons use a paired bootstrap over patient clusters with Holm correction for multiple comparisons.",
        f"Run \\texttt{{{latex_escape(record.run_id)}}}, CXR-Bench "
        f"{latex_escape(record.versions.get('cxr-benchmark', 'unknown'))} "
        f"(git commit \\texttt{{{record.git.commit or 'unknown'}}}), PyTorch "
        f"{latex_escape(record.versions.get('torch', 'unknown'))}.",
    ]
    return " ".join(s for s in sentences if s)


def _training_sentence(record: RunRecord, seeds: list[int]) -> str:
    seed_text = (
        f"Results are reported over {len(seeds)} training seeds ({', '.join(map(str, seeds))}); this run used seed "
        f"{record.seed}."
        if len(seeds) > 1
        else f"Results are from one training seed ({record.seed})."
    )
    submission = record.submission
    if isinstance(submission, PredictionsSubmission):
        return (
            "The model was trained and run outside CXR-Bench; its test scores were submitted as a predictions file "
            f"(sha256 \\texttt{{{submission.sha256}}}), validated against the pinned test split and scored by the "
            f"task's own evaluation. {seed_text}"
        )
    recipe = record.recipe or {}
    weights = record.weights
    init = (
        f"initial weights with sha256 \\texttt{{{weights.sha256}}}"
        if weights is not None and weights.init == "pretrained"
        else "random initialisation"
    )
    extra = submission.extra_training_data if submission else ()
    extra_text = (
        f" Declared extra training data: {latex_escape('; '.join(extra))}."
        if extra
        else (" No training data beyond the task's training split was declared." if submission else "")
    )
    epochs_run = record.training.epochs_run if record.training else recipe["epochs"]
    size = record.model.input.image_size if record.model.input else "?"
    return (
        f"The model was trained from {init} on the task's training split with the recorded recipe "
        f"({latex_escape(recipe['optimizer'])}, learning rate {recipe['lr']:g}, batch size {recipe['batch_size']}, "
        f"{epochs_run} of at most {recipe['epochs']} epochs at {size} px); the checkpoint was selected on the "
        "validation split by "
        f"{latex_escape(recipe['select_on'].replace('_', ' '))}, and the test split selected nothing. "
        f"{seed_text}{extra_text}"
    )


def _threshold_sentence(record: RunRecord, task: Task | None) -> str:
    if record.task.problem == "multiclass":
        return "A prediction is the class with the highest score."
    values = ", ".join(f"{latex_escape(k)} {v:.4g}" for k, v in record.thresholds.items())
    if task is not None and task.tunes_threshold:
        rule = latex_escape(str(task.threshold).replace("_", " "))
        return f"Operating thresholds were chosen on validation predictions only, by the rule {rule} ({values})."
    return f"Operating thresholds were fixed by the task ({values})."


@dataclass(frozen=True)
class Citation:
    """What ``benchmark cite`` prints for a run: BibTeX, the methods paragraph, and a note when the
    task file changed since the run (the paragraph states the recorded protocol)."""

    bibtex: str
    methods: str
    note: str | None


def cite_run(results: ResultsDir, record: RunRecord) -> Citation:
    """The citation of ``record``, a run of ``results``; seeds are those of its leaderboard entry there."""
    try:
        task = TASKS.get(record.task.name)
    except UnknownNameError:
        log.warning("task %s is not registered: no dataset BibTeX", record.task.name)
        task = None
    note = None
    if task is not None and task.task_hash != record.task.hash:
        note = (
            f"task {task.name}'s file changed since this run (hash {task.task_hash[:12]} now, "
            f"{record.task.hash[:12]} recorded); the paragraph states the recorded protocol"
        )
    seeds = sorted({r.seed for r in results.query(RunFilter(entry_key=entry_key(record)))} | {record.seed})
    return Citation(bibtex(record, task), methods_paragraph(record, task, seeds), note)
