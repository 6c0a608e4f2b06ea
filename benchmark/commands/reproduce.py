"""`benchmark reproduce RUN_ID`: re-run a recorded run and print the difference in every metric."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.results.store import DEFAULT_RESULTS


def reproduce(args: argparse.Namespace) -> int:
    import torch

    from benchmark.errors import ReproductionError
    from benchmark.results.record import RECORD_FILE, RunRecord
    from benchmark.results.reproduce import identical, metric_differences, plan, rescore
    from benchmark.results.store import ResultsDir
    from benchmark.submission.isolation import run_and_publish
    from benchmark.training.runner import run_benchmark

    results = ResultsDir(args.results)
    device = torch.device(args.device) if args.device else None
    reproduction = plan(results, args.run_id, args.data_root, args.submission, device)
    record = reproduction.record
    print(f"reproducing {record.run_id} (task {record.task.name}, model {record.model.name}, seed {record.seed})")
    for change in reproduction.changes:
        print(f"changed: {change}")
    if reproduction.changes and not args.force:
        raise ReproductionError(
            f"{len(reproduction.changes)} input(s) of run {record.run_id} changed since it was recorded (listed "
            "above), so a re-run would not reproduce it; restore them, or pass --force to run anyway"
        )
    if reproduction.request is not None:
        run_dir = run_benchmark(reproduction.request)
    elif reproduction.plugin is not None:  # submitted code: trained in its child process, as by `submit`
        run_dir = run_and_publish(reproduction.plugin)
    else:
        run_dir = None
    if run_dir is None:
        reproduced = rescore(reproduction, args.data_root).metrics
        print("a prediction submission: its stored scores were scored again (nothing new recorded)")
    else:
        reproduced = RunRecord.load(run_dir / RECORD_FILE).metrics
        print(f"record: {run_dir / RECORD_FILE}")
    print(f"{'metric':<28} {'recorded':>12} {'reproduced':>12} {'difference':>12}")
    for name, old, new, diff in metric_differences(record.metrics, reproduced):
        print(f"{name:<28} {old:>12.6f} {new:>12.6f} {diff:>+12.2e}")
    if identical(record.metrics, reproduced):
        print(f"identical: all {len(record.metrics)} metrics, their 95% CIs included")
    else:
        print("not identical: see the differences above (CPU runs with the same seed are identical)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("reproduce", help="re-run a recorded run from its record and compare every metric")
    parser.add_argument("run_id", help="run id (a unique prefix is enough)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="where the run is and the re-run goes")
    parser.add_argument("--data-root", help="dataset folder (default: the one recorded)")
    parser.add_argument("--submission", type=Path, help="the submission folder, if it moved since the run")
    parser.add_argument("--device", help="cpu, cuda (default: cuda when available; record identity needs cpu)")
    parser.add_argument("--force", action="store_true", help="run even though the task or code changed")
    parser.set_defaults(handler=reproduce)
