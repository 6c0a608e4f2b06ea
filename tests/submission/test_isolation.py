"""Plugin code runs in a child process (benchmark.submission.isolation): it cannot change how its predictions
are scored, it gets its own folder, environment and limits, and a child that leaves without handing back
valid predictions is an error, whatever its exit status. See submissions/README.md, "Trust model"."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import resource
import shutil
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn import metrics as skm

from benchmark.cli import main
from benchmark.errors import SubmissionProcessError
from benchmark.models.source import PROJECT_ROOT, SourceRoot, import_closure
from benchmark.recipe import Recipe
from benchmark.results.store import ResultsDir
from benchmark.submission.isolation import PASSED_ENV, Limits, run_child
from benchmark.submission.metadata import Submission, load_submission
from benchmark.tasks import TASKS
from benchmark.training.code import training_code_hash
from benchmark.training.runner import run_key
from tests.conftest import REPO
from tests.fixtures.covid_kaggle.make import CLASSES

TEMPLATE = REPO / "submissions" / "_template"
SECRET = "CXR_TEST_SECRET"
PLAIN_ENV = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}  # for the processes run_child runs directly

# The tester's attack: model.py patches what turns scores into a Predictions table, and what scores one, so
# that every table and evaluation made in its process is perfect (run in one process with `benchmark run`,
# this model records AUROC 1.0000 [1.0000, 1.0000]). Its own scores are poor: it sees only the mean
# brightness. It also reports what it could see and writes files outside its folder.
ATTACKING_MODEL = textwrap.dedent(
    """
    import json
    import os
    import resource
    from collections import OrderedDict
    from pathlib import Path

    from torch import nn

    import benchmark.submission.scoring as scoring
    import benchmark.training.inference as inference
    from benchmark.models.registry import ModelInputs
    from benchmark.recipe import Recipe
    from benchmark.tasks.spec import Task

    REPORT = Path({report!r})
    _frame = inference.predictions_frame
    _evaluate = Task.evaluate


    def perfect_frame(image_ids, patient_ids, truth, scores, labels):
        return _frame(image_ids, patient_ids, truth, truth, labels)


    def perfect_evaluate(self, predictions, thresholds=None):
        perfect = predictions.copy()
        for label in self.labels:
            perfect["score:" + label] = perfect["true:" + label]
        return _evaluate(self, perfect, thresholds)


    inference.predictions_frame = perfect_frame
    scoring.predictions_frame = perfect_frame
    Task.evaluate = perfect_evaluate

    Path("relative-write.txt").write_text("written relative to the working directory")
    Path({absolute!r}).write_text("written by absolute path")
    limits = {{n: resource.getrlimit(getattr(resource, n)) for n in ("RLIMIT_CORE", "RLIMIT_NOFILE", "RLIMIT_FSIZE")}}
    started_with = dict(v.split("=", 1) for v in Path("/proc/self/environ").read_text().split("\\0") if v)
    REPORT.write_text(json.dumps({{"env": started_with, "cwd": os.getcwd(), "limits": limits}}))

    RECIPE = Recipe(image_size=16, in_chans=1, epochs=1, batch_size=8)


    def build_model(inputs: ModelInputs) -> nn.Module:
        # the mean brightness only: every class has one bright band, so its honest scores are poor
        head = nn.Linear(inputs.in_chans, inputs.num_outputs)
        return nn.Sequential(OrderedDict(pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(), head=head))
    """
)


def plugin_folder(base: Path, name: str, model: str) -> Path:
    """A copy of the template, for the test task `tinycovid`, with ``model`` as its model.py."""
    folder = base / name
    shutil.copytree(TEMPLATE, folder)
    spec = yaml.safe_load((folder / "submission.yaml").read_text())
    spec.update(name=name, tasks=["tinycovid"])
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec))
    (folder / "model.py").write_text(model)
    return folder


def submit(folder: Path, root: Path, results: Path) -> int:
    args = ["submit", str(folder), "--task", "tinycovid", "--data-root", str(root), "--results", str(results)]
    return main(args)


@pytest.fixture(scope="module")
def tiny_registered(tiny_covid_task):
    with pytest.MonkeyPatch.context() as patch:
        task = dataclasses.replace(tiny_covid_task, name="tinycovid")
        patch.setitem(TASKS._items, "tinycovid", task)
        yield task


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, tiny_registered, tiny_covid_root):
    """One `benchmark submit` of the attacking model, shared by the assertions below (a child process
    costs seconds). The parent runs from a folder of its own, with a variable the child must not see."""
    base = tmp_path_factory.mktemp("attack")
    report, absolute = base / "child-report.json", base / "outside" / "absolute-write.txt"
    absolute.parent.mkdir()
    folder = plugin_folder(base, "team_attack", ATTACKING_MODEL.format(report=str(report), absolute=str(absolute)))
    results, parent_cwd = base / "results", base / "parent-cwd"
    parent_cwd.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(parent_cwd)
        patch.setenv(SECRET, "do-not-pass-me")
        code = submit(folder, tiny_covid_root, results)
    (run_dir,) = ResultsDir(results).run_dirs()
    return {
        "code": code,
        "folder": folder,
        "results": results,
        "run_dir": run_dir,
        "report": json.loads(report.read_text()),
        "absolute": absolute,
        "parent_cwd": parent_cwd,
    }


def test_submitted_code_cannot_change_its_score(attacked):
    """Fault 5: patched scoring functions in model.py recorded AUROC 1.0000 [1.0000, 1.0000]. The child's
    patches stay in the child; the record's metrics are those of its predictions against the pinned truth."""
    assert attacked["code"] == 0
    store = ResultsDir(attacked["results"])
    record = store.load_record(attacked["run_dir"].name)
    predictions = store.load_predictions(record.run_id)
    labels = list(CLASSES)
    truth = predictions["image_id"].str.split("/").str[1].map(labels.index).to_numpy()  # test/<class>/<file>
    scores = predictions[[f"score:{c}" for c in labels]].to_numpy()
    np.testing.assert_array_equal(predictions[[f"true:{c}" for c in labels]].to_numpy(), np.eye(3)[truth])
    expected = skm.roc_auc_score(truth, scores, multi_class="ovr")
    assert record.metrics["auroc"].value == pytest.approx(expected)
    assert record.metrics["accuracy"].value == pytest.approx(skm.accuracy_score(truth, scores.argmax(1)))
    assert record.metrics["auroc"].value < 0.99 and record.metrics["auroc"].ci_low < record.metrics["auroc"].ci_high
    # the record names the submission as before; the facts the child reports agree with the folder
    assert record.origin == "submission" and record.model.name == "submission:team_attack"
    assert record.submission.name == "team_attack" and record.submission.folder == str(attacked["folder"].resolve())
    # the source hash the child reports covers model.py and what it imports (compared by name and digest:
    # other project files may change while the suite runs)
    folder = attacked["folder"]
    closure = import_closure(folder / "model.py", (PROJECT_ROOT, SourceRoot(folder.resolve())))
    assert sorted(record.model.sources) == sorted(f.name for f in closure)
    assert record.model.sources["model.py"] == hashlib.sha256((folder / "model.py").read_bytes()).hexdigest()
    lines = "".join(sorted(f"{name}\t{sha}\n" for name, sha in record.model.sources.items()))
    assert record.model.source_hash == hashlib.sha256(lines.encode()).hexdigest()
    assert record.training.epochs_run == 1 and record.recipe["image_size"] == 16 and record.model.parameters == 6
    assert (attacked["run_dir"] / "best_model.pt").is_file()
    # the run key and the training code are this process's, as for any trained run
    assert record.training.code_hash == training_code_hash()
    key = run_key(record.task.hash, record.model.source_hash, record.recipe, 0, training_code_hash())
    assert record.run_key == key


def test_the_child_gets_its_own_folder_environment_and_limits(attacked):
    """What the child saw: a working directory and HOME under the results' work folder (removed once the run
    is recorded), only the listed environment variables (as it was started, /proc/self/environ: libraries set
    more once loaded), and lowered limits it cannot raise again."""
    report, results = attacked["report"], attacked["results"]
    work = results.resolve() / ".work"
    assert Path(report["cwd"]).parent.parent == work and Path(report["env"]["HOME"]) == Path(report["cwd"])
    allowed = {*PASSED_ENV, "HOME", "TMPDIR", "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
    allowed |= {"CXRBENCH_DATA", "CXRBENCH_CACHE", "CXRBENCH_TASKS_DIR"}
    assert set(report["env"]) <= allowed and SECRET not in report["env"]
    limits = Limits()
    assert report["limits"]["RLIMIT_CORE"] == [0, 0]
    assert report["limits"]["RLIMIT_FSIZE"] == [limits.file_size, limits.file_size]
    assert report["limits"]["RLIMIT_NOFILE"][0] == report["limits"]["RLIMIT_NOFILE"][1] <= limits.open_files
    assert list(work.iterdir()) == []  # the work folder goes once the run is recorded
    # a relative path lands in the child's own folder, not where `benchmark submit` was run ...
    assert not (attacked["parent_cwd"] / "relative-write.txt").exists()
    # ... but the child runs as the same user: a path it names outright is written (the trust model's limit)
    assert attacked["absolute"].read_text() == "written by absolute path"


def test_a_child_that_exits_early_is_an_error_whatever_its_status(tmp_path, tiny_registered, tiny_covid_root, capsys):
    """Fault 13: `raise SystemExit(0)` in model.py made `benchmark submit` exit 0, silent, recording nothing."""
    model = "import sys\nprint('leaving before any model is built', file=sys.stderr)\nraise SystemExit(0)\n"
    folder = plugin_folder(tmp_path, "team_exit", model)
    results = tmp_path / "results"
    assert submit(folder, tiny_covid_root, results) == 2
    err = capsys.readouterr().err
    assert "SubmissionProcessError: submission team_exit" in err
    assert "exited with status 0 without handing back test.parquet" in err
    assert "    leaving before any model is built" in err.split("last output:")[1]  # the tail of its output
    assert ResultsDir(results).run_dirs() == [] and not list(results.glob(".tmp-*"))
    (work,) = (results / ".work").iterdir()  # kept for diagnosis, with the whole output
    assert "leaving before any model is built" in (work / "child.log").read_text()


def test_a_child_past_its_timeout_is_killed_with_what_it_started(tmp_path):
    """The wall-clock limit kills the child's whole process group, a grandchild it started included."""
    work = tmp_path / "work"
    (work / "home").mkdir(parents=True)
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    status, tail = run_child([sys.executable, "-c", script], work, PLAIN_ENV, Limits(timeout=3), "t")
    assert status is None and tail == ["started"]
    grandchild = Path(f"/proc/{pid_file.read_text()}")
    deadline = time.monotonic() + 5
    while grandchild.exists() and (grandchild / "stat").read_text().split()[2] != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGKILL is delivered at once; the grandchild's exit is seen a moment later
    assert not grandchild.exists() or (grandchild / "stat").read_text().split()[2] == "Z"


def test_limits_are_applied_before_the_child_starts(tmp_path):
    work = tmp_path / "work"
    (work / "home").mkdir(parents=True)
    script = (
        "import os, resource\n"
        "print(resource.getrlimit(resource.RLIMIT_FSIZE), os.getcwd())\n"
        "big = open('big', 'wb', buffering=0)\n"
        "print(big.write(b'x' * 5000))\n"  # stops at the limit
        "big.write(b'x')\n"  # past it: SIGXFSZ, which Python ignores, so the write fails with EFBIG
    )
    limits = Limits(timeout=30, file_size=4096)
    status, tail = run_child([sys.executable, "-c", script], work, PLAIN_ENV, limits, "t")
    assert tail[0] == f"(4096, 4096) {work / 'home'}"
    assert tail[1] == "4096" and status == 1 and tail[-1] == "OSError: [Errno 27] File too large"
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] != 4096  # this process keeps its own limits


def failure_message(status: int | None, tail: list[str], tmp_path: Path) -> str:
    from benchmark.submission.isolation import _failure

    submission: Submission = load_submission(TEMPLATE)
    return _failure(submission, tmp_path, status, ["test.parquet"], tail, Limits(timeout=5))


def test_failure_messages_say_how_the_child_ended(tmp_path):
    assert "ran past the wall-clock limit of 5 s (--timeout) and was killed" in failure_message(None, [], tmp_path)
    assert "was killed by signal SIGXFSZ (a file over the" in failure_message(-25, [], tmp_path)
    message = failure_message(3, ["Traceback", "ValueError: boom"], tmp_path)
    assert "exited with status 3; nothing was recorded" in message and "    ValueError: boom" in message
    assert "exited with status 0 without handing back test.parquet" in failure_message(0, [], tmp_path)


def good_meta() -> dict:
    recipe = Recipe(image_size=16, in_chans=1, epochs=1)
    training = {"history": [], "best_epoch": 0, "epochs_run": 1, "stopped_early": False, "resumed_from_epoch": None}
    return {
        "family": "small_cnn",
        "source_file": "model.py",
        "source_hash": "a" * 64,
        "sources": {"model.py": "b" * 64},
        "package": None,
        "parameters": 6,
        "input": {"image_size": 16, "in_chans": 1},
        "recipe": recipe.to_dict(),
        "device": "cpu",
        "training": training,
        "seconds": {"data": 0.1, "train": 1.0, "predict": 0.1},
    }


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"parameters": "many"}, "(RecordError: meta.json does not fit a run record's ModelSection: parameters"),
        ({"recipe": {"image_size": 16, "not_a_field": 1}}, "does not validate (TypeError"),
        ({"source_hash": "../x"}, "source_hash '../x' is not a sha256"),
        ({"device": "cuda; rm -rf /"}, "device 'cuda; rm -rf /' is not cpu, cuda"),
        ({"seconds": {"data": -1, "train": 1, "predict": 1}}, "are not all finite and >= 0"),
        ({"recipe": Recipe(image_size=16, in_chans=1, epochs=2).to_dict()}, "does not carry the overrides"),
    ],
)
def test_what_the_child_reports_is_checked(change, problem, tmp_path):
    """meta.json comes from the child: a wrong type, an unknown recipe field, a recipe without the overrides
    asked for... is a SubmissionProcessError naming the submission, never a record."""
    from benchmark.submission.isolation import PluginRun, _reported

    path = tmp_path / "meta.json"
    path.write_text(json.dumps({**good_meta(), **change}))
    submission = load_submission(TEMPLATE)
    run = PluginRun(folder=TEMPLATE, task=TASKS.get("covid3"), overrides={"epochs": 1})
    with pytest.raises(SubmissionProcessError, match=f"submission your_team: meta.json .*{re.escape(problem)}"):
        _reported(path, submission, run)
    path.write_text(json.dumps(good_meta()))
    assert _reported(path, submission, run).model.name == "submission:your_team"


def test_handed_back_predictions_are_checked_like_a_file(tiny_registered, tiny_covid_root, tmp_path):
    from benchmark.submission.isolation import _validated

    data = tiny_registered.load_data(tiny_covid_root)
    test = data.frame.loc[data.frame["split"] == "test", ["image_id"]].reset_index(drop=True)
    test[list(CLASSES)] = 1 / 3
    test.loc[0, "Covid"] = float("nan")
    path = tmp_path / "test.parquet"
    test.to_parquet(path)
    with pytest.raises(SubmissionProcessError) as caught:
        _validated(path, tiny_registered, data, "test", load_submission(TEMPLATE))
    message = str(caught.value)
    assert "the test predictions its process handed back are refused" in message
    assert "row 1 (id " in message and "Covid is NaN or empty" in message
