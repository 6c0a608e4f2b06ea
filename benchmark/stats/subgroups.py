"""Metrics with CIs per subgroup (sex, age band, view position) where the predictions carry the metadata."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import StatisticsError
from benchmark.stats.bootstrap import bootstrap_ci

SUBGROUP_COLUMNS = ("sex", "age", "view_position")
AGE_BANDS = (18, 40, 60, 80)  # years: <18, 18-39, 40-59, 60-79, 80+
COLUMNS = ["attribute", "group", "n_images", "n_patients", "value", "ci_low", "ci_high", "n_degenerate"]


def age_band(age: pd.Series, edges: Sequence[float] = AGE_BANDS) -> pd.Series:
    """``<18``, ``18-39``, ..., ``80+`` for the default edges; NaN ages stay NaN."""
    names = [f"<{edges[0]:g}"] + [f"{lo:g}-{hi - 1:g}" for lo, hi in itertools.pairwise(edges)]
    names.append(f"{edges[-1]:g}+")
    bands = pd.cut(age.astype(float), [-np.inf, *edges, np.inf], right=False, labels=names)
    return bands.astype(object).where(bands.notna(), np.nan)


def subgroup_metrics(
    predictions: pd.DataFrame,
    metric: str,
    by: Sequence[str] | None = None,
    n_resamples: int = 2000,
    cluster: str | None = "patient_id",
    method: str = "percentile",
    seed: int | np.random.Generator = 0,
    *,
    age_edges: Sequence[float] = AGE_BANDS,
    problem: str | None = None,
    thresholds: Sequence[float] | None = None,
    subsets: dict[str, Sequence[str]] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """``metric`` with its bootstrap CI in each subgroup: one row per (attribute, group).

    ``by``: metadata columns (default: those of sex, age, view_position the table has); ``age``
    is grouped into bands (``age_band``). Images with a missing value are left out of that
    attribute. Each subgroup is resampled on its own (by patient, as bootstrap_ci). Columns:
    attribute, group, n_images, n_patients, value, ci_low, ci_high, n_degenerate.
    """
    by = [c for c in SUBGROUP_COLUMNS if c in predictions.columns] if by is None else list(by)
    if not by:
        raise StatisticsError(
            f"the predictions carry none of the subgroup columns {list(SUBGROUP_COLUMNS)}; join the task's "
            "metadata first (TaskData.with_metadata) or name the columns with by="
        )
    missing = [c for c in by if c not in predictions.columns]
    if missing:
        raise StatisticsError(f"no column {missing} in the predictions (columns: {list(predictions.columns)})")
    rows = []
    for attribute in by:
        values = age_band(predictions[attribute], age_edges) if attribute == "age" else predictions[attribute]
        for group in sorted(values.dropna().unique(), key=str):
            subset = predictions[values == group]
            interval = bootstrap_ci(
                subset, metric, n_resamples, cluster, False, method, seed,
                problem=problem, thresholds=thresholds, subsets=subsets, level=level,
            )  # fmt: skip
            rows.append(
                {
                    "attribute": "age_band" if attribute == "age" else attribute,
                    "group": str(group),
                    "n_images": len(subset),
                    "n_patients": subset["patient_id"].nunique() if "patient_id" in subset else len(subset),
                    **interval.to_dict(),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def subgroups_section(context: Any) -> dict[str, Any] | None:
    """The ``subgroups`` record section of a trained run (stub)."""
    return None


def export_section(results: Any, standings: Any, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """(stub) ``benchmark export``'s section of this kind."""
    return None
