"""Submissions that used to crash, hang, overwrite or mislead: each is refused with a typed error that names
the file or argument, says what is wrong, and leaves nothing written (issue 14)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark.cli import main
from benchmark.errors import ConfigError, SubmissionError
from benchmark.submission.metadata import load_submission
from benchmark.submission.scoring import PredictionSubmission, score_submission
from benchmark.tasks import TASKS
from benchmark.tasks.registry import load_task_file, tasks_dir
from benchmark.yaml_safe import load_bounded
from tests.submission.test_plugins import make_submission
from tests.submission.test_predictions import LABELS, filled, submit


@pytest.fixture
def tiny(tiny_covid_task, monkeypatch):
    """The generated 3-class task, registered as `tinycovid` for this test only."""
    task = dataclasses.replace(tiny_covid_task, name="tinycovid")
    monkeypatch.setitem(TASKS._items, "tinycovid", task)
    return task


def rejected_file(path: Path, results: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The error of submitting ``path``, after checking that nothing was recorded."""
    assert submit(path, results, root) == 2
    assert not results.exists()
    return capsys.readouterr().err


def alias_bomb(levels: int) -> str:
    """A "billion laughs": each level an anchor holding nine aliases of the one before (9**levels strings)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_template_never_overwrites_an_existing_file(tiny, tiny_covid_root, tmp_path, capsys):
    """Fault 6: `submit --template --out FILE` silently replaced a filled predictions file."""
    out = tmp_path / "predictions.csv"
    filled(tiny_covid_root).to_csv(out, index=False)
    before = out.read_bytes()
    options = ["--task", "tinycovid", "--data-root", str(tiny_covid_root), "--out", str(out)]
    assert main(["submit", "--template", *options]) == 2
    err = capsys.readouterr().err
    assert f"PredictionFileError: {out} already exists" in err and "--force" in err
    assert out.read_bytes() == before
    folder = tmp_path / "a-folder.csv"
    folder.mkdir()
    assert main(["submit", "--template", *options[:-1], str(folder), "--force"]) == 2
    assert f"{folder} is a folder, not a file" in capsys.readouterr().err
    assert main(["submit", "--template", *options, "--force"]) == 0  # asked for: replaced by an empty template
    assert pd.read_csv(out)[LABELS].isna().all().all()


def test_yaml_aliases_are_refused_at_once(tmp_path):
    """Fault 9: an alias bomb in submission.yaml took 56 s and 3.9 GB at 9 levels, MemoryError at 10."""
    folder = make_submission(tmp_path)
    metadata = folder / "submission.yaml"
    spec = metadata.read_text()
    metadata.write_text(spec + alias_bomb(10).replace("a0:", "description:", 1))
    started = time.perf_counter()
    with pytest.raises(SubmissionError) as caught:
        load_submission(folder)
    assert time.perf_counter() - started < 1.0
    assert f"{metadata}: not valid YAML" in str(caught.value) and "alias *a0 refused" in str(caught.value)
    task_file = tmp_path / "bomb.yaml"  # the task files are read the same way
    task_file.write_text((tasks_dir() / "covid3.yaml").read_text() + alias_bomb(10))
    with pytest.raises(ConfigError, match=f"{task_file}: not valid YAML: .*alias \\*a0 refused"):
        load_task_file(task_file)
    with pytest.raises(yaml.YAMLError, match="nested more than"):
        load_bounded("[" * 5000 + "]" * 5000)  # deep nesting: refused, not a RecursionError
    assert load_bounded("a: &x 1\nb: [2, {c: d}]\n") == {"a": 1, "b": [2, {"c": "d"}]}  # an anchor alone is fine


def test_a_null_image_id_is_named(tiny, tiny_covid_root, tmp_path, capsys):
    """Fault 10: a parquet null image_id crashed with AttributeError: 'float' object has no attribute 'strip'."""
    frame = filled(tiny_covid_root)
    frame["image_id"] = frame["image_id"].astype(object)
    frame.loc[[1, 4], "image_id"] = None
    path = tmp_path / "nulls.parquet"
    frame.to_parquet(path)
    err = rejected_file(path, tmp_path / "results", tiny_covid_root, capsys)
    assert "PredictionFileError" in err
    assert "row 2: image_id is missing (null)" in err and "row 5: image_id is missing (null)" in err
    assert "2 test id(s) have no row" in err


@pytest.mark.parametrize("name", ["x" * 300, "team|a", "team\na", "Team_A", "a"])
def test_prediction_names_follow_the_plugin_name_rule(name, tiny, tiny_covid_root, tmp_path, capsys):
    """Faults 11/14: a 300-character --name failed with OSError (File name too long) after creating the results
    folder; `|` and newlines broke `benchmark runs` and the Markdown export. Checked before anything is read."""
    path = tmp_path / "predictions.csv"
    filled(tiny_covid_root).to_csv(path, index=False)
    results = tmp_path / "results"
    assert submit(path, results, tiny_covid_root, name=name) == 2
    err = capsys.readouterr().err
    assert "SubmissionError: --name" in err and "must be 2-64 characters of a-z, 0-9, _ and -" in err
    assert len(err) < 600 and not results.exists()
    submission = PredictionSubmission(name=name, task=tiny, predictions=path, data_root=str(tiny_covid_root))
    with pytest.raises(SubmissionError, match="must be 2-64 characters"):
        score_submission(submission)  # the API refuses it too


def test_a_score_just_above_one_is_shown_as_it_is(tiny, tiny_covid_root, tmp_path, capsys):
    """Fault 15: `Covid = 1 is outside [0, 1]` for a score of 1.0000001."""
    frame = filled(tiny_covid_root)
    frame.loc[0, LABELS] = [1.0000001, 0.0, 0.0]
    path = tmp_path / "above.csv"
    frame.to_csv(path, index=False)
    err = rejected_file(path, tmp_path / "results", tiny_covid_root, capsys)
    assert "Covid = 1.0000001 is outside [0, 1]" in err


def test_a_path_that_is_not_a_file_says_what_it_is(tiny, tiny_covid_root, tmp_path, capsys):
    """Fault 15: `does not exist` for a folder or a device."""
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    device = tmp_path / "device.csv"
    device.symlink_to("/dev/null")
    for path, what in ((folder, "is a folder, not a file"), (device, "is not a regular file (a device, FIFO")):
        err = rejected_file(path, tmp_path / "results", tiny_covid_root, capsys)
        assert f"PredictionFileError: {path} {what}" in err and "does not exist" not in err
    missing = tmp_path / "missing.csv"
    assert f"{missing} does not exist" in rejected_file(missing, tmp_path / "results", tiny_covid_root, capsys)


def test_a_list_cell_is_not_a_number(tiny, tiny_covid_root, tmp_path, capsys):
    """Fault 15: `is NaN or empty` for a cell holding a list."""
    frame = filled(tiny_covid_root)
    frame["Covid"] = [[0.2, 0.3]] * len(frame)  # a list column (parquet stores no list beside numbers)
    path = tmp_path / "lists.parquet"
    frame.to_parquet(path)
    err = rejected_file(path, tmp_path / "results", tiny_covid_root, capsys)
    assert "row 3 (id " in err and "Covid is not a number (a ndarray: array([0.2, 0.3]))" in err
    assert "NaN or empty" not in err


def test_an_unquoted_digit_hash_is_explained(tmp_path):
    """Fault 15: `weights.sha256 0 must be ...` for an unquoted all-zero hash, which YAML reads as the integer 0."""
    folder = make_submission(tmp_path)
    (folder / "w.pt").write_bytes(b"weights")
    metadata = folder / "submission.yaml"
    metadata.write_text(metadata.read_text() + f"weights:\n  file: w.pt\n  sha256: {'0' * 64}\n")
    with pytest.raises(SubmissionError) as caught:
        load_submission(folder)
    message = str(caught.value)
    assert f"{metadata} does not validate" in message
    assert "weights.sha256 was read by YAML as the number 0" in message and "must be quoted" in message
