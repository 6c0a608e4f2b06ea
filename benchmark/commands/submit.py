"""`benchmark submit`: a plugin submission folder, a predictions file, or a predictions template."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.commands.core import report_run
from benchmark.results.store import DEFAULT_RESULTS
from benchmark.submission.child import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from benchmark.submission.scoring import PredictionSubmission


def submit(args: argparse.Namespace) -> int:
    modes = [bool(args.folder), bool(args.predictions), bool(args.template)]
    if sum(modes) != 1:
        from benchmark.errors import ConfigError

        raise ConfigError(
            "benchmark submit takes exactly one of: a submission folder, --predictions FILE, or --template"
        )
    if args.template:
        return _template(args)
    if args.predictions:
        return _predictions(args)
    return _plugin(args)


def _template(args: argparse.Namespace) -> int:
    from benchmark.errors import ConfigError
    from benchmark.submission.predictions import check_template_target, write_template
    from benchmark.tasks import TASKS

    if args.out is None:
        raise ConfigError("--template needs --out FILE (.csv or .parquet)")
    check_template_target(args.out, args.force)  # a filled-in file is never overwritten unasked
    task = TASKS.get(args.task)
    data = task.load_data(args.data_root)
    rows = write_template(task, data.frame, args.split, args.out, force=args.force)
    print(f"wrote {args.out}: {rows} {args.split} ids of task {task.name}, columns image_id + {list(task.labels)}")
    return 0


def _predictions(args: argparse.Namespace) -> int:
    from benchmark.errors import ConfigError
    from benchmark.submission.metadata import check_name
    from benchmark.submission.scoring import PredictionSubmission, score_submission
    from benchmark.tasks import TASKS
    from benchmark.training.runner import publish_run

    if not args.name:
        raise ConfigError("--predictions needs --name NAME (the name the entry is listed under)")
    check_name(args.name, "--name")  # before anything is read or written: a name becomes a folder name
    if len(args.seeds) != 1:
        raise ConfigError("a predictions file comes from one training seed: pass one --seeds value (default 0)")
    submission = PredictionSubmission(
        name=args.name,
        task=TASKS.get(args.task),
        predictions=args.predictions,
        val_predictions=args.val_predictions,
        seed=args.seeds[0],
        data_root=args.data_root,
    )
    _check_not_recorded(args.results, submission)
    run_dir = publish_run(score_submission(submission), args.results)
    report_run(run_dir)
    _warn_if_unranked(args.results, submission.task.task_hash, submission.model_name)
    return 0


def _plugin(args: argparse.Namespace) -> int:
    """Each seed trains in a child process (benchmark.submission.isolation); this one scores and records."""
    import torch

    from benchmark.errors import ConfigError
    from benchmark.recipe import Recipe, parse_overrides
    from benchmark.submission.isolation import Limits, PluginRun, run_and_publish
    from benchmark.tasks import TASKS

    task = TASKS.get(args.task)
    overrides = parse_overrides(args.overrides)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    Recipe().with_overrides(overrides)  # a misspelt or mistyped override is refused before any code runs
    if args.timeout is not None and args.timeout < 0:
        raise ConfigError(f"--timeout must be a number of seconds >= 0 (0: none), got {args.timeout}")
    device = str(torch.device(args.device)) if args.device else None
    limits = Limits(timeout=args.timeout or None)
    model_name = None
    for seed in args.seeds:
        run = PluginRun(
            folder=args.folder,
            task=task,
            seed=seed,
            overrides=overrides,
            data_root=args.data_root,
            results=args.results,
            device=device,
            resume=args.resume,
            limits=limits,
        )
        model_name = report_run(run_and_publish(run)).model.name
    if model_name is not None:
        _warn_if_unranked(args.results, task.task_hash, model_name)
    return 0


def _check_not_recorded(results: Path, submission: PredictionSubmission) -> None:
    """One predictions file counts once: the same seed, or the same file under another seed, is refused
    before scoring (``ResultsDir.recorded_submission``); publishing checks again, by content, under the
    store's lock (``ResultsDir.check_new_run``), so copies re-encoded or submitted at once are refused too."""
    from benchmark.data.download import file_digest
    from benchmark.errors import DuplicateRunError
    from benchmark.results.store import ResultsDir

    sha = file_digest(submission.predictions, "sha256") if submission.predictions.is_file() else None
    found = ResultsDir(results).recorded_submission(
        submission.task.task_hash, submission.model_name, submission.seed, sha
    )
    if found is not None:
        run, recorded_sha = found
        raise DuplicateRunError(
            f"{submission.predictions}: {submission.model_name} on task {submission.task.name} already has run "
            f"{run.run_id} (seed {run.seed}, file sha256 {recorded_sha}); each seed is "
            "submitted once, from its own trained model: pass another --seeds value or another --name"
        )


def _warn_if_unranked(results: Path, task_hash: str, model_name: str) -> None:
    from benchmark.results.entries import MIN_SEEDS_RANKED
    from benchmark.results.index import RunFilter
    from benchmark.results.store import ResultsDir

    for entry in ResultsDir(results).entries(RunFilter(task_hash=task_hash)):
        if entry.model_name == model_name and not entry.ranked:
            print(
                f"note: {model_name} has {len(entry.seeds)} seed(s) {list(entry.seeds)} on this task; it is listed "
                f"but unranked until it has {MIN_SEEDS_RANKED} (submissions/README.md)"
            )


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "submit",
        help="submit a model (a submissions/<team> folder) or a predictions file, validated before anything runs",
    )
    parser.add_argument("folder", nargs="?", type=Path, help="submission folder holding submission.yaml and model.py")
    parser.add_argument("--task", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed (3 for a ranked entry)")
    parser.add_argument("--data-root", help="dataset folder (default: $CXRBENCH_DATA)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field"
    )
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.add_argument(
        "--resume", action="store_true", help="continue a plugin's interrupted training from its checkpoint"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="wall-clock seconds a plugin's process may run per seed before it is killed (0: no limit; default 48 h)",
    )
    predictions = parser.add_argument_group("prediction submissions (models that cannot run here)")
    predictions.add_argument("--predictions", type=Path, help="CSV or parquet: image_id + one column per label")
    predictions.add_argument("--val-predictions", type=Path, help="the same for the val split (threshold tasks)")
    predictions.add_argument("--name", help="name of the entry (recorded as submission:NAME)")
    template = parser.add_argument_group("templates")
    template.add_argument("--template", action="store_true", help="write a predictions file to fill")
    template.add_argument("--split", choices=["test", "val"], default="test", help="the template's split")
    template.add_argument("--out", type=Path, help="template file to write (.csv or .parquet)")
    template.add_argument("--force", action="store_true", help="replace --out if it exists (it may be filled in)")
    parser.set_defaults(handler=submit)
