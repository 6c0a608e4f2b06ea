"""The Streamlit leaderboard, driven with Streamlit's AppTest on generated run folders: every page renders,
the displayed ranking is benchmark.results.standings', filters and the task-hash selector change the table,
figures carry independently computed numbers, odd or empty folders get a message, nothing is written."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io
import pytest
from sklearn.metrics import confusion_matrix, roc_auc_score
from streamlit.testing.v1 import AppTest

from benchmark.results.standings import task_standings
from benchmark.results.store import PREDICTIONS_FILE, ResultsDir
from leaderboard import data, gallery
from tests.conftest import REPO
from tests.fixtures.runs.make import ToyModel, toy_task, write_saliency_cache, write_task_runs
from tests.results.test_store_read_only import folder_state

APP = REPO / "leaderboard" / "app.py"
TOY, OLD, OTHER = "a" * 64, "e" * 64, "d" * 64
TOY_MODELS = (
    ToyModel("strong_net", 1.8, family="resnet", image_size=224, parameters=11_000_000),
    ToyModel("weak_cnn", 0.3, family="cnn", image_size=64),
    ToyModel("team_x", 1.2, family="toy", image_size=64, origin="submission"),
    ToyModel("solo", 1.0, seeds=(0,)),
)
PAGES = ("views/ranking.py", "views/plots.py", "views/run.py", "views/gallery.py")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Task toy at two task hashes (the older one with its own model), task other (multiclass), task
    lonely (one single-seed entry: nothing ranked), and saliency caches: with expert boxes (other), without (toy)."""
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(11)
    write_task_runs(root, toy_task(task_hash=OLD), [ToyModel("old_net", 1.0)], 40, rng, hour=0)
    toy_ids = write_task_runs(root, toy_task(task_hash=TOY), TOY_MODELS, 60, rng, hour=100)
    other = toy_task("multiclass", ("covid", "normal", "viral"), OTHER, name="other")
    other_ids = write_task_runs(root, other, [ToyModel("m_good", 1.5), ToyModel("m_poor", 0.4)], 50, rng, hour=200)
    write_task_runs(root, toy_task(task_hash="c" * 64, name="lonely"), [ToyModel("one_seed", 1.0, seeds=(0,))], 30, rng)
    write_saliency_cache(root, other_ids[0], rng, n_images=4)
    write_saliency_cache(root, toy_ids[0], rng, n_images=2, boxed=False)
    return root


def app(root: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None, **query: str) -> AppTest:
    """The app on ``root`` (as `benchmark leaderboard --results ROOT` passes it), run once, on ``page``."""
    monkeypatch.setenv(data.RESULTS_ENV, str(root))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update(query)
    at.run()
    if page is not None:
        at.switch_page(page)
        at.query_params.update(query)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame(at: AppTest, position: int = 0) -> pd.DataFrame:
    """The page's ``position``-th table (AppTest does not report a dataframe's key)."""
    return at.dataframe[position].value


def chart(at: AppTest, position: int = 0) -> go.Figure:
    """The page's ``position``-th plotly chart as a figure (decoded from the JSON the browser gets)."""
    return plotly.io.from_json(at.get("plotly_chart")[position].proto.spec, skip_invalid=True)


def typed_array(value: object) -> np.ndarray:
    """A plotly array as sent to the browser: a list, or a base64 typed array ({dtype, bdata, shape})."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(n) for n in str(value.get("shape", len(flat))).split(",")])
    return np.asarray(value)


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


@pytest.mark.parametrize("task", ["toy", "lonely"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(results, monkeypatch, page, task):
    at = app(results, monkeypatch, page, task=task)
    assert not at.error, [e.value for e in at.error]
    assert at.title


def test_a_task_with_nothing_ranked_lists_its_entries_apart(results, monkeypatch):
    at = app(results, monkeypatch, task="lonely")
    assert "nothing is ranked" in at.info[0].value
    assert frame(at)["model"].tolist() == ["one_seed"] and "top group" not in frame(at).columns
    at = app(results, monkeypatch, "views/plots.py", task="lonely")
    assert "at least two ranked entries" in at.info[0].value


def test_ranked_table_is_the_standings_table(results, monkeypatch):
    at = app(results, monkeypatch, task="toy")
    expected = task_standings(results, "toy", TOY)  # the table `benchmark export` writes, same defaults
    ranked, unranked = frame(at), frame(at, 1)
    assert ranked["model"].tolist() == expected.ranked["entry"].tolist() == ["strong_net", "team_x", "weak_cnn"]
    assert ranked["rank"].tolist() == ["1", "2", "3"]
    assert ranked["top group"].tolist() == ["*" if t else "" for t in expected.ranked["top_group"]]
    estimate = expected.ranked.iloc[0]
    assert ranked.iloc[0, 4] == f"{estimate['estimate']:.4f} [{estimate['ci_low']:.4f}, {estimate['ci_high']:.4f}]"
    assert ranked["seeds"].tolist() == ["3", "3", "3"]
    assert ranked["origin"].tolist() == ["baseline", "submission", "baseline"]
    assert ranked["parameters"].iloc[0] == 11_000_000 and ranked["input px"].tolist() == [224, 64, 64]
    assert ranked["run"].iloc[0] == f"run?run={expected.ranked['run_ids'].iloc[0][0]}"
    assert unranked["model"].tolist() == ["solo"] and unranked["seeds"].tolist() == ["1"]
    text = markdown(at)
    assert f"task hash `{TOY[:12]}`" in text and "split sha256 `" + "b" * 64 in text and "v1" in text
    assert "1 other version(s) of toy" in captions(at)
    # every run of an entry is one click away
    links = {link.proto.query_string for link in at.page_link}
    assert links >= {f"run={r}" for r in expected.ranked["run_ids"].iloc[0]}


@pytest.mark.parametrize(
    ("label", "choice", "shown"),
    [
        ("Model family", ["cnn"], ["weak_cnn"]),
        ("Origin", ["submission"], ["team_x"]),
        ("Input size (px)", [224], ["strong_net"]),
        ("Model family", ["cnn", "resnet"], ["strong_net", "weak_cnn"]),
    ],
)
def test_filters_change_the_table_but_not_the_ranking(results, monkeypatch, label, choice, shown):
    at = app(results, monkeypatch, task="toy")
    full = frame(at)
    next(m for m in at.sidebar.multiselect if m.label == label).set_value(choice).run()
    assert not at.exception
    filtered = frame(at)
    assert filtered["model"].tolist() == shown
    ranks = dict(zip(full["model"], full["rank"], strict=True))
    assert filtered["rank"].tolist() == [ranks[m] for m in shown]  # ranks as computed on all entries
    assert f"the filters hide {3 - len(shown)} of them" in captions(at)


def test_task_and_task_hash_selectors_never_mix_hashes(results, monkeypatch):
    at = app(results, monkeypatch, task="toy")
    hashes = at.sidebar.selectbox(key="hash_toy")
    assert hashes.value == TOY and hashes.options == [f"v1 · {TOY[:12]} · 10 runs", f"v1 · {OLD[:12]} · 3 runs"]
    assert at.query_params["hash"] == TOY
    hashes.set_value(OLD).run()
    assert frame(at)["model"].tolist() == ["old_net"]
    assert f"task hash `{OLD[:12]}`" in markdown(at) and len(at.dataframe) == 2  # ranked + trivial, no unranked
    assert "class prior" in at.dataframe[1].value.astype(str).to_numpy().ravel().tolist()  # the trivial entries
    assert at.query_params["hash"] == OLD

    at.sidebar.selectbox(key="task").set_value("other").run()
    assert frame(at)["model"].tolist() == ["m_good", "m_poor"]
    assert [s.key for s in at.sidebar.selectbox] == ["task"]  # one hash: nothing to choose
    assert at.query_params["task"] == "other"


def test_plots_carry_independently_computed_numbers(results, monkeypatch):
    at = app(results, monkeypatch, "views/plots.py", task="toy")
    standings = task_standings(results, "toy", TOY)
    estimates = dict(zip(standings.ranked["entry"], standings.ranked["estimate"], strict=True))

    # Differences against the chosen reference: model - reference
    at.selectbox(key="reference").set_value("team_x").run()
    forest = chart(at).data[0]
    for model, diff in zip(forest.y, typed_array(forest.x), strict=True):
        assert diff == pytest.approx(estimates[model] - estimates["team_x"])
    assert sorted(forest.y) == ["strong_net", "weak_cnn"]

    # ROC curves: the legend's AUC is scikit-learn's on the seed-averaged scores
    at.radio(key="plot").set_value("ROC curves").run()
    assert not at.exception
    at.multiselect(key="curve_entries").set_value(["weak_cnn"]).run()
    line = next(t for t in chart(at).data if (t.name or "").startswith("weak_cnn"))
    run_ids = standings.ranked.set_index("entry").loc["weak_cnn", "run_ids"]
    predictions = [pd.read_parquet(results / r / PREDICTIONS_FILE) for r in run_ids]
    mean_score = np.mean([p["score:pneumonia"] for p in predictions], axis=0)
    auc = roc_auc_score(predictions[0]["true:pneumonia"], mean_score)
    assert line.name == f"weak_cnn (AUC {auc:.3f})"

    for plot in ("Calibration", "AUROC per label", "Confusion matrix"):
        at.radio(key="plot").set_value(plot).run()
        assert not at.exception and not at.error
    assert "no confusion matrix" in at.info[0].value  # a binary task's records have none


def test_first_view_draws_no_chart_and_links_to_the_per_label_auroc(results, monkeypatch):
    """The ranking page (the board's first view) holds no plotly chart; its link opens the Plots page on the
    per-label AUROC heatmap, whose cells are scikit-learn's AUROC per label, averaged over each entry's seeds."""
    at = app(results, monkeypatch, task="other")
    assert not at.get("plotly_chart")
    link = next(link for link in at.page_link if "plot=" in link.proto.query_string)
    assert "AUROC per label" in link.proto.label and "Plots page" in captions(at)
    assert "plot=AUROC+per+label" in link.proto.query_string and "task=other" in link.proto.query_string

    at = app(results, monkeypatch, "views/plots.py", task="other", plot="AUROC per label")
    assert at.radio(key="plot").value == "AUROC per label" and at.query_params["plot"] == "AUROC per label"
    heatmap = chart(at).data[0]
    standings = task_standings(results, "other", OTHER)
    for entry, row in zip(heatmap.y, typed_array(heatmap.z), strict=True):
        run_ids = standings.entries.set_index("entry").loc[entry, "run_ids"]
        frames = [pd.read_parquet(results / r / PREDICTIONS_FILE) for r in run_ids]
        expected = [np.mean([roc_auc_score(f[f"true:{c}"], f[f"score:{c}"]) for f in frames]) for c in heatmap.x]
        assert row == pytest.approx(expected)
    assert sorted(heatmap.y) == ["m_good", "m_poor"] and list(heatmap.x) == ["covid", "normal", "viral"]


def test_confusion_matrix_is_the_recorded_one(results, monkeypatch):
    at = app(results, monkeypatch, "views/plots.py", task="other")
    at.radio(key="plot").set_value("Confusion matrix").run()
    run_id = at.selectbox(key="confusion_run").value[2]
    heatmap = chart(at).data[0]
    predictions = pd.read_parquet(results / run_id / PREDICTIONS_FILE)
    truth = predictions[["true:covid", "true:normal", "true:viral"]].to_numpy().argmax(1)
    predicted = predictions[["score:covid", "score:normal", "score:viral"]].to_numpy().argmax(1)
    assert typed_array(heatmap.z).tolist() == confusion_matrix(truth, predicted).tolist()


def test_run_page_shows_the_record_its_citation_and_predictions(results, monkeypatch):
    run_id = task_standings(results, "other", OTHER).ranked["run_ids"].iloc[0][1]
    at = app(results, monkeypatch, "views/run.py", run=run_id)
    assert at.title[0].value == f"Run {run_id}"
    record = ResultsDir(results).load_record(run_id)
    metrics = frame(at).set_index("metric")
    assert metrics.loc["auroc/normal", "value"] == pytest.approx(record.metrics["auroc/normal"].value)
    bibtex, methods = (c.value for c in at.code)
    assert "@software{cxrbench" in bibtex
    assert "other" in methods and OTHER in methods and "3 training seeds" in methods
    assert at.get("download_button")[0].proto.label == "Download predictions.parquet"
    assert json.loads(at.json[0].proto.body)["run_id"] == run_id
    assert data.predictions_bytes(str(results), run_id) == (results / run_id / PREDICTIONS_FILE).read_bytes()


@pytest.mark.parametrize("asked", ["../elsewhere", "/etc", "nope", "20250101T000000Z-other-m_good-s0/../.."])
def test_run_page_refuses_paths_and_unknown_ids(results, monkeypatch, asked):
    at = app(results, monkeypatch, "views/run.py", run=asked)
    assert "Could not open run" in at.error[0].value and not at.json


def test_a_run_linked_to_outside_the_root_is_not_served(results, tmp_path, monkeypatch):
    root = tmp_path / "results"
    shutil.copytree(results, root)
    victim = next(p for p in root.iterdir() if p.is_dir())
    outside = tmp_path / "outside"
    shutil.move(str(victim), outside)
    os.symlink(outside, root / victim.name)
    at = app(root, monkeypatch, "views/run.py", run=victim.name)
    assert "outside the results root" in at.error[0].value
    with pytest.raises(Exception, match="outside the results root"):
        data.predictions_bytes(str(root), victim.name)


def test_gallery_shows_the_cached_maps_and_scores(results, monkeypatch):
    run_id = next(r for r in gallery.runs_with_saliency(results) if "-other-" in r)
    index = json.loads((results / run_id / "saliency" / "index.json").read_text())
    at = app(results, monkeypatch, "views/gallery.py", run=run_id)
    assert at.selectbox(key="gallery_run").value == run_id
    assert at.selectbox(key="method").options == ["gradcam", "occlusion"]
    expected = [e for e in index["entries"] if e["method"] == "gradcam"]
    captions_shown = [c for image in at.image for c in image.captions]
    assert len(captions_shown) == len(expected)
    hits = sum(1 for c in captions_shown if " · hit, IoU " in c)
    assert hits == sum(1 for e in expected if e.get("hit") is True)

    at.multiselect(key="classes").set_value(["normal"]).run()
    shown = sum(len(image.captions) for image in at.image)
    assert shown == sum(1 for e in expected if e["class"] == "normal") and shown > 0

    scores = frame(at)
    assert sorted(zip(scores["method"], scores["finding"], strict=True)) == sorted(
        (s["method"], s["finding"]) for s in index["scores"]
    )

    other = next(r for r in gallery.runs_with_saliency(results) if "-toy-" in r)
    at.selectbox(key="gallery_run").set_value(other).run()
    assert not at.exception and "No expert boxes for toy" in captions(at)


@pytest.mark.parametrize("folder", ["missing", "empty", "odd"])
def test_empty_or_odd_results_folder_gets_a_message_on_every_page(tmp_path, monkeypatch, folder):
    root = tmp_path / "results"
    if folder != "missing":
        root.mkdir()
    if folder == "odd":  # a stray file, a folder without a record, and a run whose record is damaged
        (root / "notes.txt").write_text("hello")
        (root / "not-a-run").mkdir()
        (root / "broken-run").mkdir()
        (root / "broken-run" / "record.json").write_text("{ not json")
    for page in PAGES:
        at = app(root, monkeypatch, page)
        messages = [m.value for m in (*at.info, *at.error)]
        assert messages, page
        if folder == "odd":
            assert any("broken-run" in m and "not a readable run record" in m for m in messages)
        else:
            assert any("benchmark run" in m for m in messages)


def test_the_app_writes_nothing_in_the_results_folder(results, tmp_path, monkeypatch):
    root = tmp_path / "results"
    shutil.copytree(results, root)
    (root / "index.sqlite3").unlink()  # missing index: the app must read the records, not rebuild it
    before = folder_state(root)
    run_id = next(r for r in os.listdir(root) if "-other-" in r)
    for page, query in [
        ("views/ranking.py", {"task": "toy"}),
        ("views/plots.py", {"task": "other"}),
        ("views/run.py", {"run": run_id}),
        ("views/gallery.py", {}),
    ]:
        at = app(root, monkeypatch, page, **query)
        if page == "views/plots.py":
            for plot in ("ROC curves", "Calibration", "Confusion matrix"):
                at.radio(key="plot").set_value(plot).run()
        if page == "views/run.py":
            assert data.predictions_bytes(str(root), run_id)
    assert folder_state(root) == before


def test_fingerprint_changes_when_a_run_is_added(results, tmp_path):
    root = tmp_path / "results"
    shutil.copytree(results, root)
    before = data.fingerprint(root)
    assert data.fingerprint(root) == before
    write_task_runs(root, toy_task(task_hash=TOY), [ToyModel("late", 1.0, seeds=(5,))], 60, np.random.default_rng(0))
    assert data.fingerprint(root) != before
    assert data.fingerprint(tmp_path / "absent") == (0,)


def test_results_root_comes_from_the_arguments_then_the_environment():
    assert data.parse_root(["--results", "/x/runs"], {data.RESULTS_ENV: "/y"}) == Path("/x/runs")
    assert data.parse_root([], {data.RESULTS_ENV: "/y"}) == Path("/y")
    assert data.parse_root([], {}) == Path("results").absolute()
    assert re.fullmatch(r".*/results", str(data.parse_root(["--other", "1"], {})))


def test_leaderboard_command_serves_the_installed_app_headless_on_localhost(tmp_path):
    import subprocess
    import sys

    from benchmark.cli import _parser
    from benchmark.commands.leaderboard import streamlit_command

    args = _parser().parse_args(["leaderboard", "--results", str(tmp_path)])
    assert (args.port, args.address) == (8501, "127.0.0.1")
    command = streamlit_command(args.results, 8600, args.address)
    assert command[:5] == [sys.executable, "-m", "leaderboard.serve", "run", str(APP)]  # streamlit's CLI, preloaded
    split = command.index("--")
    options = dict(zip(command[5:split:2], command[6:split:2], strict=True))
    assert options["--server.headless"] == "true" and options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8600" and options["--browser.gatherUsageStats"] == "false"
    assert command[split:] == ["--", "--results", str(tmp_path)]
    # registering the subcommand imports nothing heavy
    probe = "import sys, benchmark.cli; print(sorted({'streamlit', 'torch', 'plotly'} & set(sys.modules)))"
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"


def test_the_app_imports_no_model_or_submission_code(results):
    """Every page of a fresh process, then the modules it loaded: no model, training or submission code."""
    import subprocess
    import sys

    run_id = next(r for r in os.listdir(results) if "-other-" in r)
    script = f"""
import os, sys
from streamlit.testing.v1 import AppTest
os.environ[{data.RESULTS_ENV!r}] = {str(results)!r}
at = AppTest.from_file({str(APP)!r}, default_timeout=120)
at.run()
for page in {PAGES[1:]!r}:
    at.switch_page(page)
    at.query_params["run"] = {run_id!r}
    at.run()
    assert not at.exception and not at.error, page
print(sorted(m for m in sys.modules if m.split(".")[0] in ("submissions", "baselines", "torch")
             or m.startswith(("benchmark.models.registry", "benchmark.submission", "benchmark.training"))))
"""
    env = {**os.environ, "PYTHONPATH": str(APP.parent.parent)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
