"""Data of the leaderboard's curve plots, from each entry's seed-averaged predictions (the predictions
its ranked estimate is computed on): ROC curves with bootstrap bands and reliability curves.
Pure functions (no Streamlit); the figures come from ``leaderboard.figures``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from benchmark.metrics.auroc import weighted_auroc
from benchmark.metrics.cluster_weights import ClusterWeights
from benchmark.metrics.predictions import SCORE_PREFIX, TRUE_PREFIX
from benchmark.stats import align_predictions, reliability_curve, roc_curve_band
from benchmark.stats.compare import seed_averaged


def entry_predictions(frames: Mapping[str, Sequence[pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Entry name -> its runs' Predictions tables averaged over seeds, every entry in the row order of
    the first table (PredictionsMismatchError when they do not score the same images)."""
    names = [name for name, tables in frames.items() for _ in tables]
    aligned = iter(align_predictions([t for tables in frames.values() for t in tables], names))
    return {name: seed_averaged([next(aligned) for _ in tables]) for name, tables in frames.items()}


def _columns(frame: pd.DataFrame, label: str) -> tuple[np.ndarray, np.ndarray]:
    return frame[TRUE_PREFIX + label].to_numpy(float), frame[SCORE_PREFIX + label].to_numpy(float)


def roc_table(
    predictions: Mapping[str, pd.DataFrame], label: str, n_resamples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """One ROC curve per entry for ``label`` (one-vs-rest): model, fpr, tpr, tpr_low, tpr_high (95%
    patient-cluster bootstrap band on a 101-point FPR grid) and auc (the exact AUROC of the entry)."""
    parts = []
    for name, frame in predictions.items():
        curve = roc_curve_band(frame, label, n_resamples=n_resamples, seed=seed)
        y, score = _columns(frame, label)
        curve.insert(0, "model", name)
        curve["auc"] = float(weighted_auroc(y, score, ClusterWeights.plain(len(y)))[0])
        parts.append(curve)
    return pd.concat(parts, ignore_index=True)


def calibration_table(predictions: Mapping[str, pd.DataFrame], label: str, n_bins: int = 10) -> pd.DataFrame:
    """One reliability curve per entry for ``label`` (the label's probability, one-vs-rest): model,
    mean_predicted, fraction_positive, count; empty bins left out."""
    parts = []
    for name, frame in predictions.items():
        bins = reliability_curve(*_columns(frame, label), n_bins=n_bins)
        bins = bins[bins["count"] > 0]
        parts.append(bins.assign(model=name)[["model", "mean_predicted", "fraction_positive", "count"]])
    return pd.concat(parts, ignore_index=True)
