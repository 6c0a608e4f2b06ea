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

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.data.download import file_digest
from benchmark.errors import BenchmarkError, DataFormatError, DatasetNotFoundError, StatisticsError
from benchmark.metrics.predictions import SCORE_PREFIX, TRUE_PREFIX
from benchmark.stats.bootstrap import bootstrap_metrics, prediction_inputs
from benchmark.stats.resample import Clusters, draw_resamples

log = logging.getLogger(__name__)

EXPERT_TASK = "nih14"  # the task whose test images Google relabelled
DERIVED_KIND, DERIVED_NAME = "expert", "google2019"  # benchmark.results.derived: derived/expert/google2019.json
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
    """AUROC against the expert labels, per Google finding, on the test images the predictions cover,
    beside the AUROC of the same scores against NIH's text-mined labels mapped the same way."""

    # finding, nih14_scores, n_positive, n_negative, auroc, ci_low, ci_high, n_degenerate, and the text-mined
    # text_n_positive, text_auroc, text_ci_low, text_ci_high (NaN where the predictions hold no NIH truth)
    table: pd.DataFrame
    n_images: int  # images both in the predictions and in Google's test set
    n_patients: int
    n_ignored: int  # prediction rows not in Google's test set
    bootstrap: dict[str, Any]

    def payload(self, labels_file: Path, labels_sha256: str | None = None) -> dict[str, Any]:
        """The result as a record section / derived result (CONTRACTS.md payload convention)."""
        return {
            "rows": [_plain(row) for row in self.table.to_dict("records")],
            "settings": {
                "reference": "Google 2019 expert labels (Majkowska et al., Radiology 2020)",
                "labels_file": Path(labels_file).name,
                "labels_sha256": labels_sha256 or file_digest(Path(labels_file), "sha256"),
                "set_id": GOOGLE_TEST_SET,
                "mapping": {finding: list(labels) for finding, labels in EXPERT_MAPPING.items()},
                "score_rule": "max of the mapped nih14 scores",
                "text_mined_rule": "positive when any mapped NIH text-mined label is",
                "unmapped": list(UNMAPPED),
                "metric": "auroc",
                "n_images": self.n_images,
                "n_patients": self.n_patients,
                "n_ignored": self.n_ignored,
                **self.bootstrap,
            },
        }


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A table row with numpy scalars as Python numbers (JSON), NaN kept as None."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, (np.integer,)):
            value = int(value)
        elif isinstance(value, (float, np.floating)):
            value = None if np.isnan(value) else float(value)
        out[key] = value
    return out


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


def text_mined_labels(predictions: pd.DataFrame, image_ids: pd.Series) -> pd.DataFrame | None:
    """NIH's text-mined truth of ``image_ids`` mapped like the scores: ``true:<finding>`` is 1 when any of
    the finding's nih14 labels is (None when the predictions lack one of those ``true:`` columns)."""
    needed = [TRUE_PREFIX + label for labels in EXPERT_MAPPING.values() for label in labels]
    if any(c not in predictions.columns for c in needed):
        return None
    truth = predictions.assign(image_id=predictions["image_id"].astype(str)).set_index("image_id").loc[image_ids]
    return pd.DataFrame(
        {
            TRUE_PREFIX + finding: truth[[TRUE_PREFIX + label for label in labels]].max(axis=1).to_numpy(np.float64)
            for finding, labels in EXPERT_MAPPING.items()
        }
    )


def score_expert(
    predictions: pd.DataFrame,
    labels_file: Path,
    n_resamples: int = 2000,
    seed: int = 0,
    method: str = "percentile",
) -> ExpertEvaluation:
    """Per-finding AUROC against Google's expert labels with patient-cluster bootstrap 95% CIs, and of the
    same scores against NIH's text-mined labels on the same images (the same resamples: paired)."""
    table = expert_scores(predictions, labels_file)
    text = text_mined_labels(predictions, table["image_id"])
    scored = table
    if text is not None:  # the text-mined truth as extra labels of one table, so both share the resamples
        extra = {TRUE_PREFIX + _text(f): text[TRUE_PREFIX + f].to_numpy() for f in EXPERT_MAPPING}
        extra |= {SCORE_PREFIX + _text(f): table[SCORE_PREFIX + f].to_numpy() for f in EXPERT_MAPPING}
        scored = table.assign(**extra)
    inputs = prediction_inputs(scored, "multilabel")
    clusters = Clusters.of(table["patient_id"].to_numpy())
    resamples = draw_resamples(clusters, n_resamples, seed)
    intervals = bootstrap_metrics(inputs, ("auroc",), resamples, method)
    rows = []
    for finding, labels in EXPERT_MAPPING.items():
        interval = intervals[f"auroc/{finding}"]
        positive = int((table[TRUE_PREFIX + finding] == 1).sum())
        row = {
            "finding": finding,
            "nih14_scores": "max(" + ", ".join(labels) + ")" if len(labels) > 1 else labels[0],
            "n_positive": positive,
            "n_negative": len(table) - positive,
            **interval.to_dict(),
            "text_n_positive": np.nan,
            "text_auroc": np.nan,
            "text_ci_low": np.nan,
            "text_ci_high": np.nan,
        }
        if text is not None:
            mined = intervals[f"auroc/{_text(finding)}"]
            row |= {
                "text_n_positive": int((text[TRUE_PREFIX + finding] == 1).sum()),
                "text_auroc": mined.value,
                "text_ci_low": mined.ci_low,
                "text_ci_high": mined.ci_high,
            }
        rows.append(row)
    settings = {"n_resamples": n_resamples, "seed": seed, "method": method, "unit": clusters.unit, "level": 0.95}
    return ExpertEvaluation(
        table=pd.DataFrame(rows).rename(columns={"value": "auroc"}),
        n_images=len(table),
        n_patients=int(table["patient_id"].astype(str).nunique()),
        n_ignored=len(predictions) - len(table),
        bootstrap=settings,
    )


def _text(finding: str) -> str:
    return f"{finding} (text-mined)"


def expert_section(context: Any) -> dict[str, Any] | None:
    """The ``expert`` record section of a trained nih14 run whose data root holds Google's file (else None).

    Scored with the task's own bootstrap settings. A file that cannot be scored (not Google's, or none of
    its images among the run's) is logged and left out rather than failing a trained run:
    ``benchmark evaluate-expert RUN_ID`` scores the run later and says why.
    """
    if context.task.name != EXPERT_TASK:
        return None
    labels_file = google_labels_file(Path(context.data.root), context.task.source.get("folder", EXPERT_TASK))
    if labels_file is None:
        return None
    task = context.task
    try:
        result = score_expert(
            context.predictions, labels_file, task.n_bootstrap, task.bootstrap_seed, task.bootstrap_method
        )
    except BenchmarkError as exc:
        log.warning("expert labels left out of the record (%s); `benchmark evaluate-expert RUN_ID` retries", exc)
        return None
    return result.payload(labels_file)


def google_labels_file(root: Path, folder: str = EXPERT_TASK) -> Path | None:
    """Google's file under data root ``root`` (or in the nih14 folder ``root`` itself), None when absent."""
    for candidate in (root, root / folder):
        if (candidate / GOOGLE_LABELS_FILE).is_file():
            return candidate / GOOGLE_LABELS_FILE
    return None


def write_expert(run_dir: Path, result: dict[str, Any], predictions_sha256: str, labels_sha256: str) -> Path:
    """Write an expert payload beside a published run (``derived/expert/google2019.json``)."""
    from benchmark.results.derived import write_derived

    inputs = {"predictions_sha256": predictions_sha256, "labels_sha256": labels_sha256}
    return write_derived(run_dir, DERIVED_KIND, DERIVED_NAME, result, inputs)


def run_expert(run_dir: Path, record: Any) -> dict[str, Any] | None:
    """A run's expert-label payload, or None: the derived file when it was computed from the run's current
    predictions file (the newest request), else the record's ``expert`` section. The payload gets
    ``source`` ("derived" or "record"); a derived file of other predictions is stale: skipped, logged."""
    from benchmark.results.derived import read_derived
    from benchmark.results.store import PREDICTIONS_FILE

    derived = read_derived(run_dir, DERIVED_KIND).get(DERIVED_NAME)
    if derived is not None:
        recorded = (record.files or {}).get(PREDICTIONS_FILE) or _digest(run_dir / PREDICTIONS_FILE)
        if derived.get("inputs", {}).get("predictions_sha256") == recorded:
            return {**derived["result"], "source": "derived", "created_at": derived.get("created_at")}
        log.warning("%s: derived expert labels of other predictions (stale) ignored", run_dir.name)
    if record.expert is not None:
        return {**record.expert, "source": "record"}
    return None


def expert_display(payload: dict[str, Any]) -> pd.DataFrame:
    """An expert payload as the leaderboard shows it: per finding, expert and text-mined AUROC with CIs."""
    rows = payload["rows"]
    return pd.DataFrame(
        {
            "finding": [r["finding"] for r in rows],
            "scored with": [r["nih14_scores"] for r in rows],
            "expert positives": [r["n_positive"] for r in rows],
            "expert negatives": [r["n_negative"] for r in rows],
            "AUROC expert": [r["auroc"] for r in rows],
            "expert 95% CI": [_bounds(r.get("ci_low"), r.get("ci_high")) for r in rows],
            "text-mined positives": [r.get("text_n_positive") for r in rows],
            "AUROC text-mined": [r.get("text_auroc") for r in rows],
            "text-mined 95% CI": [_bounds(r.get("text_ci_low"), r.get("text_ci_high")) for r in rows],
        }
    )


def _bounds(low: Any, high: Any) -> str:
    return "n/a" if low is None or high is None or pd.isna(low) else f"[{low:.3f}, {high:.3f}]"


def expert_caption(payload: dict[str, Any]) -> str:
    """One paragraph saying on what and how the payload was computed, and where it is stored."""
    settings = payload.get("settings", {})
    where = {
        "derived": "computed after the run by `benchmark evaluate-expert` (derived/expert/google2019.json)",
        "record": "recorded when the run was trained",
    }.get(payload.get("source", ""), "")
    unmapped = ", ".join(settings.get("unmapped", UNMAPPED))
    return (
        f"{settings.get('n_images', '?')} test images of {settings.get('n_patients', '?')} patients that Google's "
        f"radiologists labelled (Majkowska et al., Radiology 2020); each finding scored with the largest of the "
        f"nih14 scores named, text-mined positive when any of those NIH labels is; {unmapped}: no nih14 label. "
        f"AUROC with a 95% {settings.get('unit', 'patient')}-cluster bootstrap CI "
        f"({settings.get('n_resamples', '?')} resamples, seed {settings.get('seed', '?')}); {where}."
    )


def _digest(path: Path) -> str | None:
    return file_digest(path, "sha256") if path.is_file() else None


EXPORT_COLUMNS = ["entry", "model", "run_id", "seed", "source", "finding", "nih14_scores", "n_positive"]
EXPORT_COLUMNS += ["n_negative", "auroc", "ci_low", "ci_high", "text_n_positive", "text_auroc", "text_ci_low"]
EXPORT_COLUMNS += ["text_ci_high", "n_images", "n_patients"]


def export_rows(results: Any, standings: Any) -> list[dict[str, Any]]:
    """One row per (run of the standings, Google finding) of the runs that have expert-label scores."""
    rows = []
    for entry in standings.entries.to_dict("records"):
        for run_id in entry["run_ids"]:
            record = results.load_record(run_id)
            payload = run_expert(results.find(run_id), record)
            if payload is None:
                continue
            settings = payload.get("settings", {})
            for row in payload["rows"]:
                values = {
                    "entry": entry["entry"],
                    "model": entry["model"],
                    "run_id": run_id,
                    "seed": record.seed,
                    "source": payload["source"],
                    "n_images": settings.get("n_images"),
                    "n_patients": settings.get("n_patients"),
                    **row,
                }
                rows.append({column: values.get(column) for column in EXPORT_COLUMNS})
    return rows


def _interval(value: Any, low: Any, high: Any) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def export_markdown(rows: list[dict[str, Any]]) -> str:
    """The export's Markdown section: expert beside text-mined AUROC per run and finding."""
    from benchmark.results.export import markdown_table

    lines = [
        "### Expert labels (Google 2019)",
        "",
        "AUROC against Google's 2019 expert labels (Majkowska et al., Radiology 2020) on the NIH test images they "
        "cover, beside the AUROC of the same scores against NIH's text-mined labels on the same images. Each "
        "finding is scored with the largest of the nih14 scores named; text-mined positive: any of those labels. "
        f"{', '.join(UNMAPPED)}: no nih14 label, not scored. 95% patient-cluster bootstrap CIs.",
        "",
    ]
    if not rows:
        lines.append(
            "No run of this task has expert-label scores: `benchmark evaluate-expert RUN_ID` computes them "
            f"(runs trained with {GOOGLE_LABELS_FILE} in the data root have them in their record)."
        )
        return "\n".join(lines) + "\n"
    table = pd.DataFrame(
        {
            "entry": [r["entry"] for r in rows],
            "seed": [r["seed"] for r in rows],
            "finding": [r["finding"] for r in rows],
            "scored with": [r["nih14_scores"] for r in rows],
            "expert pos / images": [f"{r['n_positive']} / {r['n_positive'] + r['n_negative']}" for r in rows],
            "AUROC expert [95% CI]": [_interval(r["auroc"], r["ci_low"], r["ci_high"]) for r in rows],
            "text-mined pos": ["n/a" if r["text_n_positive"] is None else int(r["text_n_positive"]) for r in rows],
            "AUROC text-mined [95% CI]": [
                _interval(r["text_auroc"], r["text_ci_low"], r["text_ci_high"]) for r in rows
            ],
        }
    )
    lines.append(markdown_table(table))
    return "\n".join(lines) + "\n"


def export_section(results: Any, standings: Any, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """``benchmark export``'s expert section for nih14 (None for other tasks): per run and Google finding,
    the recorded (or derived) expert AUROC beside the text-mined one, with CIs."""
    if standings.task_name != EXPERT_TASK:
        return None
    rows = export_rows(results, standings)
    return export_markdown(rows), rows
