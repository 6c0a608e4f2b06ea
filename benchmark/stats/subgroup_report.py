"""Subgroups of a task's entries for ``benchmark export`` and the leaderboard's Subgroups page.

An entry is scored on its seed-averaged predictions, the predictions its board estimate and CI are
computed on (``benchmark.stats.compare.seed_averaged``), with the patient bootstrap of its first run's
record (n_resamples, seed, method). Those CIs, like the board's, cover the test set's sampling, not the
spread between seeds; the spread is shown beside them as each seed's own point gap between the same two
groups. Averaging CIs over seeds, or showing the mean over seeds with one seed's CI, would mix the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchmark.errors import BenchmarkError
from benchmark.results.export import markdown_table
from benchmark.stats.compare import seed_averaged
from benchmark.stats.paired import align_predictions
from benchmark.stats.subgroup_gap import SubgroupAnalysis, group_values
from benchmark.stats.subgroup_metadata import SubgroupMetadataError, metadata_roots, with_subgroup_metadata
from benchmark.stats.subgroups import _Scoring, metadata_settings
from benchmark.text import markdown_escape


@dataclass(frozen=True)
class EntrySubgroups:
    """One entry's subgroups: ``analysis`` on its seed-averaged predictions and, per attribute, each seed's
    point gap between the analysis' two groups (``seed_gaps``); or ``unavailable`` (why) instead."""

    entry: str
    run_ids: tuple[str, ...]
    analysis: SubgroupAnalysis | None
    seed_gaps: dict[str, list[float]]
    unavailable: str | None = None


def entry_subgroups(results: Any, entry: str, run_ids: tuple[str, ...], data_root: Any = None) -> EntrySubgroups | None:
    """``entry``'s subgroups (see the module), None when its task has no subgroup metadata. A missing NIH CSV
    (an NIH-derived task, no data root holding it) gives ``unavailable`` with the reason, not an error."""
    records = [results.load_record(i) for i in run_ids]
    frames = align_predictions([results.read_predictions(r) for r in records], list(run_ids))
    roots = metadata_roots(data_root, records[0].task.data_root)
    try:
        joined = [with_subgroup_metadata(f, roots, f"run {i}") for f, i in zip(frames, run_ids, strict=True)]
    except SubgroupMetadataError as exc:
        return EntrySubgroups(entry, run_ids, None, {}, str(exc))
    if joined[0] is None:
        return None
    scoring = _Scoring.of_record(records[0])
    averaged = seed_averaged(joined)
    analysis = scoring.analyse(averaged, {**metadata_settings(frames[0], averaged), "predictions": "seed-averaged"})
    seed_gaps: dict[str, list[float]] = {}
    if len(run_ids) > 1:
        for frame in joined:
            values = group_values(
                frame,
                scoring.metric,
                problem=scoring.problem,
                thresholds=scoring.threshold_list,
                subsets=scoring.subsets,
            )
            for gap in analysis.gaps.itertuples():
                high, low = values[(gap.attribute, gap.high_group)], values[(gap.attribute, gap.low_group)]
                seed_gaps.setdefault(gap.attribute, []).append(high - low)
    return EntrySubgroups(entry, run_ids, analysis, seed_gaps)


def task_subgroups(results: Any, standings: Any, data_root: Any = None) -> list[EntrySubgroups] | None:
    """Every entry of ``standings`` (ranked then unranked), None when the task has no subgroup metadata."""
    out = []
    for name, ids in zip(standings.entries["entry"], standings.entries["run_ids"], strict=True):
        found = entry_subgroups(results, str(name), tuple(ids), data_root)
        if found is None:
            return None
        out.append(found)
    return out


def _number(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.3f}"


def _interval(low: Any, high: Any) -> str:
    return "n/a" if pd.isna(low) or pd.isna(high) else f"[{float(low):.3f}, {float(high):.3f}]"


def entry_markdown(found: EntrySubgroups) -> str:
    seeds = f"{len(found.run_ids)} seed{'s' if len(found.run_ids) > 1 else ''}"
    head = f"### {markdown_escape(found.entry)} ({seeds})"
    if found.analysis is None:
        return f"{head}\n\nNot computed: {markdown_escape(found.unavailable)}\n"
    rows, gaps = found.analysis.rows, found.analysis.gaps
    metric = found.analysis.settings["metric"]
    groups = pd.DataFrame(
        {
            "attribute": rows["attribute"],
            "group": rows["group"],
            "images": rows["n_images"],
            "patients": rows["n_patients"],
            metric: rows["value"].map(_number),
            "95% CI": [_interval(lo, hi) for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)],
            "undefined resamples": rows["n_degenerate"],
        }
    )
    parts = [head, "", markdown_table(groups)]
    if len(gaps):
        table = pd.DataFrame(
            {
                "attribute": gaps["attribute"],
                "largest gap": [f"{h} − {lo}" for h, lo in zip(gaps["high_group"], gaps["low_group"], strict=True)],
                metric: gaps["gap"].map(_number),
                "95% CI": [_interval(lo, hi) for lo, hi in zip(gaps["ci_low"], gaps["ci_high"], strict=True)],
                "undefined resamples": gaps["n_degenerate"],
            }
        )
        if found.seed_gaps:
            table["per-seed gaps"] = [", ".join(map(_number, found.seed_gaps.get(a, []))) for a in gaps["attribute"]]
        parts += ["", markdown_table(table)]
    return "\n".join(parts) + "\n"


def section_markdown(task: str, found: list[EntrySubgroups]) -> str:
    settings = next((f.analysis.settings for f in found if f.analysis is not None), None)
    intro = f"## Subgroups of {task}\n\n"
    if settings is not None:
        intro += (
            f"{settings['metric']} per sex, age band and view position on each entry's seed-averaged predictions "
            f"(metadata: {settings['metadata']}). {round(settings['level'] * 100)}% CIs: {settings['n_resamples']:,} "
            f"bootstrap resamples of the test set's {settings['unit']}s (seed {settings['seed']}), the same resamples "
            "for every group, so a gap's CI is that of the paired difference. Largest gap: highest minus lowest group "
            f"among groups with at least {settings['min_patients_for_gap']} patients and "
            f"{settings.get('min_per_class_for_gap', 0)} positives and negatives of each scored label, chosen on "
            "the point estimates "
            "(its CI does not allow for that choice). The CIs cover the test set's sampling, not seed-to-seed "
            "variation; per-seed gaps show that. Undefined resamples (e.g. a class absent from a group) are left out "
            "of the quantiles; many of them make a CI unreliable.\n\n"
        )
    return intro + "\n".join(entry_markdown(f) for f in found)


def section_rows(found: list[EntrySubgroups]) -> list[dict[str, Any]]:
    """JSON rows: ``kind`` group (CONTRACTS' subgroup row), gap (a summary gap) or unavailable (with ``reason``)."""
    rows: list[dict[str, Any]] = []
    for f in found:
        base = {"entry": f.entry, "run_ids": list(f.run_ids)}
        if f.analysis is None:
            rows.append({**base, "kind": "unavailable", "reason": f.unavailable})
            continue
        payload = f.analysis.payload()
        rows += [{**base, "kind": "group", **row} for row in payload["rows"]]
        rows += [
            {**base, "kind": "gap", **gap, "seed_gaps": f.seed_gaps.get(gap["attribute"], [])}
            for gap in payload["summary"]["gaps"]
        ]
    return rows


def subgroups_export(results: Any, standings: Any) -> tuple[str, list[dict[str, Any]]] | None:
    """``benchmark export``'s subgroups section; NIH's CSV (lung3_64) is looked for under ``$CXRBENCH_DATA``,
    then the data root each run recorded."""
    try:
        found = task_subgroups(results, standings)
    except BenchmarkError as exc:  # a damaged run since the table was built: say so, keep the export
        why = markdown_escape(f"{type(exc).__name__}: {exc}")
        text = f"## Subgroups of {standings.task_name}\n\nNot computed: {why}\n"
        return text, [{"kind": "unavailable", "reason": str(exc)}]
    if found is None:
        return None
    return section_markdown(standings.task_name, found), section_rows(found)
