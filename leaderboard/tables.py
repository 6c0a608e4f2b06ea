"""The leaderboard's tables, from a task's Standings (benchmark.results.standings): pure functions, no Streamlit.

The ranking itself (rank, estimate, CI, top group) is never recomputed here: the displayed rows are
``benchmark.stats.render.entry_rows`` of the Standings, the strings ``benchmark export`` prints,
with the entry's family, input size, parameters, origin and date beside.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

from benchmark.results.record import RunRecord
from benchmark.results.standings import Standings
from benchmark.stats.render import entry_rows


def level_of(standings: Standings) -> float:
    return standings.comparison.settings["level"] if standings.comparison else 0.95


def display_table(entries: pd.DataFrame, metric: str, level: float = 0.95) -> pd.DataFrame:
    """Entries (STANDINGS_COLUMNS) as the rows shown: ``entry_rows`` (rank, model, seeds, mean ± sd,
    estimate [CI], p vs best, top group) plus family, input size, parameters, origin, the newest
    run's date and the id of the entry's first run (for a link to its page)."""
    rows = entry_rows(entries.reset_index(drop=True), metric, level)
    rows["family"] = entries["family"].to_numpy()
    rows["input px"] = entries["image_size"].to_numpy()
    rows["parameters"] = entries["parameters"].to_numpy()
    rows["origin"] = entries["origin"].to_numpy()
    rows["AURC"] = entries["aurc"].to_numpy() if "aurc" in entries else np.nan  # selective risk, lower is better
    rows["date"] = pd.to_datetime(entries["created_at"].to_numpy(), utc=True, format="ISO8601")
    rows["run"] = [ids[0] if len(ids) else None for ids in entries["run_ids"]]
    return rows


def filter_entries(
    entries: pd.DataFrame,
    families: Collection[Any] | None = None,
    origins: Collection[Any] | None = None,
    sizes: Collection[Any] | None = None,
) -> pd.DataFrame:
    """The entries whose family, origin and input size are among those chosen (None or empty: any).
    Rank and top group stay as computed on all entries."""
    keep = np.ones(len(entries), dtype=bool)
    for column, chosen in (("family", families), ("origin", origins), ("image_size", sizes)):
        if chosen:
            keep &= entries[column].isin(list(chosen)).to_numpy()
    return entries[keep]


def filter_options(standings: Standings) -> dict[str, list[Any]]:
    """The values the filters offer: every family, origin and input size of the task's entries."""
    entries = standings.entries

    def values(column: str) -> list[Any]:
        found = entries[column].dropna().unique().tolist()
        try:
            return sorted(found)  # sizes as numbers: 64 before 224
        except TypeError:  # mixed types
            return sorted(found, key=str)

    return {"family": values("family"), "origin": values("origin"), "image_size": values("image_size")}


def differences_against(pairs: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Every other entry's difference to ``reference`` from the pairwise tests (PAIR_COLUMNS), oriented
    ``entry - reference`` (a pair lists the better entry first, so pairs where the reference is first
    are negated and their CI mirrored). Columns: model, diff, ci_low, ci_high, p_adjusted."""
    first = pairs[pairs["entry_a"] == reference]
    second = pairs[pairs["entry_b"] == reference]
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "model": first["entry_b"],
                    "diff": -first["diff"],
                    "ci_low": -first["ci_high"],
                    "ci_high": -first["ci_low"],
                    "p_adjusted": first["p_adjusted"],
                }
            ),
            pd.DataFrame(
                {
                    "model": second["entry_a"],
                    "diff": second["diff"],
                    "ci_low": second["ci_low"],
                    "ci_high": second["ci_high"],
                    "p_adjusted": second["p_adjusted"],
                }
            ),
        ],
        ignore_index=True,
    )
    return table.sort_values("diff", ascending=False, kind="stable").reset_index(drop=True)


def label_aurocs(entries: pd.DataFrame, records: dict[str, RunRecord], labels: Sequence[str]) -> pd.DataFrame:
    """Entries (rows, in table order) x labels: the mean over the entry's runs of each run's recorded
    ``auroc/<label>`` (a single-label task records only ``auroc``). NaN where no run records it."""
    table = {}
    for name, run_ids in zip(entries["entry"], entries["run_ids"], strict=True):
        row = {}
        for label in labels:
            keys = (f"auroc/{label}", "auroc") if len(labels) == 1 else (f"auroc/{label}",)
            values = [_metric(records[run_id], keys) for run_id in run_ids]
            known = [v for v in values if v is not None]
            row[label] = float(np.mean(known)) if known else np.nan
        table[name] = row
    return pd.DataFrame.from_dict(table, orient="index", columns=list(labels))


def _metric(record: RunRecord, keys: Sequence[str]) -> float | None:
    for key in keys:
        metric = record.metrics.get(key)
        if metric is not None:
            return float(metric.value)
    return None
