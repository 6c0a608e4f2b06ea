"""Verdicts: a published claim against our estimate and 95% CI, by hand-computed cases, with the printed
rounding taken into account, and every reason a claim is not comparable."""

from __future__ import annotations

import dataclasses
import math
import re
from types import SimpleNamespace

import pandas as pd
import pytest

from benchmark.errors import StatisticsError, TaskMismatchError
from benchmark.reference.ledger import Claim, load_ledger
from benchmark.reference.verdicts import OurEstimate, OurEvaluation, Verdict, compare_claim, metric_key, verdict
from benchmark.results.record import MetricCI

LEDGER = load_ledger()


def _claim(claim_id: str) -> Claim:
    return next(claim for claim in LEDGER.claims if claim.id == claim_id)


def _ours(task: str, image_size: int | None = None, **estimates: tuple[float, float, float]) -> OurEvaluation:
    """``estimates``: metric key (``/`` written ``__``) -> (value, ci_low, ci_high)."""
    return OurEvaluation(
        task,
        {key.replace("__", "/"): OurEstimate(*numbers) for key, numbers in estimates.items()},
        image_size=image_size,
        label="test",
    )


# ---------------------------------------------------------------- the rule, by hand


@pytest.mark.parametrize(
    ("claim_value", "low", "high", "expected"),
    [
        (0.91, 0.85, 0.92, "inside"),
        (0.95, 0.85, 0.92, "above"),
        (0.80, 0.85, 0.92, "below"),
        (0.92, 0.85, 0.92, "inside"),  # the CI's ends belong to it
        (0.85, 0.85, 0.92, "inside"),
        (0.9201, 0.85, 0.92, "above"),
    ],
)
def test_the_printed_value_against_the_ci(claim_value: float, low: float, high: float, expected: str) -> None:
    assert verdict(claim_value, 0.88, low, high) == expected


@pytest.mark.parametrize(
    ("claim_value", "low", "high", "half_unit", "plain", "rounded"),
    [
        # "0.91" stands for [0.905, 0.915]: a CI reaching 0.906 meets it; one ending at 0.9049 does not
        (0.91, 0.85, 0.906, 0.005, "above", "inside"),
        (0.91, 0.85, 0.905, 0.005, "above", "inside"),  # 0.91 - 0.005 = 0.905 exactly, whatever the float says
        (0.91, 0.80, 0.9049, 0.005, "above", "above"),
        # "0.84" stands for [0.835, 0.845]
        (0.84, 0.845, 0.95, 0.005, "below", "inside"),
        (0.84, 0.8451, 0.95, 0.005, "below", "below"),
        # "95%" (0.95, half unit 0.005) against a CI of [0.952, 0.99]
        (0.95, 0.952, 0.99, 0.005, "below", "inside"),
        # "0.7680": four printed digits leave almost no room
        (0.7680, 0.7681, 0.80, 0.00005, "below", "below"),
    ],
)
def test_the_printed_rounding_is_taken_into_account(
    claim_value: float, low: float, high: float, half_unit: float, plain: str, rounded: str
) -> None:
    assert verdict(claim_value, (low + high) / 2, low, high) == plain
    assert verdict(claim_value, (low + high) / 2, low, high, half_unit=half_unit) == rounded


@pytest.mark.parametrize(
    "arguments",
    [
        (math.nan, 0.5, 0.4, 0.6, 0.0),
        (0.5, 0.5, math.nan, 0.6, 0.0),
        (0.5, math.inf, 0.4, 0.6, 0.0),
        (0.5, 0.5, 0.7, 0.6, 0.0),  # low > high
        (0.5, 0.5, 0.4, 0.6, -0.005),
    ],
)
def test_verdict_refuses_numbers_it_cannot_compare(arguments: tuple[float, ...]) -> None:
    claim_value, estimate, low, high, half_unit = arguments
    with pytest.raises(StatisticsError, match="verdict needs"):
        verdict(claim_value, estimate, low, high, half_unit=half_unit)


# ---------------------------------------------------------------- claims of the ledger against an evaluation


def test_a_per_class_claim_gets_one_verdict_per_class_with_its_rounding() -> None:
    """matthews-cnn-precision: Covid "1.00", Normal "0.90", Viral Pneumonia "0.82" (same test images)."""
    ours = _ours(
        "covid3",
        image_size=256,
        precision__Covid=(0.95, 0.90, 0.99),  # 1.00 - 0.005 = 0.995 > 0.99: above
        precision__Normal=(0.80, 0.70, 0.95),  # inside
        **{"precision__Viral Pneumonia": (0.92, 0.85, 0.97)},  # 0.82 + 0.005 = 0.825 < 0.85: below
    )
    verdicts = compare_claim(_claim("matthews-cnn-precision"), ours)
    assert [(v.label, v.metric_key, v.outcome) for v in verdicts] == [
        ("Covid", "precision/Covid", "above"),
        ("Normal", "precision/Normal", "inside"),
        ("Viral Pneumonia", "precision/Viral Pneumonia", "below"),
    ]
    assert verdicts[0].estimate == 0.95 and (verdicts[0].ci_low, verdicts[0].ci_high) == (0.90, 0.99)
    assert all(v.comparable and v.reason is None and v.note is None for v in verdicts)


def test_a_binary_claim_maps_to_the_tasks_single_metric_key_and_notes_the_image_size() -> None:
    claim = _claim("medmnist-pneumoniamnist-resnet18_224-auroc")  # "0.956" at 224 px
    (result,) = compare_claim(claim, _ours("pneumoniamnist", image_size=28, auroc=(0.95, 0.93, 0.97)))
    assert (result.metric_key, result.outcome) == ("auroc", "inside")
    assert result.note == "published at 224 px, ours at 28 px"
    (above,) = compare_claim(claim, _ours("pneumoniamnist", image_size=224, auroc=(0.93, 0.91, 0.95)))
    assert (above.outcome, above.note) == ("above", None)  # 0.9555 > 0.95


def test_a_subset_mean_maps_to_its_subset_key() -> None:
    claim = _claim("guendel2018-dnetloc-mean-auroc")  # "0.807", same split
    assert metric_key(claim, None) == "auroc[findings14]"
    (result,) = compare_claim(claim, _ours("nih14", **{"auroc[findings14]": (0.78, 0.775, 0.785)}))
    assert result.outcome == "above"  # 0.8065 > 0.785
    assert metric_key(_claim("chexnet-auroc"), "Pneumonia") == "auroc/Pneumonia"


def test_a_claim_on_another_split_is_not_comparable_but_shows_our_estimate() -> None:
    claim = _claim("chexnet-auroc")
    ours = _ours("nih14", **{"auroc/Pneumonia": (0.70, 0.68, 0.72)})
    verdicts = {v.label: v for v in compare_claim(claim, ours)}
    pneumonia = verdicts["Pneumonia"]
    assert pneumonia.outcome == "not_comparable" and not pneumonia.comparable
    assert pneumonia.reason is not None and pneumonia.reason.startswith("different split")
    assert claim.reason in pneumonia.reason
    assert (pneumonia.estimate, pneumonia.ci_low, pneumonia.ci_high) == (0.70, 0.68, 0.72)
    assert verdicts["Edema"].estimate is None  # not in our evaluation: shown without ours


@pytest.mark.parametrize(
    ("claim_id", "ours", "reason"),
    [
        ("mohamed-efficientnet-roc-auc", {"auroc": (0.95, 0.93, 0.97)}, r"only a lower bound \(>0.9\)"),
        ("sandberg-densenet121-auc-range", {"auroc": (0.80, 0.75, 0.85)}, r"only a range \(0.73-0.87\)"),
        ("medmnist-chestmnist-resnet18_224-accuracy", {"auroc": (0.77, 0.76, 0.78)}, "has no accuracy"),
        ("medmnist-pneumoniamnist-resnet18_28-auroc", {"auroc": (math.nan, math.nan, math.nan)}, "undefined"),
    ],
)
def test_each_reason_a_comparable_tag_is_still_not_comparable(
    claim_id: str, ours: dict[str, tuple[float, float, float]], reason: str
) -> None:
    claim = dataclasses.replace(_claim(claim_id), comparability="same_test_images")  # only the value decides
    (result,) = compare_claim(claim, _ours(claim.task, **ours))
    assert result.outcome == "not_comparable"
    assert result.reason is not None
    assert re.search(reason, result.reason), result.reason


def test_a_claim_is_never_set_beside_another_tasks_evaluation() -> None:
    with pytest.raises(TaskMismatchError, match="claim 'matthews-cnn-accuracy' is on task 'covid3'"):
        compare_claim(_claim("matthews-cnn-accuracy"), _ours("lung3_64", accuracy=(0.9, 0.8, 0.95)))


# ---------------------------------------------------------------- our side: records and entries


def test_an_evaluation_from_a_run_record_reads_its_metric_cis() -> None:
    record = SimpleNamespace(
        run_id="r1",
        task=SimpleNamespace(name="covid3"),
        model=SimpleNamespace(input=SimpleNamespace(image_size=256)),
        metrics={"accuracy": MetricCI(value=0.88, ci_low=0.80, ci_high=0.94, n_degenerate=0)},
    )
    ours = OurEvaluation.from_record(record)
    assert (ours.task_name, ours.image_size, ours.label) == ("covid3", 256, "run r1")
    assert ours.estimates["accuracy"] == OurEstimate(0.88, 0.80, 0.94, 0)
    (result,) = compare_claim(_claim("matthews-cnn-accuracy"), ours)  # "0.91" in [0.80, 0.94]
    assert result.outcome == "inside"


def test_an_evaluation_from_an_entry_reads_standings_rows() -> None:
    row = pd.Series({"entry": "matthews_cnn", "estimate": 0.75, "ci_low": 0.70, "ci_high": 0.80, "n_degenerate": 0})
    ours = OurEvaluation.from_entry("covid3", {"accuracy": row, "f1": {"estimate": 0.7, "ci_low": 0.6, "ci_high": 0.8}})
    assert ours.estimates["accuracy"] == OurEstimate(0.75, 0.70, 0.80, 0)
    assert ours.estimates["f1"] == OurEstimate(0.7, 0.6, 0.8, None)
    (result,) = compare_claim(_claim("matthews-cnn-accuracy"), ours)  # 0.905 > 0.80
    assert result.outcome == "above"
    with pytest.raises(StatisticsError, match="neither a MetricCI nor a row"):
        OurEstimate.of({"value_only": 0.5})


def test_a_verdict_row_names_everything_the_board_shows() -> None:
    (result,) = compare_claim(_claim("matthews-ae-accuracy"), _ours("covid3", accuracy=(0.85, 0.77, 0.92)))
    assert isinstance(result, Verdict)
    assert result.as_row() == {
        "claim": "matthews-ae-accuracy",
        "source": "matthews_covid_cnn",
        "model": "CNN with an autoencoder (the report's first model)",
        "task": "covid3",
        "metric": "accuracy",
        "label": None,
        "published": "0.83",
        "estimate": 0.85,
        "ci_low": 0.77,
        "ci_high": 0.92,
        "verdict": "inside",
        "reason": None,
        "note": None,
    }
