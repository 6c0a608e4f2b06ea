"""The reference plan: the shipped file lists the board the issue asks for, and a malformed plan is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.errors import ConfigError, UnknownNameError
from benchmark.reference.plan import default_plan_path, load_plan

RANKED = {  # task -> models with seeds 0, 1, 2 on the reference board
    "covid3": {"lotko_cnn", "matthews_cnn", "matthews_cnn_ae", "custom_cnn", "efficientnet_b0", "densenet121"},
    "lung3_64": {"lotko_cnn", "resnet18"},
    "pneumoniamnist": {"resnet18"},
    "pneumonia": {"efficientnet_b0", "lotko_cnn"},
}
COSTLY_COVID3 = {"resnet18", "resnet50", "inception_v3", "unet_residual", "vgg16"}


def test_the_shipped_plan_holds_every_reference_entry():
    plan = load_plan()
    assert plan.path == default_plan_path() and plan.results == default_plan_path().parent / "reference"
    runs = {(task, model, seed) for task, model, seed, _ in plan.runs()}
    for task, models in RANKED.items():
        assert {(task, m, s) for m in models for s in (0, 1, 2)} <= runs, task
    assert {("covid3", m, 0) for m in COSTLY_COVID3} <= runs
    assert {"chexpert3", "nih14"} <= set(plan.tasks)  # listed for a GPU cluster
    assert len(runs) == len(plan.runs())  # each run once


def test_runs_follow_the_plan_order_and_narrow_to_tasks():
    plan = load_plan()
    order = [(task, model, seed) for task, model, seed, _ in plan.runs()]
    assert order[0] == ("lung3_64", "lotko_cnn", 0)  # cheapest first
    assert order.index(("covid3", "resnet50", 0)) < order.index(("covid3", "resnet50", 1))
    assert {task for task, *_ in plan.runs(["covid3"])} == {"covid3"}


def _write(tmp_path: Path, entries: list, results: str = "board") -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(json.dumps({"results": results, "entries": entries}))
    return path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"task": "covid3", "models": ["lotko_cnn"]}, "needs task, models and seeds"),
        ({"task": "covid3", "models": ["lotko_cnn"], "seeds": [0], "seed": 1}, "unknown key(s) ['seed']"),
        ({"task": "covid3", "models": [], "seeds": [0]}, "models must be a non-empty list"),
        ({"task": "covid3", "models": ["lotko_cnn"], "seeds": [-1]}, "seeds must be a non-empty list of non-neg"),
        ({"task": "covid3", "models": ["lotko_cnn"], "seeds": [0], "overrides": {"lr": -1}}, "lr"),
        ({"task": "covid3", "models": ["lotko_cnn"], "seeds": [0], "overrides": {"nope": 1}}, "nope"),
    ],
)
def test_a_malformed_entry_is_named(tmp_path, entry, message):
    path = _write(tmp_path, [{"task": "covid3", "models": ["lotko_cnn"], "seeds": [0]}, entry])
    with pytest.raises(ConfigError) as error:
        load_plan(path)
    assert message in str(error.value)
    assert f"{path}: entry 2" in str(error.value)


def test_unknown_names_and_unreadable_files(tmp_path):
    with pytest.raises(UnknownNameError, match="no_such_model"):
        load_plan(_write(tmp_path, [{"task": "covid3", "models": ["no_such_model"], "seeds": [0]}]))
    with pytest.raises(UnknownNameError, match="no_such_task"):
        load_plan(_write(tmp_path, [{"task": "no_such_task", "models": ["lotko_cnn"], "seeds": [0]}]))
    with pytest.raises(ConfigError, match="cannot be read"):
        load_plan(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("entries: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_plan(tmp_path / "bad.yaml")
    (tmp_path / "alias.yaml").write_text("results: r\nentries: &a [*a]\n")
    with pytest.raises(ConfigError, match="alias"):
        load_plan(tmp_path / "alias.yaml")


def test_the_shipped_plan_audits_covid3_and_lung3_64_on_planned_runs():
    plan = load_plan()
    audits = {(audit.task, audit.model): audit.seeds for audit in plan.audits}
    assert audits == {("covid3", "lotko_cnn"): (0, 1, 2), ("lung3_64", "lotko_cnn"): (0, 1, 2)}
    runs = {(task, model, seed) for task, model, seed, _ in plan.runs()}
    for (task, model), seeds in audits.items():  # the audit's normal runs are the board's own
        assert {(task, model, seed) for seed in seeds} <= runs


@pytest.mark.parametrize(
    ("audit", "message"),
    [
        ({"task": "covid3", "model": "lotko_cnn"}, "needs exactly task, model and seeds"),
        ({"task": "covid3", "model": "lotko_cnn", "seeds": [0], "models": ["x"]}, "needs exactly task, model"),
        ({"task": "covid3", "model": "lotko_cnn", "seeds": []}, "seeds must be a non-empty list"),
        ("covid3", "got str"),
    ],
)
def test_a_malformed_audit_is_named(tmp_path, audit, message):
    path = tmp_path / "plan.yaml"
    entries = [{"task": "covid3", "models": ["lotko_cnn"], "seeds": [0]}]
    path.write_text(json.dumps({"results": "board", "entries": entries, "audits": [audit]}))
    with pytest.raises(ConfigError) as error:
        load_plan(path)
    assert message in str(error.value) and f"{path}: audit 1" in str(error.value)
    unknown = {"task": "covid3", "model": "no_such_model", "seeds": [0]}
    path.write_text(json.dumps({"results": "board", "entries": entries, "audits": [unknown]}))
    with pytest.raises(UnknownNameError, match="no_such_model"):
        load_plan(path)
