"""`benchmark cite`: BibTeX that parses (CXR-Bench with version and commit, the dataset papers) and a
LaTeX methods paragraph stating the recorded protocol."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from pybtex.database import parse_string
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db
from pylatexenc.latexwalker import LatexWalker

from benchmark.cli import main
from benchmark.results.store import ResultsDir
from benchmark.tasks import TASKS
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import pinned_copy
from tests.fixtures.kermany.make import make_kermany_dataset

METHODS_HEADER = "% Methods paragraph (LaTeX)"


@pytest.fixture(scope="module")
def tiny_named(tiny_covid_task):
    return dataclasses.replace(tiny_covid_task, name="tinycovid")


@pytest.fixture(scope="module")
def two_seeds(tiny_named, tiny_covid_root, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    for seed in (0, 1):
        request = RunRequest(
            task=tiny_named,
            model="lotko_cnn",
            data_root=str(tiny_covid_root),
            seed=seed,
            overrides={"epochs": 1, "image_size": 32},
            results=results,
        )
        run_benchmark(request)
    return results


def _text(latex: str) -> str:
    """The paragraph as a reader sees it; parsing fails on malformed LaTeX."""
    LatexWalker(latex, tolerant_parsing=False).get_latex_nodes()
    context = get_default_latex_context_db()
    context.add_context_category("typewriter", prepend=True, macros=[MacroTextSpec("texttt", simplify_repl="%s")])
    return " ".join(LatexNodes2Text(latex_context=context).latex_to_text(latex).split())


def test_bibtex_parses_with_cxrbench_and_the_dataset_papers(tiny_named, two_seeds, monkeypatch, capsys):
    monkeypatch.setitem(TASKS._items, "tinycovid", tiny_named)
    run_id = ResultsDir(two_seeds).run_dirs()[0].name
    record = ResultsDir(two_seeds).load_record(run_id)
    assert main(["cite", run_id, "--results", str(two_seeds), "--bibtex"]) == 0
    entries = parse_string(capsys.readouterr().out, "bibtex").entries
    assert set(entries) == {"cxrbench", "raikokte2020covid19"}
    software = entries["cxrbench"]
    assert software.type == "software"
    assert software.fields["version"] == record.versions["cxr-benchmark"]
    assert record.git.commit and record.git.commit in software.fields["note"]
    assert software.fields["year"] == record.created_at[:4]
    assert entries["raikokte2020covid19"].type == "misc"


def test_methods_paragraph_states_the_protocol(tiny_named, two_seeds, monkeypatch, capsys):
    monkeypatch.setitem(TASKS._items, "tinycovid", tiny_named)
    run_id = ResultsDir(two_seeds).run_dirs()[1].name
    record = ResultsDir(two_seeds).load_record(run_id)
    assert main(["cite", run_id, "--results", str(two_seeds)]) == 0
    bibtex, paragraph = capsys.readouterr().out.split(METHODS_HEADER)
    assert set(parse_string(bibtex, "bibtex").entries) == {"cxrbench", "raikokte2020covid19"}
    assert "\\cite{cxrbench}" in paragraph and "\\cite{raikokte2020covid19}" in paragraph
    text = _text(paragraph)
    assert (
        f"task tinycovid (version 1; task hash {tiny_named.task_hash}; pinned split sha256 "
        f"{tiny_named.split_sha256})" in text
    )
    assert "Results are reported over 2 training seeds (0, 1); this run used seed 1." in text
    assert "95% confidence interval from a percentile bootstrap over test images (200 resamples, seed 0)" in text
    assert "Model comparisons use a paired bootstrap over patient clusters with Holm correction" in text
    assert f"Run {run_id}" in text and record.git.commit in text
    assert "lotko_cnn" in text and "the test split selected nothing" in text


def test_methods_paragraph_of_a_prediction_submission_on_a_patient_clustered_task(tmp_path, monkeypatch, capsys):
    root = make_kermany_dataset(tmp_path / "data")
    task = pinned_copy(TASKS.get("pneumonia"), root, expected_patients=None, bootstrap={"n_resamples": 100, "seed": 7})
    task = dataclasses.replace(task, name="tinypneumonia")
    monkeypatch.setitem(TASKS._items, "tinypneumonia", task)
    frame = task.load_data(root).frame
    for split in ("test", "val"):
        rows = frame.loc[frame["split"] == split, ["image_id", "PNEUMONIA"]]
        pd.DataFrame({"image_id": rows["image_id"], "PNEUMONIA": rows["PNEUMONIA"] * 0.6 + 0.2}).to_csv(
            tmp_path / f"{split}.csv", index=False
        )
    results = tmp_path / "results"
    options = ["--val-predictions", str(tmp_path / "val.csv"), "--data-root", str(root), "--results", str(results)]
    assert (
        main(["submit", "--predictions", str(tmp_path / "test.csv"), "--task", task.name, "--name", "xx", *options])
        == 0
    )
    (run_dir,) = ResultsDir(results).run_dirs()
    record = ResultsDir(results).load_record(run_dir.name)
    assert record.bootstrap.unit == "patient"  # the fixture's test set has patients with two images
    capsys.readouterr()
    assert main(["cite", run_dir.name, "--results", str(results), "--methods"]) == 0
    text = _text(capsys.readouterr().out)
    assert "percentile bootstrap over patients (all images of a drawn patient together) (100 resamples, seed 7)" in text
    assert "chosen on validation predictions only, by the rule target sensitivity" in text
    assert f"submitted as a predictions file (sha256 {record.submission.sha256})" in text
    assert "submission:xx" in text and "Results are from one training seed (0)." in text
