"""Task files carry BibTeX for their dataset papers; BibTeX is prose and leaves task hashes alone."""

from __future__ import annotations

import dataclasses

import pytest
from pybtex.database import parse_string

from benchmark.tasks import TASKS

# Hashes of the task files before the `bibtex` field existed (main at 5c15396): results recorded
# then must stay comparable with results recorded now.
PINNED_HASHES = {
    "chestmnist": "762de2b689c82a8eea16173512b50ac01e39af2ca3946df061a2707fd4592ad1",
    "chexpert3": "823c1ce434d3df6df8b15113ca3e838e9309d57883ba313bbc853304e96c1a50",
    "covid3": "d4670553f21d0c7111d2502a4aacf23de233b4fe5b25d054ed8171172910e1f2",
    "lung3_64": "dffb806159db0b34c9958b6e2470f27c4f53e5950e54f77ac29dc19458f9c4ab",
    "nih14": "6ac8f4c2e572078a165c664e2730d1f618a2961042c0aa391152ef57ce862ed9",
    "pneumonia": "2ec7e7735cebdd1a718981d5b3fcef77a9d6f609dd8b97eb6f9a5448ac2dff5d",
    "pneumoniamnist": "3f6c926ffe7e3e0e81957d42ccd91ae0df4e18384219edc4be37c835d96fc78e",
}

DATASET_PAPERS = {
    "nih14": {"wang2017chestxray8"},
    "chexpert3": {"irvin2019chexpert"},
    "pneumonia": {"kermany2018identifying"},
    "covid3": {"raikokte2020covid19"},
    "pneumoniamnist": {"yang2023medmnist", "kermany2018identifying"},
    "chestmnist": {"yang2023medmnist", "wang2017chestxray8"},
    "lung3_64": {"wang2017chestxray8"},
}


@pytest.mark.parametrize("name", sorted(PINNED_HASHES))
def test_task_hash_is_unchanged_by_the_bibtex_field(name):
    task = TASKS.get(name)
    assert task.bibtex
    assert task.task_hash == PINNED_HASHES[name]
    assert dataclasses.replace(task, bibtex="").task_hash == task.task_hash


@pytest.mark.parametrize("name", sorted(DATASET_PAPERS))
def test_task_bibtex_parses_with_the_dataset_papers(name):
    entries = parse_string(TASKS.get(name).bibtex, "bibtex").entries
    assert set(entries) == DATASET_PAPERS[name]
    for entry in entries.values():
        assert entry.fields["title"] and entry.fields["year"] and entry.persons["author"]


def test_dataset_entries_state_where_they_were_published():
    wang = parse_string(TASKS.get("nih14").bibtex, "bibtex").entries["wang2017chestxray8"]
    assert wang.type == "inproceedings" and "CVPR" in wang.fields["booktitle"] and wang.fields["year"] == "2017"
    irvin = parse_string(TASKS.get("chexpert3").bibtex, "bibtex").entries["irvin2019chexpert"]
    assert "AAAI" in irvin.fields["booktitle"] and irvin.fields["year"] == "2019"
    kermany = parse_string(TASKS.get("pneumonia").bibtex, "bibtex").entries["kermany2018identifying"]
    assert kermany.fields["journal"] == "Cell" and kermany.fields["year"] == "2018"
    yang = parse_string(TASKS.get("pneumoniamnist").bibtex, "bibtex").entries["yang2023medmnist"]
    assert yang.fields["journal"] == "Scientific Data" and yang.fields["year"] == "2023"
    kaggle = parse_string(TASKS.get("covid3").bibtex, "bibtex").entries["raikokte2020covid19"]
    assert kaggle.type == "misc" and "kaggle.com" in kaggle.fields["url"]
