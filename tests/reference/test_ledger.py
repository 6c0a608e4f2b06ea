"""The literature ledger: it loads from the package, every claim fits its task, every number read from a
seed report is in that report's text at its quote and column, and a malformed ledger is refused naming
the file and the entry."""

from __future__ import annotations

import copy
import re
import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml

import leaderboard
from benchmark.errors import ConfigError
from benchmark.reference.ledger import (
    COMPARABILITY_TAGS,
    Claim,
    Ledger,
    claims_for,
    default_ledger_path,
    load_ledger,
    parse_value,
)
from benchmark.tasks import TASKS

LEDGER = load_ledger()
SEED_CLAIMS = [claim for claim in LEDGER.claims if claim.report is not None]
CELL = re.compile(r"\d+(?:\.\d+)?|--|N/A")  # a table cell of a quote: a number, "--" or "N/A"


def _collapsed(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def seed_texts(shared_data: Path) -> dict[str, str]:
    """Seed report number -> its text with whitespace collapsed. A missing report is a failure."""
    folder = shared_data.parent / "seeds"
    texts = {}
    for number in sorted({claim.report for claim in SEED_CLAIMS if claim.report}):
        files = sorted(folder.glob(f"{number}_*.txt"))
        if len(files) != 1:
            pytest.fail(f"expected one seed report {number}_*.txt in {folder}, found {[f.name for f in files]}")
        texts[number] = _collapsed(files[0].read_text())
    return texts


def _by_id(claim_id: str) -> Claim:
    return next(claim for claim in LEDGER.claims if claim.id == claim_id)


def test_the_shipped_ledger_is_found_next_to_the_leaderboard_package() -> None:
    path = default_ledger_path()
    assert path == Path(leaderboard.__file__).resolve().parent / "literature.yaml"
    assert path.is_file()
    assert LEDGER.path == path and len(LEDGER.claims) >= 50 and len(LEDGER.sources) >= 10


def test_every_claim_is_on_a_registered_task_with_the_tasks_labels() -> None:
    for claim in LEDGER.claims:
        task = TASKS.get(claim.task)
        assert set(claim.per_label) <= set(task.labels), claim.id
        assert (claim.value is None) != (not claim.per_label), claim.id
        assert claim.comparability in COMPARABILITY_TAGS, claim.id
        assert claim.source in LEDGER.sources, claim.id
        assert claim.reason.strip(), claim.id


def test_claims_for_returns_only_the_tasks_claims_in_file_order() -> None:
    covid = claims_for("covid3", LEDGER)
    assert covid and all(claim.task == "covid3" for claim in covid)
    assert [c.id for c in covid] == [c.id for c in LEDGER.claims if c.task == "covid3"]
    assert claims_for("no_such_task", LEDGER) == ()


def test_every_seed_report_source_has_its_claims_checked() -> None:
    """A claim citing a seed report source must be read from that report (so the next test checks it)."""
    for claim in LEDGER.claims:
        if LEDGER.source_of(claim).seed_report is not None:
            assert claim.report == LEDGER.source_of(claim).seed_report, claim.id
    assert {claim.report for claim in SEED_CLAIMS} == {"001", "002", "003", "004"}


@pytest.mark.parametrize("claim", SEED_CLAIMS, ids=[claim.id for claim in SEED_CLAIMS])
def test_each_seed_report_value_is_printed_at_its_quote(claim: Claim, seed_texts: dict[str, str]) -> None:
    """The quote is in the report once, and the value is the quote's cell at ``position`` (or one of its
    cells): a value copied from the wrong row or column fails."""
    text = seed_texts[claim.report or ""]
    for label, published in claim.items():
        quote = claim.quote_for(label)
        assert quote is not None, f"{claim.id} {label}: no quote"
        assert text.count(_collapsed(quote)) == 1, f"{claim.id} {label}: quote {quote!r} is not in report once"
        cells = CELL.findall(quote)
        position = claim.position_for(label)
        if position is not None:
            assert len(published.numbers) == 1, claim.id
            assert cells[position - 1] == published.numbers[0], f"{claim.id} {label}: column {position} of {quote!r}"
        else:
            assert all(number in cells for number in published.numbers), f"{claim.id} {label}: {quote!r}"


def test_the_requested_literature_is_in_the_ledger() -> None:
    """The numbers the reference board must show: each seed report, MedMNIST's ResNet rows, the CheXpert
    paper, official-split NIH results and CheXNet."""
    ids = {claim.id for claim in LEDGER.claims}
    for model in ("ae", "cnn"):  # report 001, both models
        for metric in ("precision", "recall", "f1", "accuracy"):
            assert f"matthews-{model}-{metric}" in ids
    baselines = {_by_id("matthews-ae-f1").baseline, _by_id("matthews-cnn-f1").baseline}
    assert baselines == {"matthews_cnn_ae", "matthews_cnn"}
    assert {"dobariya-unet-residual-auroc", "wang2017-auroc-as-reprinted", "yao2017-auroc-as-reprinted"} <= ids
    assert len(_by_id("dobariya-unet-residual-auroc").per_label) == 15
    assert {c.report for c in LEDGER.claims if c.task == "pneumonia"} == {"002"}
    assert {c.report for c in LEDGER.claims if c.task == "chexpert3"} >= {"003"}
    for model in ("resnet18_28", "resnet18_224", "resnet50_28", "resnet50_224"):
        for metric in ("auroc", "accuracy"):
            assert f"medmnist-pneumoniamnist-{model}-{metric}" in ids
    for model in ("resnet18_224", "resnet50_224"):  # the (28) rows were not found in a readable source
        assert f"medmnist-chestmnist-{model}-auroc" in ids
    assert any(c.source == "irvin2019chexpert" and c.comparability == "same_split" for c in LEDGER.claims)
    official = {c.source for c in LEDGER.claims if c.task == "nih14" and c.comparability == "same_split"}
    assert official == {"guendel2018learning", "baltruschat2019comparison"}
    chexnet = _by_id("chexnet-auroc")
    assert chexnet.comparability == "different_split" and chexnet.per_label["Pneumonia"].text == "0.7680"
    assert _by_id("chexnet-mean-auroc").comparability == "different_split"


def test_chexnets_mean_is_the_mean_of_its_fourteen_printed_values() -> None:
    per_label = _by_id("chexnet-auroc").per_label
    assert set(per_label) == set(TASKS.get("nih14").macro_subsets["findings14"])
    mean = statistics.fmean(v.value for v in per_label.values())
    assert f"{mean:.3f}" == _by_id("chexnet-mean-auroc").value.text  # 11.7793 / 14 = 0.84138


@pytest.mark.parametrize(
    ("printed", "kind", "low", "high", "half_unit", "numbers"),
    [
        ("0.91", "exact", 0.91, 0.91, 0.005, ("0.91",)),
        ("1.00", "exact", 1.0, 1.0, 0.005, ("1.00",)),
        ("0.7680", "exact", 0.768, 0.768, 0.00005, ("0.7680",)),
        ("95%", "exact", 0.95, 0.95, 0.005, ("95",)),
        ("94.6%", "exact", 0.946, 0.946, 0.0005, ("94.6",)),
        (">95%", "lower_bound", 0.95, 1.0, 0.005, ("95",)),
        (">0.9", "lower_bound", 0.9, 1.0, 0.05, ("0.9",)),
        ("0.73-0.87", "range", 0.73, 0.87, 0.005, ("0.73", "0.87")),
    ],
)
def test_a_value_keeps_its_printed_precision(
    printed: str, kind: str, low: float, high: float, half_unit: float, numbers: tuple[str, ...]
) -> None:
    value = parse_value(printed, "here")
    assert (value.text, value.kind, value.numbers) == (printed, kind, numbers)
    assert value.low == pytest.approx(low) and value.high == pytest.approx(high)
    assert value.half_unit == pytest.approx(half_unit, rel=1e-12)


@pytest.mark.parametrize("printed", ["1.2", "120%", "abc", "0.9-0.8", "80%-0.9", "", True, None, [0.9]])
def test_a_value_that_is_not_a_printed_proportion_is_refused(printed: Any) -> None:
    with pytest.raises(ConfigError, match="here"):
        parse_value(printed, "here")


# ---------------------------------------------------------------- malformed ledgers


def _minimal() -> dict[str, Any]:
    """A valid one-source, one-claim ledger (a seed report claim, so quote rules apply)."""
    return {
        "sources": [
            {
                "key": "report",
                "title": "A report",
                "bibtex": "@misc{report, title = {A report}}",
                "where": "Table 1",
                "read_from": ["shared/seeds/001_x.txt"],
                "provenance": "seed_report",
                "seed_report": "001",
            }
        ],
        "claims": [
            {
                "id": "report-precision",
                "task": "covid3",
                "source": "report",
                "model": "a CNN",
                "baseline": "matthews_cnn",
                "metric": "precision",
                "values": {"Covid": "0.83", "Normal": "0.84"},
                "quote": "Covid 0.83 Normal 0.84",
                "test_set": "66 images",
                "split": "official",
                "image_size": 256,
                "comparability": "same_test_images",
                "reason": "the same images",
            }
        ],
    }


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "literature.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _claim_with(**changes: Any) -> dict[str, Any]:
    data = _minimal()
    claim = data["claims"][0]
    for key, value in changes.items():
        if value is _DELETE:
            del claim[key]
        else:
            claim[key] = value
    return data


_DELETE = object()


def test_the_minimal_ledger_is_valid(tmp_path: Path) -> None:
    ledger = load_ledger(_write(tmp_path, _minimal()))
    assert isinstance(ledger, Ledger) and [c.id for c in ledger.claims] == ["report-precision"]
    assert ledger.claims[0].report == "001"  # inherited from the source


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "covid4"}, "task 'covid4' is not a registered task"),
        ({"comparability": "similar"}, "comparability 'similar' is not one of"),
        ({"values": {"Covid": "0.83", "COVID-19": "0.84"}}, r"labels \['COVID-19'\] are not the task's labels"),
        ({"reason": _DELETE}, r"missing \['reason'\]"),
        ({"comparabilty": "same_split"}, r"unknown \['comparabilty'\]"),
        ({"reason": ""}, "field 'reason' is empty"),
        ({"source": "nowhere"}, "source 'nowhere' is not in the ledger's sources"),
        ({"metric": "auc"}, "metric 'auc' is not one of ours"),
        ({"metric": "auroc[findings14]", "values": "0.8"}, "names a label subset the task does not have"),
        ({"baseline": "matthews_cnn_v2"}, "baseline 'matthews_cnn_v2' is not a registered baseline"),
        ({"quote": _DELETE}, "needs the quote its numbers are in"),
        ({"values": {"Covid": "1.3"}}, r"1.3 is not a proportion"),
        ({"values": {"Covid": 0.83}}, None),  # a float is accepted (its printed precision is its repr)
        ({"position": 0}, "a column number from 1"),
        ({"position": {"Covid": 1}}, "must name exactly the labels of values"),
        ({"image_size": "224px"}, "image_size must be a side in pixels"),
    ],
)
def test_a_malformed_claim_is_refused_naming_the_file_and_the_claim(
    tmp_path: Path, changes: dict[str, Any], message: str | None
) -> None:
    path = _write(tmp_path, _claim_with(**changes))
    before = path.read_bytes()
    if message is None:
        load_ledger(path)
        return
    with pytest.raises(ConfigError, match=message) as caught:
        load_ledger(path)
    assert str(path) in str(caught.value) and "claims[0] (report-precision)" in str(caught.value)
    assert path.read_bytes() == before  # loading never writes


def test_a_duplicate_claim_id_is_refused(tmp_path: Path) -> None:
    data = _minimal()
    data["claims"].append(copy.deepcopy(data["claims"][0]))
    path = _write(tmp_path, data)
    duplicate = r"claims\[1\] \(report-precision\): id 'report-precision' is used by another claim"
    with pytest.raises(ConfigError, match=duplicate):
        load_ledger(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"provenance": "hearsay"}, "provenance 'hearsay' is not one of"),
        ({"seed_report": "1"}, 'seed_report "NNN"'),
        ({"read_from": []}, "read_from must list where the numbers were read"),
        ({"bibtex": _DELETE}, r"missing \['bibtex'\]"),
    ],
)
def test_a_malformed_source_is_refused_naming_the_file_and_the_source(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    data = _minimal()
    for key, value in changes.items():
        if value is _DELETE:
            del data["sources"][0][key]
        else:
            data["sources"][0][key] = value
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match=message) as caught:
        load_ledger(path)
    assert str(path) in str(caught.value) and "sources[0] (report)" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources: [\n", "is not valid YAML"),
        ("a: &x [1]\nb: *x\n", "is not valid YAML"),  # aliases refused, as for task files
        ("- 1\n- 2\n", "must be a mapping with exactly the keys 'sources' and 'claims'"),
        ("sources: []\nclaims: []\nextra: 1\n", "must be a mapping with exactly the keys"),
    ],
)
def test_an_unreadable_ledger_is_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "literature.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_ledger(path)
    assert str(path) in str(caught.value)


def test_a_missing_ledger_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match="cannot be read") as caught:
        load_ledger(path)
    assert str(path) in str(caught.value) and not path.exists()
