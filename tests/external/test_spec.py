"""External sets declared in task files: parsing, refusals at task load, and task hashes left unchanged."""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml

from benchmark.external.spec import ExternalSetError, external_set, external_sets
from benchmark.tasks import TASKS, task_from_dict
from tests.conftest import REPO

DECLARED = {
    "covid3": {"kermany_viral"},
    "pneumonia": {"covid3_test"},
    "nih14": {"chexpert_valid"},
    "chexpert3": {"nih14_test"},
    "pneumoniamnist": {"pneumonia"},
}


def _spec(name: str) -> dict:
    return yaml.safe_load((REPO / "tasks" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", sorted(TASKS.names()))
def test_task_hash_and_split_are_those_of_the_committed_task_file(name):
    """Declaring external sets changes no task hash: the committed file (before this feature) hashes alike."""
    committed = subprocess.run(
        ["git", "show", f"HEAD:tasks/{name}.yaml"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    old = yaml.safe_load(committed)
    old.pop("external", None)
    before = task_from_dict(old, f"HEAD:tasks/{name}.yaml")
    now = TASKS.get(name)
    assert now.task_hash == before.task_hash
    assert now.split_sha256 == before.split_sha256 and now.expected_counts == before.expected_counts
    assert set(external_sets(now)) == DECLARED.get(name, set())


def test_external_spec_hash_follows_the_declaration_not_its_prose():
    task = TASKS.get("covid3")
    spec = external_set(task, "kermany_viral")
    raw = copy.deepcopy(task.external)
    raw["kermany_viral"]["description"] = "other words"
    reworded = task_from_dict({**_spec("covid3"), "external": raw}, "test")
    assert external_set(reworded, "kermany_viral").spec_hash == spec.spec_hash
    raw["kermany_viral"]["label_map"]["PNEUMONIA bacterial"] = "Viral Pneumonia"
    remapped = task_from_dict({**_spec("covid3"), "external": raw}, "test")
    assert external_set(remapped, "kermany_viral").spec_hash != spec.spec_hash
    assert remapped.task_hash == task.task_hash


def test_declared_sets_parse_as_intended():
    covid = external_set(TASKS.get("covid3"), "kermany_viral")
    assert covid.source["kind"] == "kermany" and covid.official_split == "test"
    assert [rule.name for rule in covid.classes] == ["NORMAL", "PNEUMONIA viral", "PNEUMONIA bacterial"]
    assert covid.classes[1].name_contains == "_virus_" and covid.label_map["PNEUMONIA bacterial"] is None
    nih = external_set(TASKS.get("nih14"), "chexpert_valid")
    assert nih.label_map == {"Pleural Effusion": "Effusion", "Edema": "Edema", "Cardiomegaly": "Cardiomegaly"}
    assert nih.source_problem == "multilabel"
    chexpert = external_set(TASKS.get("chexpert3"), "nih14_test")
    assert len(chexpert.source_labels) == 15 and chexpert.label_map["Effusion"] == "Pleural Effusion"
    mnist = external_sets(TASKS.get("pneumoniamnist"))["pneumonia"]
    assert not mnist.scored and "same 624" in mnist.not_external


def _with_external(name: str, external: dict) -> dict:
    return {**_spec(name), "external": external}


def test_a_label_map_naming_an_unknown_label_is_refused_when_the_task_loads():
    raw = copy.deepcopy(TASKS.get("pneumonia").external)
    raw["covid3_test"]["label_map"]["Covid"] = "COVID"
    with pytest.raises(
        ExternalSetError,
        match=r"tasks/pneumonia.yaml: external.covid3_test.label_map maps 'Covid' "
        r"onto 'COVID', which is not a label of this task: use one of \['NORMAL', 'PNEUMONIA'\]",
    ):
        task_from_dict(_with_external("pneumonia", raw), "tasks/pneumonia.yaml")
    raw = copy.deepcopy(TASKS.get("nih14").external)
    raw["chexpert_valid"]["label_map"]["Edema"] = "Oedema"
    with pytest.raises(ExternalSetError, match="onto 'Oedema', which is not a label of this task"):
        task_from_dict(_with_external("nih14", raw), "tasks/nih14.yaml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("label_map"), r"missing keys \['label_map'\]"),
        (lambda s: s.update(color="red"), r"unknown keys \['color'\]"),
        (lambda s: s["source"].update(kind="dicom"), "source.kind must be one of"),
        (lambda s: s.pop("classes"), "a binary source needs `classes` rules"),
        (lambda s: s["label_map"].update(PNEUMONIA_fungal="Normal"), r"names classes \['PNEUMONIA_fungal'\]"),
        (lambda s: s.update(label_map={"NORMAL": None}), "leaves every class out"),
        (lambda s: s.update(not_external="same source"), "takes a non-empty reason and no other keys"),
    ],
)
def test_malformed_declarations_are_refused_naming_the_file_and_key(change, message):
    raw = copy.deepcopy(TASKS.get("covid3").external)
    change(raw["kermany_viral"])
    with pytest.raises(ExternalSetError, match=message) as caught:
        task_from_dict(_with_external("covid3", raw), "tasks/covid3.yaml")
    assert "tasks/covid3.yaml: external.kermany_viral" in str(caught.value)


def test_multilabel_maps_refuse_two_sources_on_one_label():
    raw = copy.deepcopy(TASKS.get("chexpert3").external)
    raw["nih14_test"]["label_map"]["Pleural_Thickening"] = "Pleural Effusion"
    with pytest.raises(ExternalSetError, match="maps two source labels onto one task label"):
        task_from_dict(_with_external("chexpert3", raw), "tasks/chexpert3.yaml")


def test_unknown_and_not_external_names_are_refused_with_the_tasks_sets():
    with pytest.raises(ExternalSetError, match=r"declares no external set 'kermany'; its external sets: kermany_viral"):
        external_set(TASKS.get("covid3"), "kermany")
    with pytest.raises(ExternalSetError, match=r"declares no external set 'x'; its external sets: \(none\)"):
        external_set(TASKS.get("lung3_64"), "x")
    with pytest.raises(ExternalSetError, match="declared not external for task pneumoniamnist: PneumoniaMNIST is"):
        external_set(TASKS.get("pneumoniamnist"), "pneumonia")
