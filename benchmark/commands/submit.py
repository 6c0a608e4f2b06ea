"""`benchmark submit`: a plugin submission folder, a predictions file, or a predictions template."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.commands.core import report_run
from benchmark.results.store import DEFAULT_RESULTS

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
    from benchmark.submission.predictions import write_template
    from benchmark.tasks import TASKS

    if args.out is None:
        raise ConfigError("--template needs --out FILE (.csv or .parquet)")
    task = TASKS.get(args.task)
    data = task.load_data(args.data_root)
    rows = write_template(task, data.frame, args.split, args.out)
    print(f"wrote {args.out}: {rows} {args.split} ids of task {task.name}, columns image_id + {list(task.labels)}")
    return 0


def _predictions(args: argparse.Namespace) -> int:
    from benchmark.errors import ConfigError
    from benchmark.submission.scoring import PredictionSubmission, score_submission
    from benchmark.tasks import TASKS
    from benchmark.training.runner import publish_run

    if not args.name:
        raise ConfigError("--predictions needs --name NAME (the name the entry is listed under)")
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
    import torch

    from benchmark.recipe import parse_overrides
    from benchmark.submission.plugin import load_plugin
    from benchmark.tasks import TASKS
    from benchmark.training.runner import RunRequest, run_benchmark

    task = TASKS.get(args.task)
    overrides = parse_overrides(args.overrides)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    spec, metadata = load_plugin(args.folder, task.name)
    spec.recipe.with_overrides(overrides)  # a bad override is rejected before the first seed trains
    for seed in args.seeds:
        request = RunRequest(
            task=task,
            model=spec,
            data_root=args.data_root,
            seed=seed,
            overrides=overrides,
            results=args.results,
            device=torch.device(args.device) if args.device else None,
            origin="submission",
            extra={"submission": metadata},
        )
        report_run(run_benchmark(request))
    _warn_if_unranked(args.results, task.task_hash, spec.name)
    return 0


def _check_not_recorded(results: Path, submission: PredictionSubmission) -> None:
    """One predictions file counts once: the same seed, or the same file under another seed, is refused."""
    from benchmark.data.download import file_digest
    from benchmark.errors import SubmissionError
    from benchmark.results.index import RunFilter
    from benchmark.results.record import PredictionsSubmission
    from benchmark.results.store import ResultsDir

    store = ResultsDir(results)
    sha = file_digest(submission.predictions, "sha256") if submission.predictions.is_file() else None
    for run in store.query(RunFilter(task_hash=submission.task.task_hash, model=submission.model_name)):
        recorded = store.load_record(run.run_id).submission
        recorded_sha = recorded.sha256 if isinstance(recorded, PredictionsSubmission) else None
        if run.seed == submission.seed or recorded_sha == sha:
            raise SubmissionError(
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
    predictions = parser.add_argument_group("prediction submissions (models that cannot run here)")
    predictions.add_argument("--predictions", type=Path, help="CSV or parquet: image_id + one column per label")
    predictions.add_argument("--val-predictions", type=Path, help="the same for the val split (threshold tasks)")
    predictions.add_argument("--name", help="name of the entry (recorded as submission:NAME)")
    template = parser.add_argument_group("templates")
    template.add_argument("--template", action="store_true", help="write a predictions file to fill")
    template.add_argument("--split", choices=["test", "val"], default="test", help="the template's split")
    template.add_argument("--out", type=Path, help="template file to write (.csv or .parquet)")
    parser.set_defaults(handler=submit)
