"""chexpert3 subgroups on CheXpert's 202 real frontal validation images (plumbing, not a finding).

chexpert3's test set is CheXpert's official validation set, whose 202 frontal images are real and
present in the shared data; its training images are not. So this script trains a chexpert3 model on a
*generated* CheXpert-layout training set (tests/fixtures/chexpert/make.py, with the real valid.csv and
valid/ images linked in) under a re-pinned copy of the task (tests/conftest.py's ``pinned_copy``: same
spec, split hash of the generated data), and prints the run's recorded ``subgroups`` section:
macro AUROC per sex, age band and view position with patient-bootstrap CIs and each attribute's largest
gap with the CI of the paired difference, then the same analysis per label (``paired_subgroups`` on
``auroc/<label>`` with the run's bootstrap settings). A model trained on generated bands scores about
chance on real films: the table exercises the code on real metadata and real group sizes, nothing more.

    .venv/bin/python benchmarks/chexpert_subgroups.py [--data-root ../shared/data] [--work /tmp/chexpert_subgroups]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from _args import add_data_root  # first: puts this checkout on sys.path

from benchmark.results.export import markdown_table
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.stats.subgroup_gap import paired_subgroups
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy
from tests.fixtures.chexpert.make import FOLDER, make_chexpert_dataset


def chexpert_run(
    data_root: Path, work: Path, image_size: int, epochs: int, steps: int | None, n_resamples: int
) -> Path:
    """A chexpert3 run (lotko_cnn) trained on a generated CheXpert layout and tested on the real valid/ images."""
    root = make_chexpert_dataset(work / "data", real=data_root / "chexpert" / FOLDER)
    task = pinned_copy(
        TASKS.get("chexpert3"), root, expected_patients=None, bootstrap={"n_resamples": n_resamples, "seed": 0}
    )
    overrides: dict[str, Any] = {"epochs": epochs, "image_size": image_size}
    if steps is not None:
        overrides["steps_per_epoch"] = steps
    request = RunRequest(
        task=task, model="lotko_cnn", data_root=str(root), results=work / "results", overrides=overrides
    )
    return run_benchmark(request)


def _ci(value: Any, low: Any, high: Any) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    bounds = "n/a" if low is None or pd.isna(low) else f"[{low:.3f}, {high:.3f}]"
    return f"{value:.3f} {bounds}"


def group_table(rows: pd.DataFrame) -> str:
    """attribute, group, images, patients, one ``value [CI] (undefined resamples)`` column per metric."""
    rows = rows.assign(cell=[f"{_ci(r.value, r.ci_low, r.ci_high)} ({r.n_degenerate})" for r in rows.itertuples()])
    wide = rows.pivot_table(
        index=["attribute", "group", "n_images", "n_patients"],
        columns="metric",
        values="cell",
        aggfunc="first",
        sort=False,
    )
    return markdown_table(wide.reset_index().rename(columns={"n_images": "images", "n_patients": "patients"}))


def gap_table(gaps: pd.DataFrame) -> str:
    cells = [
        {
            "attribute": g.attribute,
            "metric": g.metric,
            "largest gap": f"{g.high_group} − {g.low_group}",
            "gap [95% CI]": _ci(g.gap, g.ci_low, g.ci_high),
            "undefined resamples": g.n_degenerate,
        }
        for g in gaps.itertuples()
    ]
    return markdown_table(pd.DataFrame(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_root(parser)
    parser.add_argument("--work", help="folder for the generated data and the run (default: a temporary one)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="batches per epoch (default: all)")
    parser.add_argument("--n-resamples", type=int, default=2000)
    parser.add_argument("--run", help="print the tables of this finished run directory instead of training one")
    args = parser.parse_args()

    start = time.perf_counter()
    if args.run:
        run_dir = Path(args.run)
    else:
        work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="chexpert_subgroups_"))
        if args.work and work.exists():
            shutil.rmtree(work)
        run_dir = chexpert_run(Path(args.data_root), work, args.image_size, args.epochs, args.steps, args.n_resamples)
    trained = time.perf_counter() - start
    record = RunRecord.load(run_dir / RECORD_FILE)
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    section = record.subgroups
    if not section:
        raise SystemExit(f"run {run_dir} has no subgroups section")
    settings = section["settings"]
    overall = record.metrics["auroc"]
    print(
        f"run: {run_dir}  ({trained:.0f} s); overall macro AUROC {_ci(overall.value, overall.ci_low, overall.ci_high)}"
    )
    print(
        f"test: {len(predictions)} real frontal validation images, {predictions['patient_id'].nunique()} patients; "
        f"{settings['n_resamples']} patient resamples (seed {settings['seed']}, {settings['method']}); "
        f"largest gap among groups with >= {settings['min_patients_for_gap']} patients and "
        f">= {settings.get('min_per_class_for_gap', 0)} positives and negatives per scored label\n"
    )
    rows = [pd.DataFrame(section["rows"])]
    gaps = [pd.DataFrame(section["summary"]["gaps"])]
    thresholds = [record.thresholds[label] for label in record.task.labels]
    for label in record.task.labels:  # the section has the primary (macro) metric; per label, same settings
        analysis = paired_subgroups(
            predictions, f"auroc/{label}", settings["n_resamples"], settings["seed"], method=settings["method"],
            problem="multilabel", thresholds=thresholds,
        )  # fmt: skip
        rows.append(analysis.rows)
        gaps.append(analysis.gaps)
    print("Per group: AUROC [95% CI] (undefined resamples)\n")
    print(group_table(pd.concat(rows, ignore_index=True)))
    print("\nLargest gap per attribute and metric\n")
    print(gap_table(pd.concat(gaps, ignore_index=True)))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
