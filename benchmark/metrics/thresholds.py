"""Operating thresholds, chosen on validation predictions only (never on the test set)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import precision_recall_curve

from benchmark.errors import ConfigError

RULES = ("target_sensitivity", "max_f1")


def choose_thresholds(
    rule: str, y_true: np.ndarray, y_score: np.ndarray, target_sensitivity: float = 0.95
) -> list[float]:
    """One threshold per label column of validation labels ``y_true`` (NaN = unknown) and scores."""
    if rule not in RULES:
        raise ConfigError(f"unknown threshold rule {rule!r}; known: {', '.join(RULES)}")
    thresholds = []
    for k in range(y_true.shape[1]):
        known = ~np.isnan(y_true[:, k])
        y, score = y_true[known, k] == 1, y_score[known, k]
        if y.sum() == 0 or y.all():
            thresholds.append(0.5)  # no positives (or negatives) in validation: nothing to tune on
        elif rule == "target_sensitivity":
            thresholds.append(sensitivity_threshold(score[y], target_sensitivity))
        else:
            thresholds.append(max_f1_threshold(y, score))
    return thresholds


def sensitivity_threshold(positive_scores: np.ndarray, target: float) -> float:
    """The highest threshold at which at least ``target`` of the positives score at or above it."""
    ranked = np.sort(positive_scores)[::-1]
    needed = max(1, math.ceil(target * len(ranked) - 1e-9))
    return float(ranked[needed - 1])


def max_f1_threshold(y: np.ndarray, score: np.ndarray) -> float:
    precision, recall, thresholds = precision_recall_curve(y, score)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
    return float(thresholds[int(np.argmax(f1[:-1]))])
