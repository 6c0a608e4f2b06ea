"""`benchmark compare`: models of one task compared with CIs, pairwise tests and a correction."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.results.store import DEFAULT_RESULTS


def compare_runs(args: argparse.Namespace) -> int:
    from benchmark.stats import compare, load_runs, render
    from benchmark.tasks.registry import registered_subsets

    runs = load_runs(args.results, args.run_ids)
    subsets = registered_subsets(runs[0].task_name, runs[0].task_hash)
    comparison = compare(runs, metric=args.metric, subsets=subsets, **comparison_options(args))
    print(render(comparison, args.format, pairs=args.pairs))
    return 0


def add_comparison_options(parser: argparse.ArgumentParser) -> None:
    """Metric and test settings shared by `compare` and `export`."""
    parser.add_argument("--metric", help="a value the task reports, e.g. auroc, auroc/Effusion, f1 (default: primary)")
    parser.add_argument("--test", choices=("bootstrap", "delong"), default="bootstrap")
    parser.add_argument("--correction", choices=("holm", "bh", "none"), default="holm")
    parser.add_argument("--n-resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    parser.add_argument("--alpha", type=float, default=0.05)


def comparison_options(args: argparse.Namespace) -> dict:
    return {
        "test": args.test,
        "correction": args.correction,
        "n_resamples": args.n_resamples,
        "seed": args.seed,
        "alpha": args.alpha,
    }


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "compare",
        help="compare runs of one task: CIs, paired tests, Holm/BH correction, the top group",
        description="Runs of one model (and configuration) are its seeds; models are scored on seed-averaged "
        "predictions with patient-cluster bootstrap CIs and compared pairwise.",
    )
    parser.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="run ids (a unique prefix is enough)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    add_comparison_options(parser)
    parser.add_argument("--format", choices=("table", "csv", "markdown", "latex"), default="table")
    parser.add_argument("--pairs", action="store_true", help="csv/markdown/latex: the pairwise tests instead")
    parser.set_defaults(handler=compare_runs)
