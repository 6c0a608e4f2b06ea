"""A run's or an entry's report as data: what `benchmark report` and the static site show.

Recorded numbers are shown as recorded (the record's metrics with their CIs, the task's hashes); what
a record does not hold is computed here from the run's checked predictions with the library's own
functions: trivial baselines (``benchmark.metrics.trivial``), calibration (``benchmark.stats.calibration``,
15 uniform bins as Guo et al. 2017; multiclass on the top label), risk-coverage and AURC with its
patient-cluster CI (``benchmark.stats.selective``), ROC curves with a bootstrap band
(``benchmark.stats.roc`` through ``leaderboard.curves.roc_table``). An entry's report scores its
seed-averaged predictions at its mean thresholds, as the standings do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from benchmark.metrics.predictions import prediction_arrays, prediction_labels
from benchmark.metrics.trivial import trivial_table
from benchmark.report.payloads import Payload, run_payloads
from benchmark.results.citation import Citation, cite_run
from benchmark.results.combined import ResultsReader
from benchmark.results.entries import Entry, entry_key
from benchmark.results.record import RunRecord
from benchmark.saliency.cache import read_index
from benchmark.stats.bootstrap import prediction_inputs
from benchmark.stats.calibration import calibration_summary, reliability_curve
from benchmark.stats.compare import seed_averaged
from benchmark.stats.intervals import Interval
from benchmark.stats.paired import align_predictions
from benchmark.stats.selective import aurc_ci, e_aurc, risk_coverage
from benchmark.tasks.registry import registered_subsets
from leaderboard.curves import roc_table

METRIC_COLUMNS = ["metric", "value", "ci_low", "ci_high", "n_degenerate"]
CURVE_COLUMNS = ["label", "mean_predicted", "fraction_positive", "count"]
RISK_COLUMNS = ["label", "coverage", "risk"]
# benchmark.saliency.scoring.summarise's columns, in its order (the cache's index stores them sorted by name)
SALIENCY_COLUMNS = ["method", "finding", "n", "hits", "hit_rate", "ci_low", "ci_high", "mean_iou", "chance"]


@dataclass(frozen=True)
class ReportSettings:
    """How the computed parts are drawn: calibration bins, bootstrap resamples of the AURC CI and ROC
    band (the record's own CIs keep their recorded settings), their seed, points kept per curve."""

    n_bins: int = 15
    n_resamples: int = 1000
    seed: int = 0
    curve_points: int = 200


@dataclass(frozen=True)
class Calibration:
    """``table``: label, n, ece, brier (calibration_summary); ``curves``: CURVE_COLUMNS, filled bins only."""

    table: pd.DataFrame
    curves: pd.DataFrame
    n_bins: int


@dataclass(frozen=True)
class Selective:
    """AURC with its CI, E-AURC, and the risk-coverage curve (RISK_COLUMNS; per label for multilabel tasks)."""

    aurc: Interval
    e_aurc: float
    curves: pd.DataFrame
    level: float


@dataclass(frozen=True)
class RunReport:
    """Everything a run's report shows. ``reference`` is True for a run of the shipped board."""

    record: RunRecord
    reference: bool
    entry_key: str
    metrics: pd.DataFrame
    trivial: pd.DataFrame
    calibration: Calibration
    selective: Selective
    roc: pd.DataFrame  # label (as "model"), fpr, tpr, tpr_low, tpr_high, auc
    payloads: tuple[Payload, ...]
    saliency: pd.DataFrame | None  # box scores (benchmark.saliency.scoring.summarise); None: no cache
    saliency_info: dict[str, Any] | None
    citation: Citation
    settings: ReportSettings


@dataclass(frozen=True)
class EntryReport:
    """An entry (the seeds of one model, code and recipe): its standings row when it is on the board,
    each seed's recorded metrics, the seed-averaged calibration and risk-coverage, and each run's report."""

    entry: Entry
    name: str
    task: Any  # the first run's TaskSection
    standing: dict[str, Any] | None
    seeds: pd.DataFrame  # run_id, seed, created_at, then value/ci_low/ci_high of the primary metric
    metrics: pd.DataFrame  # metric, mean, sd, min, max over the seeds' recorded values
    calibration: Calibration
    selective: Selective
    runs: tuple[RunReport, ...] = field(default=())


def metrics_table(record: RunRecord) -> pd.DataFrame:
    """The record's metrics with their CIs, the primary metric first, then by name."""
    primary = record.task.primary_metric
    names = sorted(record.metrics, key=lambda name: (name != primary, name))
    rows = [{"metric": name, **record.metrics[name].to_dict()} for name in names]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def _thin(frame: pd.DataFrame, points: int) -> pd.DataFrame:
    """At most ``points`` rows, evenly spaced, the first and last kept (a curve for a plot)."""
    if len(frame) <= points:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, points).round().astype(int))
    return frame.iloc[keep]


def calibration(predictions: pd.DataFrame, problem: str, n_bins: int = 15) -> Calibration:
    """ECE and Brier per label (multiclass: top label) with the reliability bins behind each ECE."""
    table = calibration_summary(predictions, problem, n_bins)
    inputs = prediction_inputs(predictions, problem)
    if inputs.problem == "multiclass":
        known = ~np.isnan(inputs.y_true).any(axis=1)
        pairs = [("top-label", (inputs.predicted_class == inputs.true_class)[known], inputs.y_score[known].max(1))]
    else:
        pairs = [(label, inputs.y_true[:, k], inputs.y_score[:, k]) for k, label in enumerate(inputs.labels)]
    parts = []
    for label, outcome, prob in pairs:
        bins = reliability_curve(np.asarray(outcome, dtype=float), prob, n_bins)
        parts.append(bins[bins["count"] > 0].assign(label=label)[CURVE_COLUMNS])
    return Calibration(table, pd.concat(parts, ignore_index=True), n_bins)


def selective(
    predictions: pd.DataFrame,
    problem: str,
    thresholds: Sequence[float] | None,
    settings: ReportSettings,
    cluster: str | None = "patient_id",
    level: float = 0.95,
) -> Selective:
    """AURC (patient-cluster CI), E-AURC and the risk-coverage curve of a Predictions table."""
    labels = prediction_labels(predictions)
    y_true, y_score = prediction_arrays(predictions, labels)
    interval = aurc_ci(predictions, problem, thresholds, settings.n_resamples, cluster, seed=settings.seed, level=level)
    columns = list(range(len(labels))) if problem == "multilabel" else [None]
    parts = []
    for k in columns:
        coverage, risk = risk_coverage(y_true, y_score, problem, thresholds, label=k)
        name = "all" if k is None else labels[k]
        curve = pd.DataFrame({"label": name, "coverage": coverage, "risk": risk})
        parts.append(_thin(curve, settings.curve_points))
    curves = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=RISK_COLUMNS)
    return Selective(interval, e_aurc(y_true, y_score, problem, thresholds), curves, level)


def _cluster(record: RunRecord, predictions: pd.DataFrame) -> str | None:
    return "patient_id" if record.bootstrap.unit == "patient" and "patient_id" in predictions else None


def roc(predictions: pd.DataFrame, settings: ReportSettings) -> pd.DataFrame:
    """One ROC curve with its band per label (one-vs-rest), the label in the ``model`` column."""
    labels = prediction_labels(predictions)
    parts = [roc_table({label: predictions}, label, settings.n_resamples, settings.seed) for label in labels]
    return pd.concat(parts, ignore_index=True)


def saliency_summary(run_dir: Any) -> tuple[pd.DataFrame | None, dict[str, Any] | None]:
    """The saliency cache's box scores and what was mapped; (None, None) when the run has no cache."""
    index = read_index(run_dir)
    if index is None:
        return None, None
    info = {
        "methods": list(index.get("methods", [])),
        "n_images": len(index.get("images", [])),
        "n_maps": len(index.get("entries", [])),
        "boxes_available": bool(index.get("boxes_available")),
    }
    scores = index.get("scores")
    if not scores:
        return None, info
    table = pd.DataFrame(scores)
    first = [c for c in SALIENCY_COLUMNS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]], info


def _is_reference(store: ResultsReader, run_id: str) -> bool:
    """Whether the run lives in a read-only folder read beside the user's (the shipped board)."""
    stores = getattr(store, "stores", None)
    return bool(stores) and store.store_of(run_id) is not stores[0]


def run_report(
    store: ResultsReader, run_id: str, settings: ReportSettings | None = None, predictions: pd.DataFrame | None = None
) -> RunReport:
    """The report of run ``run_id`` (a unique prefix is enough) of ``store``; its predictions are read
    checked against the record (a damaged run raises ``RunDamagedError`` naming it)."""
    settings = settings or ReportSettings()
    record = store.load_record(run_id)
    run_dir = store.find(record.run_id)
    frame = store.read_predictions(record) if predictions is None else predictions
    task = record.task
    thresholds = record.thresholds_list()
    y_true, _ = prediction_arrays(frame, task.labels)
    saliency, info = saliency_summary(run_dir)
    return RunReport(
        record=record,
        reference=_is_reference(store, record.run_id),
        entry_key=entry_key(record),
        metrics=metrics_table(record),
        trivial=trivial_table(
            task.problem, task.labels, y_true, task.primary_metric, registered_subsets(task.name, task.hash)
        ),
        calibration=calibration(frame, task.problem, settings.n_bins),
        selective=selective(frame, task.problem, thresholds, settings, _cluster(record, frame), record.bootstrap.level),
        roc=roc(frame, settings),
        payloads=tuple(run_payloads(record, run_dir)),
        saliency=saliency,
        saliency_info=info,
        citation=cite_run(store, record),  # type: ignore[arg-type]  # reads query() only
        settings=settings,
    )


def seed_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per seed run: run_id, seed, created_at and the primary metric with its CI."""
    rows = []
    for record in records:
        primary = record.primary
        rows.append(
            {
                "run_id": record.run_id,
                "seed": record.seed,
                "created_at": record.created_at,
                "metric": record.task.primary_metric,
                "value": primary.value if primary else np.nan,
                "ci_low": primary.ci_low if primary else np.nan,
                "ci_high": primary.ci_high if primary else np.nan,
            }
        )
    return pd.DataFrame(rows)


def seed_metrics(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Each metric's mean, sd (ddof 1; NaN for one seed), min and max over the seeds' recorded values."""
    names = sorted({n for r in records for n in r.metrics}, key=lambda n: (n != records[0].task.primary_metric, n))
    rows = []
    for name in names:
        values = np.array([r.metrics[name].value for r in records if name in r.metrics], dtype=float)
        sd = float(np.std(values, ddof=1)) if len(values) > 1 else np.nan
        rows.append(
            {"metric": name, "n_seeds": len(values), "mean": float(values.mean()), "sd": sd,
             "min": float(values.min()), "max": float(values.max())}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=["metric", "n_seeds", "mean", "sd", "min", "max"])


def entry_report(
    store: ResultsReader,
    entry: Entry,
    name: str | None = None,
    standing: dict[str, Any] | None = None,
    settings: ReportSettings | None = None,
    with_runs: bool = True,
) -> EntryReport:
    """The report of ``entry``: ``standing`` is its row of the task's standings (STANDINGS_COLUMNS) when
    the caller has it; ``with_runs`` adds each seed run's full report."""
    settings = settings or ReportSettings()
    records = [store.load_record(run_id) for run_id in entry.run_ids]
    frames = [store.read_predictions(record) for record in records]
    aligned = align_predictions(frames, [r.run_id for r in records])
    averaged = seed_averaged(aligned)
    problem = records[0].task.problem
    thresholds = [r.thresholds_list() for r in records]
    mean = None if any(t is None for t in thresholds) else [float(v) for v in np.mean(thresholds, axis=0)]
    runs = (
        tuple(run_report(store, r.run_id, settings, f) for r, f in zip(records, frames, strict=True))
        if with_runs
        else ()
    )
    return EntryReport(
        entry=entry,
        name=name or entry.model_name,
        task=records[0].task,
        standing=standing,
        seeds=seed_table(records),
        metrics=seed_metrics(records),
        calibration=calibration(averaged, problem, settings.n_bins),
        selective=selective(averaged, problem, mean, settings, _cluster(records[0], averaged)),
        runs=runs,
    )


def standing_of(store: ResultsReader, entry: Entry, **compare_options: Any) -> tuple[str, dict[str, Any] | None]:
    """The entry's display name and its row of the task's standings (None when none of its runs is counted)."""
    from benchmark.results.standings import task_standings

    standings = task_standings(store, entry.task_name, entry.task_hash, **compare_options)
    for row in standings.entries.to_dict(orient="records"):
        if set(row["run_ids"]) & set(entry.run_ids):
            return str(row["entry"]), {**row, "metric": standings.metric}
    return entry.model_name, None
