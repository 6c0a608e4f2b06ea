"""`benchmark evaluate-expert RUN_ID`: an nih14 run scored against Google's 2019 expert labels."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.results.store import DEFAULT_RESULTS


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate-expert",
        help="AUROC of an nih14 run against Google's 2019 expert labels (4 findings, 1,962 test images)",
        description="Scores the run's test predictions on the test images Google's radiologists adjudicated "
        "(Majkowska et al., Radiology 2020): Pneumothorax, Nodule or mass (max of Nodule, Mass), Airspace opacity "
        "(max of Consolidation, Infiltration, Pneumonia); Fracture has no nih14 label. Nothing is written.",
    )
    parser.add_argument("run_id", metavar="RUN_ID", help="run id (a unique prefix is enough)")
    parser.add_argument("--data-root", help="folder holding nih14/ (default: $CXRBENCH_DATA)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--n-resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    parser.set_defaults(handler=evaluate_expert)


def evaluate_expert(args: argparse.Namespace) -> int:
    from benchmark.data.root import find_dataset_dir, resolve_data_root
    from benchmark.errors import ConfigError
    from benchmark.results.store import ResultsDir
    from benchmark.stats.expert_labels import GOOGLE_LABELS_FILE, UNMAPPED, score_expert

    folder = find_dataset_dir(
        resolve_data_root(args.data_root),
        GOOGLE_LABELS_FILE,
        "nih14",
        "get it from Google's NIH chest X-ray labels release (or torchxrayvision's data folder)",
    )
    store = ResultsDir(args.results, read_only=True)
    task = store.load_record(args.run_id).task.name
    if task != "nih14":
        raise ConfigError(
            f"run {args.run_id} is a run of task {task}; Google's expert labels relabel NIH ChestX-ray14's test "
            "images, so only nih14 runs are scored against them"
        )
    result = score_expert(store.load_predictions(args.run_id), folder / GOOGLE_LABELS_FILE, args.n_resamples, args.seed)
    print(
        f"{result.n_images} test images of {result.n_patients} patients with expert labels "
        f"({result.n_ignored} other test images ignored); {result.bootstrap['n_resamples']} "
        f"{result.bootstrap['unit']} resamples, seed {result.bootstrap['seed']}"
    )
    for row in result.table.to_dict("records"):
        print(
            f"  {row['finding']:<17} {row['nih14_scores']:<42} pos {row['n_positive']:>4} neg {row['n_negative']:>4}  "
            f"AUROC {row['auroc']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
        )
    print(f"  not scored (no nih14 label): {', '.join(UNMAPPED)}")
    return 0
