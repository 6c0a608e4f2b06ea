"""Plugin submissions run in a child process; this process only validates, scores and records.

``run_plugin`` checks the submission folder (submission.yaml, paths, the weights' hash: no submitted
code runs for that), then starts ``python -m benchmark.submission.child`` with:

- its own working directory and ``HOME``: ``<results>/.work/submission-<name>-s<seed>-<key>/home/``,
  where ``<key>`` hashes the task, the submission's files, the overrides and the seed (so ``--resume``
  finds the checkpoint the child left in the same folder);
- a minimal environment (``child_environment``): nothing of this process's environment but the
  names in ``PASSED_ENV``, and the data, cache and tasks locations this process resolved;
- resource limits (``Limits``): no core files, ``open_files`` descriptors, no file larger than
  ``file_size`` bytes, and a wall-clock ``timeout`` after which its whole process group is killed.

The child hands back predictions as files. They are validated exactly as a prediction file is
(``read_predictions``: every id of the split once, the task's columns, finite scores in [0, 1]),
then scored here (``scoring.score``): every metric comes from this process's code, which the
submitted code never runs alongside. A child that exits without handing back valid files, with
any exit status (0 included), is a ``SubmissionProcessError``; nothing is recorded.

What this does not isolate (submissions/README.md, "Trust model"): the child runs as the same
user, so it can read and write whatever that user can (the results folder, the prepared cache,
this project's files), use the network if there is one, and hand back any scores it likes, as a
prediction file can. Untrusted code belongs in a container or VM.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd
import torch

import benchmark
from benchmark.data.cache import CACHE_ENV, cache_root
from benchmark.data.root import DATA_ROOT_ENV, resolve_data_root
from benchmark.errors import BenchmarkError, PredictionFileError, SubmissionError, SubmissionProcessError
from benchmark.recipe import Recipe, check_seed
from benchmark.results.record import Durations, ModelSection, PackageInfo, PluginSubmission, TrainingSection
from benchmark.results.store import DEFAULT_RESULTS, ResultsDir, discard
from benchmark.submission.child import DEFAULT_TIMEOUT, HANDED_BACK, META_FILE, OUT_DIR, STATE_FILE, TEST_FILE, VAL_FILE
from benchmark.submission.metadata import METADATA_FILE, SHA256_PATTERN, Submission, load_submission
from benchmark.submission.predictions import read_predictions
from benchmark.submission.scoring import score
from benchmark.tasks import Task
from benchmark.tasks.registry import TASKS_DIR_ENV
from benchmark.training.code import training_code_hash, training_digests
from benchmark.training.runner import RunArtifacts, build_record, run_key, weights_record

log = logging.getLogger(__name__)

REQUEST_FILE = "request.json"
LOG_FILE = "child.log"
HOME_DIR = "home"
# Passed through unchanged when set: how to find programs, the locale, which GPUs and how many threads.
PASSED_ENV = ("PATH", "LANG", "LC_ALL", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
TAIL_LINES = 30
LOG_LIMIT = 64 * 2**20  # bytes of the child's output kept in child.log
META_LIMIT = 64 * 2**20  # meta.json bigger than this is not read
DEVICE_PATTERN = re.compile(r"cpu|cuda(:\d+)?|mps")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What the child may use. ``timeout``: wall-clock seconds (None: no limit), after which the
    child's process group is killed. ``open_files``: RLIMIT_NOFILE. ``file_size``: RLIMIT_FSIZE, the
    largest file it may write (the prepared image cache of a 112,120-image task at 512 px is 29 GB).
    Core dumps are off. Memory is not limited here: RLIMIT_AS counts address space, and ``import
    torch`` alone maps 3.1 GiB of it (measured on CPU; CUDA maps more), failing under 2 GiB; use a
    cgroup (submissions/README.md, "Trust model")."""

    timeout: float | None = DEFAULT_TIMEOUT
    open_files: int = 4096
    file_size: int = 64 * 2**30


@dataclasses.dataclass(frozen=True)
class PluginRun:
    """One seed of a plugin submission, as ``benchmark submit FOLDER`` asks for it."""

    folder: Path
    task: Task
    seed: int = 0
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    data_root: str | None = None
    results: Path = DEFAULT_RESULTS
    device: str | None = None
    resume: bool = False
    limits: Limits = Limits()
    reproduces: str | None = None  # the run id this run re-runs (``benchmark reproduce``)


@dataclasses.dataclass(frozen=True)
class Reported:
    """What the child says about the model and its training (meta.json), type-checked. None of it is
    a metric; the record states it as the child reported it."""

    model: ModelSection
    training: TrainingSection
    recipe: Recipe
    package: PackageInfo | None
    device: torch.device | None  # None: not a device name (refused)
    seconds: dict[str, float]


def run_plugin(run: PluginRun) -> RunArtifacts:
    """Train and predict in a child process, then validate and score its predictions here.

    Returns the run held in memory (``publish_run`` writes it; its ``work_dir`` is the submission's
    work folder, to discard once published). Raises SubmissionError before any submitted code runs
    for a folder that does not validate, and SubmissionProcessError when the child fails, exits
    early, breaks a limit or hands back files that do not validate; nothing is recorded then and
    the work folder is kept (its child.log holds the child's whole output).
    """
    started = time.perf_counter()
    check_seed(run.seed)
    submission = load_submission(run.folder)  # submission.yaml, paths and weights hash: no submitted code
    submission.check_task(run.task.name)
    training_code = (training_code_hash(), training_digests())  # read before submitted code could change them
    section = submission.to_record()
    data_root = resolve_data_root(run.data_root).resolve()
    data = run.task.load_data(data_root)  # the truth the predictions are scored against, read here
    work = ResultsDir(Path(run.results)).work_dir(work_key(run, submission, section))
    _fresh_work_folder(work, run.resume)
    request = {
        "folder": str(submission.folder),
        "task": task_spec(run.task),
        "task_hash": run.task.task_hash,
        "data_root": str(data_root),
        "seed": run.seed,
        "overrides": run.overrides,
        "work": str(work),
        "out": str(work / OUT_DIR),
        "resume": run.resume,
        "device": run.device,
    }
    (work / REQUEST_FILE).write_text(json.dumps(request))
    label = f"{submission.model_name} seed {run.seed}"
    log.info("%s: submitted code runs in a child process in %s", label, work / HOME_DIR)
    command = [sys.executable, "-m", "benchmark.submission.child", str(work / REQUEST_FILE)]
    status, tail = run_child(command, work, child_environment(work, data_root), run.limits, label)
    missing = [name for name in HANDED_BACK if not (work / OUT_DIR / name).is_file()]
    if status != 0 or missing:
        raise SubmissionProcessError(_failure(submission, work, status, missing, tail, run.limits))
    return _score_and_record(run, submission, section, data, work, started, training_code)


def run_and_publish(run: PluginRun) -> Path:
    """``run_plugin`` then ``publish_run``: one seed of a plugin trained in its child process, scored and
    recorded here; the work folder is removed once the run is published. Returns the run directory."""
    from benchmark.training.runner import publish_run

    artifacts = run_plugin(run)
    run_dir = publish_run(artifacts, Path(run.results))
    if artifacts.work_dir is not None:
        discard(artifacts.work_dir)
    return run_dir


def _score_and_record(
    run: PluginRun,
    submission: Submission,
    section: dict[str, Any],
    data: Any,
    work: Path,
    started: float,
    training_code: tuple[str, dict[str, str]],
) -> RunArtifacts:
    out = work / OUT_DIR
    reported = _reported(out / META_FILE, submission, run)
    code_hash, code = training_code
    task = run.task
    scoring_started = time.perf_counter()
    test_scores = _validated(out / TEST_FILE, task, data, "test", submission)
    val_scores = _validated(out / VAL_FILE, task, data, "val", submission)
    scored = score(task, data, test_scores, val_scores)
    scoring_seconds = time.perf_counter() - scoring_started
    state = _state_dict(out / STATE_FILE, submission)
    plugin_section = {**section, "source_hash": reported.model.source_hash}
    if reported.package is not None:  # an entry point's distribution
        plugin_section["package"] = reported.package.to_dict()
    record = build_record(
        task=task,
        data=data,
        model=reported.model,
        seed=run.seed,
        key=run_key(task.task_hash, str(reported.model.source_hash), reported.recipe.to_dict(), run.seed, code_hash),
        evaluation=scored.evaluation,
        n_test=len(scored.predictions),
        device=reported.device,
        durations=Durations(
            data=round(reported.seconds["data"], 3),
            train=round(reported.seconds["train"], 3),
            evaluate=round(reported.seconds["predict"] + scoring_seconds, 3),
            total=round(time.perf_counter() - started, 3),
        ),
        origin="submission",
        weights=_weights(submission, reported.recipe),
        recipe=reported.recipe.to_dict(),
        overrides=run.overrides,
        training=dataclasses.replace(reported.training, code_hash=code_hash, code=code),
        sections={
            "submission": PluginSubmission.from_dict(plugin_section, str(submission.folder / METADATA_FILE)),
            **({"reproduces": run.reproduces} if run.reproduces else {}),
        },
    )
    return RunArtifacts(record, scored.predictions, scored.val_predictions, state, work)


def task_spec(task: Task) -> dict[str, Any]:
    """The task as a task file states it (JSON-shaped), for the child to rebuild with ``task_from_dict``."""
    return json.loads(json.dumps({f.name: getattr(task, f.name) for f in dataclasses.fields(task)}))


def work_key(run: PluginRun, submission: Submission, section: dict[str, Any]) -> str:
    """The work folder's name: the same submission files, task, overrides and seed find the same
    folder, so ``--resume`` continues from the checkpoint left there."""
    inputs = [run.task.task_hash, section["metadata_sha256"], section["model_sha256"], section["entry_point"]]
    blob = json.dumps([*inputs, section["weights"], run.overrides, run.seed], sort_keys=True, default=str)
    return f"submission-{submission.name}-s{run.seed}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def child_environment(work: Path, data_root: Path) -> dict[str, str]:
    """The child's whole environment: ``PASSED_ENV`` when set, its own HOME and TMPDIR, the
    PYTHONPATH that finds this project, and the data root, prepared cache and task files in use here."""
    home = work / HOME_DIR
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.setdefault("PATH", os.defpath)
    project = str(Path(benchmark.__file__).resolve().parent.parent)
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env.update(
        HOME=str(home),
        TMPDIR=str(home / "tmp"),
        PYTHONPATH=os.pathsep.join([project, *inherited]),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",  # no __pycache__ written into the submission folder
        **{DATA_ROOT_ENV: str(data_root), CACHE_ENV: str(cache_root().expanduser().resolve())},
    )
    if os.environ.get(TASKS_DIR_ENV):
        env[TASKS_DIR_ENV] = os.environ[TASKS_DIR_ENV]
    return env


def limit_resources(limits: Limits) -> Callable[[], None]:
    """The child's ``preexec_fn``: soft and hard limits both lowered, so submitted code cannot raise them."""

    def apply() -> None:
        _lower(resource.RLIMIT_CORE, 0)
        _lower(resource.RLIMIT_NOFILE, limits.open_files)
        _lower(resource.RLIMIT_FSIZE, limits.file_size)

    return apply


def _lower(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def _fresh_work_folder(work: Path, resume: bool) -> None:
    """A new work folder; with ``resume``, only the training checkpoint under it is kept."""
    if not resume:
        discard(work)
    for name in (HOME_DIR, OUT_DIR):
        discard(work / name)
    (work / HOME_DIR / "tmp").mkdir(parents=True)
    (work / OUT_DIR).mkdir()


def run_child(
    command: list[str], work: Path, env: dict[str, str], limits: Limits, label: str
) -> tuple[int | None, list[str]]:
    """Run ``command`` in ``work/home`` with ``env`` and ``limits`` to its end, then kill what is left
    of its process group. Its output goes to this process's stderr (each line prefixed with ``label``)
    and to ``work/child.log``. Returns its exit status (None: killed at the timeout) and last lines."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    with open(work / LOG_FILE, "wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=work / HOME_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed whole at the end
            preexec_fn=limit_resources(limits),  # only setrlimit runs between fork and exec
        )
        assert process.stdout is not None
        relay = threading.Thread(target=_relay, args=(process.stdout, log_file, tail, label), daemon=True)
        relay.start()
        status: int | None
        try:
            status = process.wait(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            status = None
        finally:  # also on KeyboardInterrupt: nothing of the submission outlives this call
            _kill_group(process)
            process.wait()
            relay.join(timeout=5)
    return status, list(tail)


def _relay(stream: IO[bytes], log_file: IO[bytes], tail: collections.deque[str], label: str) -> None:
    written = 0
    for raw in iter(lambda: stream.readline(65536), b""):
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        tail.append(text if len(text) <= 500 else text[:500] + "...")
        if written < LOG_LIMIT:
            log_file.write(raw)
            written += len(raw)
        print(f"[{label}] {text}", file=sys.stderr, flush=True)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group has ended already
        os.killpg(process.pid, signal.SIGKILL)


def _failure(
    submission: Submission, work: Path, status: int | None, missing: list[str], tail: list[str], limits: Limits
) -> str:
    """The error of a child that did not hand back its files: who, how it ended, its last output."""
    if status is None:
        how = f"ran past the wall-clock limit of {limits.timeout:g} s (--timeout) and was killed"
    elif status < 0:
        name = signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
        why = {"SIGXFSZ": f" (a file over the {limits.file_size} byte limit)", "SIGKILL": " (out of memory?)"}
        how = f"was killed by signal {name}{why.get(name, '')}"
    else:
        how = f"exited with status {status}"
    handed = f" without handing back {', '.join(missing)}" if status == 0 else ""
    shown = "\n".join(f"    {line}" for line in tail) or "    (no output)"
    return (
        f"submission {submission.name} ({submission.folder}): its process {how}{handed}; nothing was recorded.\n"
        f"  last output:\n{shown}\n"
        f"The work folder {work} is kept: child.log holds the whole output (and .work/ any checkpoint, for "
        "--resume). Fix the model code and submit again."
    )


def _reported(path: Path, submission: Submission, run: PluginRun) -> Reported:
    """meta.json type-checked; any problem is a SubmissionProcessError naming the submission."""
    where = f"submission {submission.name}: meta.json handed back by its process ({path})"
    try:
        if path.stat().st_size > META_LIMIT:
            raise ValueError(f"{path.stat().st_size} bytes, more than {META_LIMIT}")
        meta = json.loads(path.read_text())
        recipe = Recipe(**meta["recipe"])
        model = ModelSection.from_dict(
            {
                "name": submission.model_name,
                "family": meta["family"],
                "source_file": meta["source_file"],
                "source_hash": meta["source_hash"],
                "sources": meta["sources"],
                "parameters": meta["parameters"],
                "input": meta["input"],
            },
            "meta.json",
        )
        seconds = {key: float(meta["seconds"][key]) for key in ("data", "train", "predict")}
        reported = Reported(
            model=model,
            training=TrainingSection.from_dict(meta["training"], "meta.json"),
            recipe=recipe,
            package=PackageInfo.from_dict(meta["package"], "meta.json") if meta["package"] is not None else None,
            device=torch.device(meta["device"]) if DEVICE_PATTERN.fullmatch(str(meta["device"])) else None,
            seconds=seconds,
        )
    except (BenchmarkError, ValueError, TypeError, KeyError, RecursionError) as exc:
        raise SubmissionProcessError(f"{where} does not validate ({type(exc).__name__}: {exc})") from exc
    problems = _recipe_problems(reported.recipe, submission, run)
    if not (isinstance(model.source_hash, str) and SHA256_PATTERN.fullmatch(model.source_hash)):
        problems.append(f"source_hash {model.source_hash!r} is not a sha256 (64 lowercase hex digits)")
    if reported.device is None:
        problems.append(f"device {meta['device']!r} is not cpu, cuda, cuda:N or mps")
    if not all(math.isfinite(v) and v >= 0 for v in seconds.values()):
        problems.append(f"durations {seconds} are not all finite and >= 0")
    if problems:
        raise SubmissionProcessError(f"{where} does not validate: " + "; ".join(problems))
    return reported


def _recipe_problems(recipe: Recipe, submission: Submission, run: PluginRun) -> list[str]:
    """The reported recipe must be one the request produces: overrides applied, declared weights in use."""
    problems = []
    try:
        if recipe.with_overrides(run.overrides) != recipe:
            problems.append(f"its recipe does not carry the overrides {run.overrides}")
    except BenchmarkError as exc:
        problems.append(f"the overrides do not apply to its recipe ({exc})")
    if submission.weights_file is not None and recipe.pretrained_weights != str(submission.weights_file):
        problems.append(
            f"its recipe starts from {recipe.pretrained_weights!r}, not the declared weights {submission.weights_file}"
        )
    return problems


def _weights(submission: Submission, recipe: Recipe) -> Any:
    """The record's initial weights, hashed here: the declared file, or a regular file the recipe names."""
    path = recipe.pretrained_weights
    if path and submission.weights_file is None and not Path(path).is_file():
        raise SubmissionProcessError(
            f"submission {submission.name}: its recipe names pretrained weights {path!r}, which is not a regular "
            "file here; declare the weights in submission.yaml (`weights: {file, sha256}`)"
        )
    return weights_record(path)


def _validated(path: Path, task: Task, data: Any, split: str, submission: Submission) -> pd.DataFrame:
    """The child's scores checked exactly as a prediction file's are."""
    try:
        return read_predictions(path, task, data.frame, split)
    except PredictionFileError as exc:
        raise SubmissionProcessError(
            f"submission {submission.name}: the {split} predictions its process handed back are refused, by the "
            f"checks a prediction file passes; nothing was recorded.\n{exc}"
        ) from exc


def _state_dict(path: Path, submission: Submission) -> dict[str, torch.Tensor]:
    """The trained weights, read without unpickling code (``weights_only``): a dict of tensors."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a file that is not a checkpoint
        raise SubmissionProcessError(
            f"submission {submission.name}: {path} handed back by its process is not a tensor checkpoint "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if not (isinstance(state, dict) and all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items())):
        raise SubmissionProcessError(
            f"submission {submission.name}: {path} handed back by its process is not a state dict (name -> tensor)"
        )
    return state


__all__ = ["Limits", "PluginRun", "SubmissionError", "child_environment", "run_plugin", "task_spec"]
