"""Statistics for CXR-Bench results: the uncertainty and significance a reviewer asks for.

Inputs are Predictions tables (one row per test image: ``image_id``, ``patient_id``,
``true:<label>``, ``score:<label>``, metadata) or recorded runs (``load_runs``). Metric names are
the values a task reports: ``auroc`` (macro), ``auroc/<label>``, ``auroc[<subset>]``,
``accuracy``, ``balanced_accuracy``, ``f1``, ``sensitivity/<label>``, ... Seeds are passed
explicitly (an int or a numpy Generator); nothing touches global random state.

Confidence intervals
    ``bootstrap_ci(predictions, metric, n_resamples=2000, cluster="patient_id", stratify=False,
    method="percentile", seed=0)`` -> ``Interval(value, ci_low, ci_high, n_degenerate)``.
    Whole patients are resampled when images share a patient (cluster bootstrap; Field & Welsh
    2007), so a patient with many images does not narrow the interval; otherwise images. Draws
    follow scipy.stats.bootstrap (``rng.integers(0, k, (B, k))``), so on independent images the
    resamples, percentile and BCa intervals equal scipy's for the same seed (Efron & Tibshirani
    1993). Resamples where a metric is undefined (a label with one class) are counted in
    ``n_degenerate`` and left out. ``draw_resamples`` / ``Resamples.image_indices`` expose the
    exact resamples; ``bootstrap_metrics`` computes all of a task's values at once (Task.evaluate).
    Cost: AUROC over all resamples is one float64 matrix product on a patient-pair matrix (exact).

DeLong
    ``delong_test(y_true, score_a, score_b)`` -> ``DeLongTest(auc_a, auc_b, diff, ci_low, ci_high, z,
    p_value)``; ``delong_ci(y_true, score)``; ``delong_covariance(y_true, scores)`` for M models at
    once and ``delong_pairs`` for every pair. DeLong et al. 1988, fast algorithm of Sun & Xu 2014
    (as pROC). Images are treated as independent; the cluster bootstrap is the clustered alternative.

Paired tests and proportions
    ``paired_bootstrap_test(pred_a, pred_b, metric, ...)``: both models on the same patient-cluster
    resamples; difference, percentile CI, p-value from z = diff / bootstrap SD (pROC's bootstrap
    test, Robin et al. 2011). Tables must cover the same image ids (the error lists the difference).
    ``mcnemar_test(y_true, pred_a, pred_b)`` (exact binomial by default) and ``wilson_interval``
    (statsmodels). ``adjust_pvalues(p, "holm" | "bh")`` (statsmodels ``multipletests``).

Calibration and subgroups
    ``expected_calibration_error``, ``brier_score``, ``reliability_curve`` (scikit-learn's binning),
    ``calibration_summary(predictions)`` per label; ``subgroup_metrics(predictions, metric)``: the
    metric with its CI per sex, age band and view position where the table carries them.

ROC curves
    ``roc_curve_band(predictions, label, n_resamples=2000, cluster="patient_id", seed=0)`` -> the ROC
    curve on a fixed FPR grid (scikit-learn's curve read at each grid point, the top of a vertical
    step) with a pointwise percentile band over the same patient-cluster resamples; ``roc_band`` on
    arrays.

Comparing models
    ``compare(runs, metric=None, test="bootstrap", correction="holm", ...)`` -> ``Comparison`` with
    ``entries`` (ENTRY_COLUMNS) and ``pairs`` (PAIR_COLUMNS) DataFrames, ``settings``,
    ``methods_text()``; refuses runs of different task hashes (TaskMismatchError). ``render(comparison,
    "table" | "csv" | "markdown" | "latex")``; ``benchmark compare RUN_A RUN_B ...`` on the command line.
"""

from benchmark.stats.bootstrap import bootstrap_ci, bootstrap_metrics, metric_values, prediction_inputs
from benchmark.stats.calibration import brier_score, calibration_summary, expected_calibration_error, reliability_curve
from benchmark.stats.compare import ENTRY_COLUMNS, PAIR_COLUMNS, Comparison, compare
from benchmark.stats.correction import adjust_pvalues
from benchmark.stats.delong import (
    DeLongCI,
    DeLongCovariance,
    DeLongTest,
    delong_ci,
    delong_covariance,
    delong_pairs,
    delong_test,
)
from benchmark.stats.intervals import Interval, bootstrap_interval
from benchmark.stats.paired import PairedTest, align_predictions, paired_bootstrap_test
from benchmark.stats.proportions import McNemarTest, ProportionCI, mcnemar_test, wilson_interval
from benchmark.stats.render import render
from benchmark.stats.resample import Clusters, Resamples, draw_resamples
from benchmark.stats.roc import ROC_COLUMNS, roc_band, roc_curve_band
from benchmark.stats.runs import Run, load_runs
from benchmark.stats.subgroups import subgroup_metrics

__all__ = [
    "ENTRY_COLUMNS",
    "PAIR_COLUMNS",
    "ROC_COLUMNS",
    "Clusters",
    "Comparison",
    "DeLongCI",
    "DeLongCovariance",
    "DeLongTest",
    "Interval",
    "McNemarTest",
    "PairedTest",
    "ProportionCI",
    "Resamples",
    "Run",
    "adjust_pvalues",
    "align_predictions",
    "bootstrap_ci",
    "bootstrap_interval",
    "bootstrap_metrics",
    "brier_score",
    "calibration_summary",
    "compare",
    "delong_ci",
    "delong_covariance",
    "delong_pairs",
    "delong_test",
    "draw_resamples",
    "expected_calibration_error",
    "load_runs",
    "mcnemar_test",
    "metric_values",
    "paired_bootstrap_test",
    "prediction_inputs",
    "reliability_curve",
    "render",
    "roc_band",
    "roc_curve_band",
    "subgroup_metrics",
    "wilson_interval",
]
