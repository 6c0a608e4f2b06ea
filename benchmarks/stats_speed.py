"""Patient-cluster bootstrap CIs and DeLong tests on a problem the size of the NIH ChestX-ray14 test set.

The test set's real structure comes from ``nih14/Data_Entry_2017_v2020.csv.gz`` and
``test_list.txt`` (25,596 images of 2,797 patients with their uneven images per patient, and the
15 labels' prevalences); the scores are synthetic (float32 probabilities with a patient effect).

1. 2,000-resample patient-cluster bootstrap CIs of the 15 per-label AUROCs and the macro AUROC:
   the candidate (benchmark.stats: cluster pair matrix + one matrix product per label) against the
   straightforward loop (expand each resample into image indices -> scikit-learn roc_auc_score
   per label), over the same resample indices. ``--reference-resamples K`` times the loop on the
   first K resamples and extrapolates to all (said so in the output); values are compared on those K.
2. DeLong's test for all pairs of 20 models on each of the 15 labels: one covariance per label
   (all models at once) against one two-model call per pair.

    .venv/bin/python benchmarks/stats_speed.py [--data-root ../shared/data] [--reference-resamples 200]

Goal: ratio >= 50, candidate <= 10 s on 2 cores, results equal to 1e-9; DeLong <= 5 s.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from benchmark.data.sources.nih14 import FINDINGS, NO_FINDING, find_data_entry, label_matrix, read_data_entry, read_list
from benchmark.metrics.cluster_weights import ClusterWeights
from benchmark.metrics.registry import EvalInputs, compute_metrics
from benchmark.stats import delong_pairs, delong_test, draw_resamples
from benchmark.stats.bootstrap import resampled_intervals
from benchmark.stats.resample import Clusters

ROOT = Path(__file__).resolve().parent.parent
LABELS = (*FINDINGS, NO_FINDING)


def nih_test_set(data_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(patient id per test image, (n, 15) 0/1 labels) of the official NIH test list."""
    path = find_data_entry(data_root)
    entries = read_data_entry(path)
    test = set(read_list(path.parent / "test_list.txt"))
    entries = entries[entries["image_id"].isin(test)].reset_index(drop=True)
    return entries["patient_id"].to_numpy(), label_matrix(entries, list(LABELS), path).to_numpy()


def synthetic_scores(y: np.ndarray, patient_ids: np.ndarray, skill: float, rng: np.random.Generator) -> np.ndarray:
    """float32 probabilities: label signal + a shared patient effect + noise."""
    _, cluster = np.unique(patient_ids, return_inverse=True)
    patient_effect = rng.normal(scale=0.5, size=(cluster.max() + 1, y.shape[1]))[cluster]
    logits = skill * (2 * y - 1) + patient_effect + rng.normal(size=y.shape)
    return (1 / (1 + np.exp(-logits))).astype(np.float32).astype(np.float64)


def reference_loop(inputs: EvalInputs, resamples, k: int) -> np.ndarray:
    """(k, 16): per-label AUROCs and their mean, one scikit-learn call per label and resample."""
    out = np.empty((k, len(inputs.labels) + 1))
    for b in range(k):
        rows = resamples.image_indices(b)
        y, s = inputs.y_true[rows], inputs.y_score[rows]
        out[b, :-1] = [roc_auc_score(y[:, j], s[:, j]) for j in range(y.shape[1])]
        out[b, -1] = out[b, :-1].mean()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--n-resamples", type=int, default=2000)
    parser.add_argument("--reference-resamples", type=int, default=200, help="time the loop on the first K")
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    patient_ids, y = nih_test_set(args.data_root)
    rng = np.random.default_rng(args.seed)
    inputs = EvalInputs("multilabel", LABELS, y, synthetic_scores(y, patient_ids, 1.0, rng))
    clusters = Clusters.of(patient_ids)
    print(f"NIH test set: {len(y):,} images, {clusters.n_clusters:,} patients, {len(LABELS)} labels")
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    resampled = {}

    def values_of(weights: ClusterWeights) -> dict[str, np.ndarray]:
        """What bootstrap_metrics computes, keeping the resampled values for the comparison."""
        values = compute_metrics(inputs, ("auroc",), weights)
        if weights.n_resamples == args.n_resamples:
            resampled.update(values)
        return values

    started, cpu = time.perf_counter(), time.process_time()
    resamples = draw_resamples(clusters, args.n_resamples, args.seed)
    intervals = resampled_intervals(values_of, resamples)
    candidate_s, candidate_cpu = time.perf_counter() - started, time.process_time() - cpu
    macro = intervals["auroc"]
    candidate = np.stack([resampled[f"auroc/{label}"] for label in LABELS] + [resampled["auroc"]], axis=1)

    k = min(args.reference_resamples, args.n_resamples)
    started, cpu = time.perf_counter(), time.process_time()
    loop = reference_loop(inputs, resamples, k)
    loop_s = time.perf_counter() - started
    reference_s = loop_s * args.n_resamples / k
    reference_cpu = (time.process_time() - cpu) * args.n_resamples / k
    max_diff = float(np.max(np.abs(candidate[:k] - loop)))

    print(f"\nbootstrap: {args.n_resamples:,} patient-cluster resamples, 15 per-label AUROCs + macro AUROC, 95% CIs")
    print(f"  candidate (benchmark.stats: draw resamples + bootstrap_metrics' computation): {candidate_s:.2f} s")
    if k < args.n_resamples:
        print(
            f"  reference (sklearn roc_auc_score loop): {loop_s:.1f} s on the first {k:,} resamples, "
            f"extrapolated to {args.n_resamples:,}: {reference_s:.1f} s"
        )
    else:
        print(f"  reference (sklearn roc_auc_score loop): {reference_s:.1f} s")
        low, high = np.quantile(loop[:, -1], [0.025, 0.975])
        print(f"  macro AUROC CI: candidate [{macro.ci_low:.6f}, {macro.ci_high:.6f}], "
              f"reference [{low:.6f}, {high:.6f}]")  # fmt: skip
    print(f"  ratio (reference / candidate): {reference_s / candidate_s:.0f}")
    print(
        f"  CPU time of all threads (less sensitive to load): candidate {candidate_cpu:.2f} s, "
        f"reference {reference_cpu:.1f} s, ratio {reference_cpu / candidate_cpu:.0f}"
    )
    print(f"  max |candidate - reference| over {k:,} resamples x 16 values: {max_diff:.2e}")
    print(f"  macro AUROC {macro.value:.4f} [{macro.ci_low:.4f}, {macro.ci_high:.4f}]")

    scores = np.stack([synthetic_scores(y, patient_ids, 0.6 + 0.03 * m, rng) for m in range(args.models)])
    started, cpu = time.perf_counter(), time.process_time()
    tests = [delong_pairs(y[:, j], scores[:, :, j]) for j in range(len(LABELS))]
    delong_s, delong_cpu = time.perf_counter() - started, time.process_time() - cpu
    pairs = list(itertools.combinations(range(args.models), 2))
    started = time.perf_counter()
    single = [[delong_test(y[:, j], scores[a, :, j], scores[b, :, j]).p_value for a, b in pairs] for j in range(2)]
    per_pair_s = (time.perf_counter() - started) * len(LABELS) / 2
    diff = max(float(np.max(np.abs(tests[j]["p_value"].to_numpy() - single[j]))) for j in range(2))
    print(
        f"\nDeLong: all {len(pairs)} pairs of {args.models} models x {len(LABELS)} labels = {len(pairs) * 15:,} tests"
    )
    print(
        f"  candidate (one covariance of all models per label, benchmark.stats.delong_pairs): {delong_s:.2f} s "
        f"(CPU {delong_cpu:.2f} s)"
    )
    print(
        f"  reference (one two-model delong_test per pair; timed on 2 labels, extrapolated to 15): {per_pair_s:.1f} s"
    )
    print(f"  ratio: {per_pair_s / delong_s:.1f}; max |p difference| on those 2 labels: {diff:.2e}")


if __name__ == "__main__":
    main()
