"""Compare models on one task: estimates with CIs, every pair tested, multiple-comparison correction,
and the group of models not significantly different from the best.

Runs of one model and configuration are its seeds. Each model (an *entry*) is scored on its
seed-averaged predictions (scores averaged per image over seeds); its spread over seeds is
reported beside. All entries share one set of patient-cluster resamples, so every pairwise
difference is a paired bootstrap difference.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import StatisticsError, TaskMismatchError
from benchmark.metrics.predictions import SCORE_PREFIX
from benchmark.metrics.registry import EvalInputs
from benchmark.results.entries import group_entries
from benchmark.stats.bootstrap import clusters_of, metric_family, metric_label, metric_values, prediction_inputs
from benchmark.stats.correction import CORRECTION_METHODS, CORRECTION_NAMES, CORRECTIONS, adjust_pvalues
from benchmark.stats.delong import delong_pairs
from benchmark.stats.intervals import bootstrap_interval
from benchmark.stats.paired import align_predictions, paired_difference
from benchmark.stats.resample import draw_resamples
from benchmark.stats.runs import Run

TESTS = ("bootstrap", "delong")
# Public columns (benchmark export and the leaderboard read them).
ENTRY_COLUMNS = [
    "rank",  # 1 = highest estimate
    "entry",  # display name: the model name (+ its recipe overrides when one model has several configurations)
    "model",
    "origin",  # baseline | submission
    "parameters",
    "n_seeds",
    "seeds",  # list of ints
    "run_ids",  # list of str
    "mean",  # mean over seeds of the per-run estimate
    "sd",  # sd (ddof 1) over seeds; NaN for one seed
    "estimate",  # on the seed-averaged predictions
    "ci_low",
    "ci_high",
    "n_degenerate",
    "p_vs_best",  # adjusted p-value of the test against the best entry; NaN for the best
    "top_group",  # True: best, or not significantly different from it
]
PAIR_COLUMNS = [
    "entry_a",  # the entry with the higher (or equal) estimate
    "entry_b",
    "estimate_a",
    "estimate_b",
    "diff",  # estimate_a - estimate_b
    "ci_low",  # CI of diff
    "ci_high",
    "z",
    "p_value",
    "p_adjusted",
    "significant",  # p_adjusted < alpha
]


@dataclass(frozen=True)
class Comparison:
    """Result of ``compare``: ``entries`` (ENTRY_COLUMNS, best first), ``pairs`` (PAIR_COLUMNS) and the
    settings a methods paragraph needs (``settings``; ``methods_text()`` writes the paragraph)."""

    task_name: str
    task_hash: str
    metric: str
    entries: pd.DataFrame
    pairs: pd.DataFrame
    settings: dict[str, Any]

    @property
    def best(self) -> str:
        return str(self.entries["entry"].iloc[0])

    @property
    def top_group(self) -> list[str]:
        return self.entries.loc[self.entries["top_group"], "entry"].tolist()

    def methods_text(self) -> str:
        s = self.settings
        unit = "patients" if s["unit"] == "patient" else "images"
        test = (
            "DeLong's test for correlated AUROCs (DeLong et al. 1988; fast algorithm of Sun & Xu 2014; "
            "images treated as independent)"
            if s["test"] == "delong"
            else "a paired bootstrap test on the same resamples (z = difference / bootstrap SD of the difference, "
            "as pROC's roc.test; Robin et al. 2011)"
        )
        correction = CORRECTION_METHODS[s["correction"]]
        level = f"{s['level']:.0%}"
        return (
            f"Models were compared on {self.metric} on the {self.task_name} test set ({s['n_images']:,} images, "
            f"{s['n_units']:,} {unit}; task hash {self.task_hash[:12]}). Each model's estimate is computed on "
            f"its predictions averaged over seeds, with a {level} percentile bootstrap CI from "
            f"{s['n_resamples']:,} resamples of {unit} (seed {s['seed']}); the mean and SD over seeds are given "
            f"beside. Each pair of models was compared with {test}; the p-values of the {len(self.pairs)} pairs "
            f"were adjusted with {correction}. Models whose adjusted p-value against the best model is at least "
            f"{s['alpha']:g} are not significantly different from it."
        )

    def caption(self, marker: str = "(*)") -> str:
        """How to read a table of the entries, in plain text: what the estimate and its CI are, and which
        entries form the top group (shown in the table by ``marker``). The LaTeX table of ``render``,
        ``benchmark export`` and the leaderboard print it under their tables, so they explain it alike."""
        s = self.settings
        return (
            f"Estimate: {self.metric} of each entry's seed-averaged predictions with its {s['level']:.0%} percentile "
            f"bootstrap CI over {s['unit']}s ({s['n_resamples']:,} resamples). Top group {marker}: the best entry "
            f"and every entry whose {CORRECTION_NAMES[s['correction']]}-adjusted paired {s['test']} test against "
            f"it has p ≥ {s['alpha']:g}."
        )


def named_entries(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Entry name -> its runs (seeds), grouped by ``benchmark.results.entries.group_entries``; a model
    with several entries gets its recipe overrides and entry key in the name."""
    entries = group_entries(runs)
    by_id = {run.run_id: run for run in runs}
    per_model = Counter(entry.model_name for entry in entries)
    named: dict[str, list[Run]] = {}
    for entry in entries:
        members = [by_id[run_id] for run_id in entry.run_ids]
        if entry.repeats_a_seed:
            seeds = [run.seed for run in members]
            repeated = [run.run_id for run in members if seeds.count(run.seed) > 1]
            raise StatisticsError(f"runs {repeated} are the same model, configuration and seed; pass one of them")
        model, key = entry.model_name, entry.entry_key
        named[model if per_model[model] == 1 else f"{model} {members[0].configuration} [{key[:6]}]"] = members
    return named


def seed_averaged(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The first table with every ``score:`` column averaged over ``frames``: an entry's predictions.
    The tables must be aligned (same images in the same order; ``align_predictions``)."""
    averaged = frames[0].copy()
    scores = [c for c in averaged.columns if str(c).startswith(SCORE_PREFIX)]
    averaged[scores] = np.mean([frame[scores].to_numpy(float) for frame in frames], axis=0)
    return averaged


def _check_task(runs: Sequence[Run]) -> None:
    if not runs:
        raise StatisticsError("compare needs at least one run")
    if len({run.task_hash for run in runs}) > 1:
        listing = "\n".join(f"  {run.run_id}: task {run.task_name} hash {run.task_hash}" for run in runs)
        raise TaskMismatchError(
            "runs of different task hashes are never compared (different spec, split or data):\n" + listing
        )


def _delong_label(metric: str, inputs: EvalInputs) -> int:
    """Column of the single AUROC DeLong compares."""
    if metric == "auroc" and inputs.problem == "binary":
        return 0
    label = metric_label(metric)
    if metric_family(metric) == "auroc" and label in inputs.labels:
        return inputs.labels.index(label)
    raise StatisticsError(
        f"DeLong compares one AUROC: 'auroc' on a binary task or 'auroc/<label>', not {metric!r}; "
        "use test='bootstrap' for other metrics"
    )


def compare(
    runs: Sequence[Run],
    metric: str | None = None,
    test: str = "bootstrap",
    correction: str = "holm",
    n_resamples: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    level: float = 0.95,
    cluster: str | None = "patient_id",
    subsets: dict[str, Sequence[str]] | None = None,
) -> Comparison:
    """Compare the models of ``runs`` (one task hash) on ``metric`` (default: the task's primary metric).

    Pairwise tests: ``bootstrap`` (paired patient-cluster bootstrap, any metric) or ``delong`` (one
    AUROC); p-values corrected over all pairs with ``holm`` (default), ``bh`` or ``none``. The best
    entry has the highest estimate; the top group is the best plus every entry whose adjusted
    p-value against it is >= ``alpha``. ``subsets`` are the task's named label subsets, which an
    ``auroc[<subset>]`` metric needs (``Task.macro_subsets``; records do not hold them).
    """
    _check_task(runs)
    if test not in TESTS:
        raise StatisticsError(f"test must be one of {TESTS}, got {test!r}")
    if correction not in CORRECTIONS:
        raise StatisticsError(f"correction must be one of {list(CORRECTIONS)}, got {correction!r}")
    first = runs[0]
    metric = metric or first.primary_metric
    frames = align_predictions([run.predictions for run in runs], [run.run_id for run in runs])
    frame_of = {run.run_id: frame for run, frame in zip(runs, frames, strict=True)}
    base = frames[0]
    clusters = clusters_of(base, cluster)
    weights = draw_resamples(clusters, n_resamples, seed).weights()
    plain = clusters.plain()

    def inputs_of(frame: pd.DataFrame, thresholds: list[float] | None) -> EvalInputs:
        return prediction_inputs(frame, first.problem, thresholds, subsets)

    rows, resampled, averaged = [], {}, {}
    for name, members in named_entries(runs).items():
        mean_frame = seed_averaged([frame_of[run.run_id] for run in members])
        thresholds = [run.thresholds for run in members]
        inputs = inputs_of(mean_frame, None if None in thresholds else list(np.mean(thresholds, axis=0)))
        per_seed = [
            float(metric_values(inputs_of(frame_of[r.run_id], r.thresholds), metric, plain)[0]) for r in members
        ]
        resampled[name], averaged[name] = metric_values(inputs, metric, weights), inputs
        interval = bootstrap_interval(float(metric_values(inputs, metric, plain)[0]), resampled[name], level)
        rows.append(
            {
                "entry": name,
                "model": members[0].model_name,
                "origin": members[0].origin,
                "parameters": members[0].record.model.parameters,
                "n_seeds": len(members),
                "seeds": [run.seed for run in members],
                "run_ids": [run.run_id for run in members],
                "mean": float(np.mean(per_seed)),
                "sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else np.nan,
                "estimate": interval.value,
                "ci_low": interval.ci_low,
                "ci_high": interval.ci_high,
                "n_degenerate": interval.n_degenerate,
            }
        )
    entries = pd.DataFrame(rows).sort_values("estimate", ascending=False, kind="stable", na_position="last")
    entries = entries.reset_index(drop=True)
    entries.insert(0, "rank", np.arange(1, len(entries) + 1))
    names = entries["entry"].tolist()

    if test == "delong":
        k = _delong_label(metric, averaged[names[0]])
        scores = np.stack([averaged[name].y_score[:, k] for name in names])
        pairs = delong_pairs(averaged[names[0]].y_true[:, k], scores, names, level)
        pairs = pairs.rename(columns={"a": "entry_a", "b": "entry_b", "auc_a": "estimate_a", "auc_b": "estimate_b"})
    else:
        estimate = dict(zip(names, entries["estimate"], strict=True))
        pairs = pd.DataFrame(
            [
                {
                    "entry_a": a,
                    "entry_b": b,
                    **paired_difference(metric, (estimate[a], estimate[b]), resampled[a], resampled[b], level).__dict__,
                }
                for a, b in itertools.combinations(names, 2)
            ],
            columns=["entry_a", "entry_b", "estimate_a", "estimate_b", "diff", "ci_low", "ci_high", "z", "p_value"],
        )
    pairs["p_adjusted"] = adjust_pvalues(pairs["p_value"].to_numpy(), correction)
    pairs["significant"] = pairs["p_adjusted"] < alpha
    pairs = pairs[PAIR_COLUMNS]

    against_best = pairs[pairs["entry_a"] == names[0]].set_index("entry_b")["p_adjusted"]
    entries["p_vs_best"] = entries["entry"].map(against_best).astype(float)
    entries["top_group"] = (entries["rank"] == 1) | (entries["p_vs_best"] >= alpha)
    settings = {
        "test": test,
        "correction": correction,
        "n_resamples": n_resamples,
        "seed": seed,
        "alpha": alpha,
        "level": level,
        "unit": clusters.unit,
        "n_units": clusters.n_clusters,
        "n_images": len(base),
    }
    return Comparison(first.task_name, first.task_hash, metric, entries[ENTRY_COLUMNS], pairs, settings)
