"""The literature's claims on a task beside the board's entries: one ``Verdict`` per published value.

A claim names the baseline that reproduces its model (``baseline``). Its estimate is that baseline's
entry on the board, the one with the most seeds (ranked entries first), scored as the standings score
it: the seed-averaged predictions with a 95% patient-cluster bootstrap CI, one standings table per
metric key the claims need. A claim whose baseline has no entry yet, or that names none, is listed as
not comparable with the reason, so every published value of a task is shown.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from benchmark.errors import RunNotFoundError, StatisticsError
from benchmark.reference.ledger import Claim, Ledger, load_ledger
from benchmark.reference.verdicts import OurEvaluation, Verdict, compare_claim, metric_key
from benchmark.results.combined import ResultsReader
from benchmark.results.export import markdown_table
from benchmark.results.standings import Standings, default_task_hash, task_standings
from benchmark.text import markdown_escape

REFERENCE_ORIGINS = ("reference", "baseline")  # the board's own runs, then a user's runs of the baselines


def task_verdicts(
    results: ResultsReader,
    task: str,
    task_hash: str | None = None,
    ledger: Ledger | None = None,
    **compare_options: Any,
) -> list[Verdict]:
    """Every published value on ``task`` (the ledger's claims, in its order) beside the board's entry of the
    claim's baseline at ``task_hash`` (default: the task's current hash in ``results``)."""
    claims = (ledger or load_ledger()).claims_for(task)
    try:
        task_hash = task_hash or default_task_hash(results, task)
    except RunNotFoundError:
        task_hash = None
    tables: dict[str, Standings | None] = {}

    def standings(key: str) -> Standings | None:
        if key not in tables:
            try:
                tables[key] = task_standings(results, task, task_hash, metric=key, **compare_options)
            except (RunNotFoundError, StatisticsError):
                tables[key] = None
        return tables[key]

    verdicts: list[Verdict] = []
    for claim in claims:
        keys = [metric_key(claim, label) for label, _ in claim.items()]
        first = standings(keys[0]) if task_hash is not None else None
        entry = _baseline_entry(first.entries, claim.baseline) if first is not None and claim.baseline else None
        if entry is None:
            verdicts += [_unreproduced(v, claim) for v in compare_claim(claim, OurEvaluation(task, {}))]
            continue
        rows = {key: row for key in keys if (row := _row_of(standings(key), entry["run_ids"])) is not None}
        label = f"entry {claim.baseline}, {entry['n_seeds']} seed(s)"
        verdicts += compare_claim(claim, OurEvaluation.from_entry(task, rows, entry.get("image_size"), label))
    return verdicts


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    """The verdicts as rows (``Verdict.as_row``), for the leaderboard and the export."""
    return pd.DataFrame([v.as_row() for v in verdicts])


def _baseline_entry(entries: pd.DataFrame, baseline: str) -> pd.Series | None:
    """The entry of ``baseline`` run by the board (else by a user) with the most seeds."""
    found = entries[(entries["model"] == baseline) & entries["origin"].isin(REFERENCE_ORIGINS)]
    if found.empty:
        return None
    order = found.assign(
        board=found["origin"] == REFERENCE_ORIGINS[0], ranked_first=found["ranked"].astype(bool)
    ).sort_values(["ranked_first", "n_seeds", "board"], ascending=False)
    return order.iloc[0]


def _row_of(table: Standings | None, run_ids: list[str]) -> pd.Series | None:
    if table is None:
        return None
    same = table.entries[table.entries["run_ids"].map(lambda ids: list(ids) == list(run_ids))]
    return None if same.empty else same.iloc[0]


def _unreproduced(verdict: Verdict, claim: Claim) -> Verdict:
    """A value without an entry to compare with: its own reason stands when it has one that does not
    depend on us (another split, a bound or a range); otherwise the reason is the missing entry."""
    if not claim.comparable or verdict.published.kind != "exact":
        return verdict
    reason = (
        f"no entry of {claim.baseline} on this board yet (leaderboard/reference.yaml plans its runs)"
        if claim.baseline
        else "no baseline of ours reproduces this model"
    )
    return replace(verdict, reason=reason)


def claims_markdown(task: str, verdicts: list[Verdict]) -> str:
    """The verdicts as a Markdown section (every cell escaped), for ``benchmark export --format markdown``."""
    if not verdicts:
        return ""
    rows = pd.DataFrame(
        {
            "claim": [v.claim_id for v in verdicts],
            "model as published": [v.model for v in verdicts],
            "metric": [v.metric_key for v in verdicts],
            "published": [v.published.text for v in verdicts],
            "ours [95% CI]": [_ours(v) for v in verdicts],
            "verdict": [v.outcome.replace("_", " ") for v in verdicts],
            "why / note": [v.reason or v.note or "" for v in verdicts],
        }
    )
    title = markdown_escape(f"Published claims on {task}")
    note = markdown_escape(
        "From leaderboard/literature.yaml. A printed value stands for its rounding interval; inside: it meets our "
        "95% CI; above / below: it lies wholly outside; not comparable: the reason is given."
    )
    return f"**{title}**\n\n{markdown_table(rows)}\n\n{note}\n"


def _ours(verdict: Verdict) -> str:
    if verdict.estimate is None or verdict.ci_low is None or verdict.ci_high is None:
        return ""
    return f"{verdict.estimate:.3f} [{verdict.ci_low:.3f}, {verdict.ci_high:.3f}]"


def export_section(results: Any, standings: Any, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """``benchmark export``'s claims section: the literature's claims on the task with their verdicts."""
    verdicts = task_verdicts(results, standings.task_name, standings.task_hash, **options)
    return claims_markdown(standings.task_name, verdicts), [verdict.as_row() for verdict in verdicts]
