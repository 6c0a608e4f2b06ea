"""`benchmark evaluate-expert RUN_ID`: an nih14 run scored against Google's 2019 expert labels, written beside
the run as ``derived/expert/google2019.json`` (``--dry-run``: printed only)."""

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
        "(max of Consolidation, Infiltration, Pneumonia); Fracture has no nih14 label. Beside each, the AUROC of "
        "the same scores against NIH's text-mined labels on the same images. The result is written beside the "
        "run (derived/expert/google2019.json; its record is untouched) unless --dry-run.",
    )
    parser.add_argument("run_id", metavar="RUN_ID", help="run id (a unique prefix is enough)")
    parser.add_argument("--data-root", help="folder holding nih14/ (default: $CXRBENCH_DATA)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--n-resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    parser.add_argument("--dry-run", action="store_true", help="print the table, write nothing")
    parser.set_defaults(handler=evaluate_expert)


def reference_run(run_dir: Path) -> Path | None:
    """The reference folder (shipped board or $CXRBENCH_REFERENCE) holding ``run_dir``, else None."""
    from benchmark.reference.board import reference_roots, shipped_results

    where = run_dir.resolve()
    for root in (shipped_results(), *reference_roots()):
        if where.is_relative_to(root.resolve()):
            return root
    return None


def evaluate_expert(args: argparse.Namespace) -> int:
    from benchmark.data.download import file_digest
    from benchmark.data.root import find_dataset_dir, resolve_data_root
    from benchmark.errors import ConfigError, ReadOnlyStoreError
    from benchmark.reference.board import with_reference
    from benchmark.results.store import PREDICTIONS_FILE
    from benchmark.stats.expert_labels import EXPERT_TASK, GOOGLE_LABELS_FILE, UNMAPPED, score_expert, write_expert

    folder = find_dataset_dir(
        resolve_data_root(args.data_root),
        GOOGLE_LABELS_FILE,
        EXPERT_TASK,
        "get it from Google's NIH chest X-ray labels release (or torchxrayvision's data folder)",
    )
    store = with_reference(args.results, read_only=True)
    run_dir = store.find(args.run_id)
    record = store.load_record(args.run_id)
    if record.task.name != EXPERT_TASK:
        raise ConfigError(
            f"run {args.run_id} is a run of task {record.task.name}; Google's expert labels relabel NIH ChestX-ray14's "
            "test images, so only nih14 runs are scored against them"
        )
    shipped = reference_run(run_dir)
    if shipped is not None and not args.dry_run:
        raise ReadOnlyStoreError(
            f"run {record.run_id} is a reference run under {shipped}, which is read-only, so no result can be written "
            f"beside it: pass --dry-run to print the scores, or copy {run_dir} into your results folder "
            f"({args.results}) and score the copy; nothing was written"
        )
    labels_file = folder / GOOGLE_LABELS_FILE
    result = score_expert(store.read_predictions(record), labels_file, args.n_resamples, args.seed)
    print(
        f"{result.n_images} test images of {result.n_patients} patients with expert labels "
        f"({result.n_ignored} other test images ignored); {result.bootstrap['n_resamples']} "
        f"{result.bootstrap['unit']} resamples, seed {result.bootstrap['seed']}"
    )
    print(f"  {'finding':<17} {'scored with':<42} {'expert':>16}  AUROC expert [95% CI]  text-mined AUROC [95% CI]")
    for row in result.table.to_dict("records"):
        text = (
            "n/a"
            if row["text_auroc"] != row["text_auroc"]  # NaN: no text-mined truth in the predictions
            else f"{row['text_auroc']:.3f} [{row['text_ci_low']:.3f}, {row['text_ci_high']:.3f}]"
        )
        print(
            f"  {row['finding']:<17} {row['nih14_scores']:<42} pos {row['n_positive']:>4} neg {row['n_negative']:>4}  "
            f"{row['auroc']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]  {text}"
        )
    print(f"  not scored (no nih14 label): {', '.join(UNMAPPED)}")
    if args.dry_run:
        print("--dry-run: nothing written")
        return 0
    labels_sha256 = file_digest(labels_file, "sha256")
    predictions_sha256 = (record.files or {}).get(PREDICTIONS_FILE) or file_digest(run_dir / PREDICTIONS_FILE, "sha256")
    path = write_expert(run_dir, result.payload(labels_file, labels_sha256), predictions_sha256, labels_sha256)
    print(f"wrote {path}")
    return 0
