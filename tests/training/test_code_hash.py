"""The training code's hash: which files it covers, its value, and what it changes (run keys, entries)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from benchmark.results.entries import entry_key
from benchmark.training.code import TRAINING_FILES, training_code_hash, training_digests
from benchmark.training.runner import run_key
from tests.fixtures.runs.make import fixture_record, make_predictions, toy_task

REPO = Path(__file__).resolve().parents[2]
NOT_TRAINING = {"__init__.py", "code.py", "runner.py"}  # the package marker, this hash, the run orchestration


def test_every_training_module_is_covered():
    """A new module in benchmark/training/ changes training unless shown otherwise: it must be listed."""
    modules = {f"benchmark/training/{p.name}" for p in (REPO / "benchmark/training").glob("*.py")}
    expected = {m for m in modules if Path(m).name not in NOT_TRAINING}
    assert expected <= set(TRAINING_FILES)
    assert all((REPO / name).is_file() for name in TRAINING_FILES)


def test_hash_is_sha256_over_sorted_name_and_file_digest_lines():
    digests = {name: hashlib.sha256((REPO / name).read_bytes()).hexdigest() for name in TRAINING_FILES}
    lines = "".join(sorted(f"{name}\t{digest}\n" for name, digest in digests.items()))
    assert training_digests() == digests
    assert training_code_hash() == hashlib.sha256(lines.encode()).hexdigest()


def test_run_key_includes_the_training_code_and_keeps_older_keys():
    args = ("t" * 64, "m" * 64, {"lr": 0.001}, 0)
    legacy = hashlib.sha256(json.dumps(list(args), sort_keys=True).encode()).hexdigest()[:20]
    assert run_key(*args) == legacy  # predictions files and records from before the hash keep their keys
    assert run_key(*args, "a" * 64) != run_key(*args, "b" * 64) != legacy


def test_entries_split_by_training_code():
    y_true = np.array([[0], [1], [0], [1]])
    predictions = make_predictions(np.array(["p0", "p1", "p2", "p3"]), y_true, ("pneumonia",), y_true * 0.5 + 0.2)
    record = fixture_record("run0", predictions, toy_task(), "lotko_cnn", seed=0)
    assert record.training is not None
    with_code = dataclasses.replace(record, training=dataclasses.replace(record.training, code_hash="a" * 64))
    other_code = dataclasses.replace(record, training=dataclasses.replace(record.training, code_hash="b" * 64))
    assert entry_key(with_code) != entry_key(other_code)
    assert entry_key(record) not in {entry_key(with_code), entry_key(other_code)}
