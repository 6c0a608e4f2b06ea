"""nih14 predictions scored against Google's 2019 expert labels (Majkowska et al., Radiology 2020).

NIH's labels are text-mined from reports. Google's panels of radiologists adjudicated four findings on
1,962 images of NIH's official test list (860 patients; ``Set Id == "test"``) and on 2,414 images of
its train_val list (``Set Id == "val"``, left out here: they are not test images). The file is
``google2019_nih-chest-xray-labels.csv.gz`` (columns ``Image Index``, ``Patient ID``, ``Set Id`` and
one YES/NO column per finding).

nih14 has no model output for Google's findings, so each one is scored with the largest of the nih14
scores it covers (EXPERT_MAPPING):

- ``Pneumothorax``     <- score:Pneumothorax
- ``Nodule or mass``   <- max(score:Nodule, score:Mass): Google merged NIH's two size classes.
- ``Airspace opacity`` <- max(score:Consolidation, score:Infiltration, score:Pneumonia): the NIH
  findings that name airspace filling. Atelectasis (volume loss) and Edema (mostly interstitial) are
  left out; on the 1,962 test images, any of the three text-mined labels finds 43% of Google's
  positives with 81% precision, and adding Atelectasis and Edema raises that to 51% but lowers
  precision to 77%.
- ``Fracture``: unmapped (nih14 has no fracture label), so not scored (UNMAPPED).

The maximum of calibrated per-finding probabilities is a lower bound of the probability of either,
and AUROC depends only on the ranking, so the maximum is a stated, model-free choice rather than a
fitted one. The CIs resample whole patients, as the task's own evaluation does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import DataFormatError, DatasetNotFoundError, StatisticsError
from benchmark.metrics.predictions import SCORE_PREFIX, TRUE_PREFIX
from benchmark.stats.bootstrap import bootstrap_metrics, prediction_inputs
from benchmark.stats.resample import Clusters, draw_resamples

GOOGLE_LABELS_FILE = "google2019_nih-chest-xray-labels.csv.gz"
GOOGLE_TEST_SET = "test"  # the ``Set Id`` of the images on NIH's official test list
# Google's finding -> the nih14 labels whose largest score stands for it.
EXPERT_MAPPING: dict[str, tuple[str, ...]] = {
    "Pneumothorax": ("Pneumothorax",),
    "Nodule or mass": ("Nodule", "Mass"),
    "Airspace opacity": ("Consolidation", "Infiltration", "Pneumonia"),
}
UNMAPPED = ("Fracture",)  # Google's findings nih14 has no label for: not scored
_ID_COLUMNS = ("Image Index", "Patient ID", "Set Id")
_VALUES = {"YES": 1.0, "NO": 0.0}


@dataclass(frozen=True)
class ExpertEvaluation:
    """AUROC against the expert labels, per Google finding, on the test images the predictions cover."""

    table: pd.DataFrame  # finding, nih14_scores, n_positive, n_negative, auroc, ci_low, ci_high, n_degenerate
    n_images: int  # images both in the predictions and in Google's test set
    n_patients: int
    n_ignored: int  # prediction rows not in Google's test set
    bootstrap: dict[str, Any]


def read_expert_labels(path: Path) -> pd.DataFrame:
    """Google's test-set rows as ``image_id``, ``patient_id`` and ``true:<finding>`` (1.0 = YES) per mapped finding."""
    if not Path(path).is_file():
        raise DatasetNotFoundError(
            f"no Google expert label file at {path}; put {GOOGLE_LABELS_FILE} (from Google's NIH chest X-ray "
            "labels release, or torchxrayvision's data folder) in the nih14 folder of the data root"
        )
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in (*_ID_COLUMNS, *EXPERT_MAPPING, *UNMAPPED) if c not in raw.columns]
    if missing:
        raise DataFormatError(
            f"{path} lacks the column(s) {missing}; it has {list(raw.columns)}. "
            f"It is not Google's 2019 expert label file ({GOOGLE_LABELS_FILE})"
        )
    test = raw[raw["Set Id"].str.strip() == GOOGLE_TEST_SET]
    if test.empty:
        raise DataFormatError(f"{path} has no rows with Set Id {GOOGLE_TEST_SET!r}; it is not Google's file")
    duplicated = test["Image Index"][test["Image Index"].duplicated()]
    if len(duplicated):
        raise DataFormatError(f"{path} labels image {duplicated.iloc[0]!r} twice; restore the file as released")
    frame = pd.DataFrame({"image_id": test["Image Index"].str.strip(), "patient_id": test["Patient ID"].str.strip()})
    for finding in EXPERT_MAPPING:
        values = test[finding].str.strip().str.upper()
        bad = values[~values.isin(list(_VALUES))]
        if len(bad):
            raise DataFormatError(
                f"{path}: column {finding!r} holds {bad.iloc[0]!r} (image {test['Image Index'].loc[bad.index[0]]}); "
                "expected YES or NO"
            )
        frame[TRUE_PREFIX + finding] = values.map(_VALUES).astype(np.float64)
    return frame.reset_index(drop=True)


def expert_scores(predictions: pd.DataFrame, labels_file: Path) -> pd.DataFrame:
    """A Predictions table over the test images Google labelled: the expert truth and the mapped scores.

    Columns ``image_id``, ``patient_id`` (the run's), ``true:<finding>`` and ``score:<finding>`` for each
    finding of EXPERT_MAPPING, in Google's row order; prediction rows Google did not label are dropped.
    """
    needed = [SCORE_PREFIX + label for labels in EXPERT_MAPPING.values() for label in labels]
    missing = [c for c in ("image_id", "patient_id", *needed) if c not in predictions.columns]
    if missing:
        raise StatisticsError(
            f"the predictions lack the column(s) {missing} that the expert labels need; "
            "score the test predictions of an nih14 run (benchmark run writes them)"
        )
    expert = read_expert_labels(labels_file)
    ours = predictions.assign(image_id=predictions["image_id"].astype(str))
    if ours["image_id"].duplicated().any():
        raise StatisticsError(
            f"the predictions list image {ours['image_id'][ours['image_id'].duplicated()].iloc[0]!r} twice; "
            "pass one row per test image"
        )
    joined = expert.drop(columns="patient_id").merge(ours[["image_id", "patient_id", *needed]], on="image_id")
    if joined.empty:
        raise StatisticsError(
            f"the predictions cover none of the {len(expert)} test images of {labels_file}; "
            "score the test predictions of an nih14 run"
        )
    table = joined[["image_id", "patient_id", *(TRUE_PREFIX + f for f in EXPERT_MAPPING)]].copy()
    for finding, labels in EXPERT_MAPPING.items():
        table[SCORE_PREFIX + finding] = joined[[SCORE_PREFIX + label for label in labels]].max(axis=1)
    return table


def score_expert(
    predictions: pd.DataFrame,
    labels_file: Path,
    n_resamples: int = 2000,
    seed: int = 0,
    method: str = "percentile",
) -> ExpertEvaluation:
    """Per-finding AUROC against Google's expert labels with patient-cluster bootstrap 95% CIs."""
    table = expert_scores(predictions, labels_file)
    inputs = prediction_inputs(table, "multilabel")
    clusters = Clusters.of(table["patient_id"].to_numpy())
    resamples = draw_resamples(clusters, n_resamples, seed)
    intervals = bootstrap_metrics(inputs, ("auroc",), resamples, method)
    rows = []
    for k, (finding, labels) in enumerate(EXPERT_MAPPING.items()):
        interval = intervals[f"auroc/{finding}"]
        positive = int((inputs.y_true[:, k] == 1).sum())
        rows.append(
            {
                "finding": finding,
                "nih14_scores": "max(" + ", ".join(labels) + ")" if len(labels) > 1 else labels[0],
                "n_positive": positive,
                "n_negative": len(table) - positive,
                **interval.to_dict(),
            }
        )
    settings = {"n_resamples": n_resamples, "seed": seed, "method": method, "unit": clusters.unit, "level": 0.95}
    return ExpertEvaluation(
        table=pd.DataFrame(rows).rename(columns={"value": "auroc"}),
        n_images=len(table),
        n_patients=int(table["patient_id"].astype(str).nunique()),
        n_ignored=len(predictions) - len(table),
        bootstrap=settings,
    )


def expert_section(context: Any) -> dict[str, Any] | None:
    """The ``expert`` record section of a trained run (stub)."""
    return None


def export_section(results: Any, standings: Any, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """(stub) ``benchmark export``'s section of this kind."""
    return None
