"""Subgroup metrics and the largest gap with its CI against a scikit-learn loop over the same patient resamples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from benchmark.errors import StatisticsError
from benchmark.metrics.predictions import predictions_frame
from benchmark.stats.resample import Clusters, draw_resamples
from benchmark.stats.subgroup_gap import attribute_groups, group_values, paired_subgroups
from tests.fixtures.runs.make import patients, scores, truth

LABELS3 = ("a", "b", "c")


def _frame(problem: str, labels: tuple[str, ...], seed: int = 7, n_patients: int = 70) -> pd.DataFrame:
    """Predictions with sex per patient, age and view per image (a patient's films span age bands and views)."""
    rng = np.random.default_rng(seed)
    pid = patients(n_patients, rng)
    y = truth(pid, labels, problem, rng)
    frame = predictions_frame([f"i{i}" for i in range(len(pid))], list(pid), y, scores(y, problem, 1.0, rng), labels)
    _, cluster = np.unique(pid, return_inverse=True)
    frame["sex"] = np.array(["M", "F"])[rng.integers(0, 2, cluster.max() + 1)][cluster]
    frame["age"] = (rng.integers(20, 90, cluster.max() + 1)[cluster] + rng.integers(0, 3, len(frame))).astype(float)
    frame["view_position"] = np.array(["PA", "AP", ""])[rng.choice(3, len(frame), p=[0.55, 0.4, 0.05])]
    frame.loc[5, "age"] = np.nan
    # a small group: two patients under 18, below the gap's 10-patient floor
    young = frame["patient_id"].isin(frame["patient_id"].unique()[:2])
    frame.loc[young, "age"] = 12.0
    return frame


def _band(age: float) -> str | None:
    if np.isnan(age):
        return None
    for low, high, name in ((0, 18, "<18"), (18, 40, "18-39"), (40, 60, "40-59"), (60, 80, "60-79")):
        if low <= age < high:
            return name
    return "80+"


def _reference_groups(frame: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    """(attribute, group) -> boolean mask, written out with plain pandas."""
    out = {}
    bands = frame["age"].map(_band)
    for attribute, values in (("sex", frame["sex"]), ("age_band", bands), ("view_position", frame["view_position"])):
        for group in sorted(v for v in values.dropna().unique() if v != ""):
            out[(attribute, group)] = (values == group).to_numpy()
    return out


def _sklearn_value(frame: pd.DataFrame, problem: str, labels: tuple[str, ...], metric: str) -> float:
    y = frame[[f"true:{x}" for x in labels]].to_numpy()
    s = frame[[f"score:{x}" for x in labels]].to_numpy()
    if metric == "f1":  # binary, threshold 0.5
        return f1_score(y[:, 0], s[:, 0] >= 0.5, zero_division=np.nan)
    if any(len(np.unique(y[:, k])) < 2 for k in range(len(labels))):
        return np.nan  # a class absent (or present everywhere): the macro AUROC is undefined
    if problem == "multiclass":  # scikit-learn's one-vs-rest macro average
        return float(roc_auc_score(y.argmax(axis=1), s, multi_class="ovr", average="macro"))
    return float(roc_auc_score(y[:, 0], s[:, 0]))


@pytest.mark.parametrize(("problem", "labels", "metric"), [("multiclass", LABELS3, "auroc"), ("binary", ("x",), "f1")])
def test_groups_and_gaps_equal_a_scikit_learn_loop_over_the_same_patient_resamples(problem, labels, metric):
    frame = _frame(problem, labels)
    n_resamples = 50
    analysis = paired_subgroups(frame, metric, n_resamples, seed=3, problem=problem)
    # The resamples are the library's documented draw: scipy's integers over patients, seed 3.
    expected_draw = draw_resamples(Clusters.of(frame["patient_id"].to_numpy()), n_resamples, 3)
    np.testing.assert_array_equal(analysis.resamples.indices, expected_draw.indices)

    groups = _reference_groups(frame)
    rows = analysis.rows.set_index(["attribute", "group"])
    assert sorted(rows.index) == sorted(groups)
    resampled = {key: np.empty(n_resamples) for key in groups}
    for b in range(n_resamples):
        drawn = analysis.resamples.image_indices(b)  # images of the drawn patients, with repeats
        for key, mask in groups.items():
            picked = drawn[mask[drawn]]
            resampled[key][b] = _sklearn_value(frame.iloc[picked], problem, labels, metric) if len(picked) else np.nan
    for key, mask in groups.items():
        row = rows.loc[key]
        subset = frame[mask]
        assert (row["n_images"], row["n_patients"]) == (mask.sum(), subset["patient_id"].nunique())
        point = _sklearn_value(subset, problem, labels, metric)
        finite = resampled[key][~np.isnan(resampled[key])]
        assert row["n_degenerate"] == n_resamples - len(finite)
        if np.isnan(point):
            assert np.isnan(row["value"])
            continue
        assert row["value"] == pytest.approx(point, abs=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(np.quantile(finite, [0.025, 0.975])), abs=1e-12)

    # The largest gap: highest minus lowest point estimate among groups of >= 10 patients, CI of the paired
    # difference over the same resamples.
    assert len(analysis.gaps) == 3
    for gap in analysis.gaps.itertuples():
        eligible = {
            g: rows.loc[(a, g), "value"]
            for (a, g) in groups
            if a == gap.attribute and rows.loc[(a, g), "n_patients"] >= 10 and not np.isnan(rows.loc[(a, g), "value"])
        }
        assert gap.high_group == max(eligible, key=eligible.get) and gap.low_group == min(eligible, key=eligible.get)
        assert gap.gap == pytest.approx(eligible[gap.high_group] - eligible[gap.low_group], abs=1e-12)
        diff = resampled[(gap.attribute, gap.high_group)] - resampled[(gap.attribute, gap.low_group)]
        finite = diff[~np.isnan(diff)]
        assert gap.n_degenerate == n_resamples - len(finite)
        assert (gap.ci_low, gap.ci_high) == pytest.approx(tuple(np.quantile(finite, [0.025, 0.975])), abs=1e-12)
    assert rows.loc[("age_band", "<18"), "n_patients"] == 2
    assert "<18" not in set(analysis.gaps["high_group"]) | set(analysis.gaps["low_group"])


def test_the_paired_gap_interval_is_narrower_than_separate_resampling_when_groups_share_patients():
    """Two views of the same patients scored alike: the paired difference cancels the patients' own variation."""
    rng = np.random.default_rng(0)
    n = 300
    y = (rng.random(n) < 0.4).astype(float)
    s = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    pid = [f"p{i}" for i in range(n)]
    one = predictions_frame([f"a{i}" for i in range(n)], pid, y[:, None], s[:, None], ("x",))
    two = predictions_frame([f"b{i}" for i in range(n)], pid, y[:, None], (s + rng.normal(0, 0.02, n))[:, None], ("x",))
    one["view_position"], two["view_position"] = "PA", "AP"
    analysis = paired_subgroups(pd.concat([one, two], ignore_index=True), "auroc", 300, 0)
    gap = analysis.gaps.iloc[0]
    rows = analysis.rows.set_index("group")
    separate = np.hypot(*(rows.loc[g, "ci_high"] - rows.loc[g, "ci_low"] for g in ("PA", "AP")))
    assert gap.ci_high - gap.ci_low < 0.25 * separate


def test_attribute_groups_band_ages_by_hand_and_drop_unknown_markers():
    frame = pd.DataFrame(
        {
            "sex": ["Male", "Female", "Unknown", None, " M "],
            "age": [17.99, 18, 59.5, 80, np.nan],
            "view_position": ["AP", "", "PA", "LL", np.nan],
        }
    )
    groups = attribute_groups(frame)
    assert list(groups) == ["sex", "age_band", "view_position"]
    assert [*groups["sex"].tolist()[:2], groups["sex"].iloc[4]] == ["Male", "Female", "M"]
    assert groups["sex"].iloc[2:4].isna().all()
    assert groups["age_band"].tolist()[:4] == ["<18", "18-39", "40-59", "80+"] and pd.isna(groups["age_band"].iloc[4])
    assert groups["view_position"].isna().tolist() == [False, True, False, False, True]
    assert attribute_groups(frame, age_edges=(50,))["age_band"].tolist()[:4] == ["<50", "<50", "50+", "50+"]


def test_group_values_are_scikit_learn_point_estimates_and_missing_metadata_is_named():
    frame = _frame("multiclass", LABELS3, seed=2)
    values = group_values(frame, "auroc", problem="multiclass")
    for (attribute, group), mask in _reference_groups(frame).items():
        expected = _sklearn_value(frame[mask], "multiclass", LABELS3, "auroc")
        assert values[(attribute, group)] == pytest.approx(expected, abs=1e-12, nan_ok=True)
    with pytest.raises(StatisticsError, match="no subgroup metadata"):
        paired_subgroups(frame.drop(columns=["sex", "age", "view_position"]), "auroc", 10, problem="multiclass")


def test_payload_follows_the_contract_and_is_json_clean():
    import json

    analysis = paired_subgroups(_frame("multiclass", LABELS3), "auroc", 50, problem="multiclass")
    payload = analysis.payload()
    assert set(payload) == {"rows", "summary", "settings"}
    assert {"attribute", "group", "metric", "n_images", "n_patients", "value", "ci_low", "ci_high"} <= set(
        payload["rows"][0]
    )
    gap = payload["summary"]["gaps"][0]
    assert {"attribute", "metric", "high_group", "low_group", "gap", "ci_low", "ci_high"} <= set(gap)
    assert payload["settings"]["unit"] == "patient" and payload["settings"]["n_resamples"] == 50
    json.dumps(payload, allow_nan=False)  # NaN written as null


def test_a_group_with_too_few_positives_of_the_scored_label_does_not_set_the_largest_gap():
    """A view group of 12 patients with a single Edema-positive image has an Edema AUROC of 1.0 whenever that
    patient is drawn; it stays in the table but may not be one end of the largest gap."""
    rng = np.random.default_rng(3)
    n = 120
    frame = pd.DataFrame({"image_id": [f"i{i}" for i in range(n)], "patient_id": [f"p{i}" for i in range(n)]})
    edema = (np.arange(n) % 3 == 0).astype(float)
    frame["view_position"] = ["PA"] * 12 + ["AP"] * (n - 12)
    edema[:12] = 0.0
    edema[0] = 1.0  # the PA group's only positive, scored highest: a perfect AUROC there
    frame["true:Edema"] = edema
    frame["score:Edema"] = np.where(edema == 1, 0.6, 0.4) + rng.normal(0, 0.2, n)
    frame.loc[0, "score:Edema"] = 5.0
    analysis = paired_subgroups(frame, "auroc/Edema", n_resamples=50, seed=0, problem="multilabel")
    rows = analysis.rows.set_index("group")
    assert roc_auc_score(edema[:12], frame["score:Edema"][:12]) == rows.loc["PA", "value"] == 1.0
    assert analysis.gaps.empty  # only AP qualifies, so there is no pair
    assert analysis.settings["min_per_class_for_gap"] == 5
