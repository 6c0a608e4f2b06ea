"""Nothing wrong gets recorded, and damage is found, named and survived (issue 14): seeds told apart by their
scores and one (entry, seed) under a lock; every run file checked against its record's sha256; a damaged
index moved aside and rebuilt; damaged runs typed errors, or left out and named; a copied run folder and
the staging folders of killed publishes found."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmark.cli import main
from benchmark.errors import DuplicateRunError, RunDamagedError
from benchmark.results.index import INDEX_FILE, RunFilter
from benchmark.results.integrity import SCORE_TOLERANCE, STALE_STAGING_S, staging_name
from benchmark.results.record import RunRecord
from benchmark.results.standings import task_standings
from benchmark.results.store import PREDICTIONS_FILE, ResultsDir
from benchmark.tasks import TASKS
from tests.conftest import REPO
from tests.fixtures.runs.make import (
    ToyModel,
    fixture_record,
    make_predictions,
    patients,
    publish_with_digests,
    scores,
    toy_task,
    truth,
    write_task_runs,
)
from tests.results.test_store_read_only import folder_state
from tests.submission.test_predictions import filled, submit

TASK = toy_task()


@pytest.fixture
def tiny(tiny_covid_task, monkeypatch):
    """The generated 3-class task, registered as `tinycovid` (the name `submit` passes) for this test only."""
    monkeypatch.setitem(TASKS._items, "tinycovid", dataclasses.replace(tiny_covid_task, name="tinycovid"))


def _run_files(root: Path) -> dict[str, tuple[str, int]]:
    """``folder_state`` of the run folders only: the index (a cache a writer may refresh) and the root's
    own mtime (changed by any staging folder made and removed) left out."""
    return {k: v for k, v in folder_state(root).items() if not k.startswith(INDEX_FILE) and k != "."}


def _record(model: str, seed: int, predictions: pd.DataFrame, hour: int = 0, **changes) -> RunRecord:
    created = (datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(hours=hour)).isoformat()
    run_id = f"2025010{1 + hour // 24}T{hour % 24:02d}0000Z-toy-{model}-s{seed}-{hour:04d}"
    record = fixture_record(run_id, predictions, TASK, model, seed, created_at=created, run_key=f"{model}{seed}")
    return dataclasses.replace(record, **changes)


@pytest.fixture
def truth_set() -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(14)
    pid = patients(50, rng, max_images=3)
    return pid, truth(pid, ("pneumonia",), "binary", rng), rng


def _frames(truth_set, skill: float, n: int) -> list[pd.DataFrame]:
    pid, y, rng = truth_set
    return [make_predictions(pid, y, ("pneumonia",), scores(y, "binary", skill, rng)) for _ in range(n)]


def _store(root: Path, truth_set) -> dict[str, list[str]]:
    """Entries strong (3 seeds) and weak (3 seeds), published with file digests; model -> run ids."""
    ids: dict[str, list[str]] = {}
    for offset, (model, skill) in enumerate((("strong", 0.8), ("weak", 0.2))):
        for seed, frame in enumerate(_frames(truth_set, skill, 3)):
            record = _record(model, seed, frame, hour=offset * 3 + seed)
            ids.setdefault(model, []).append(publish_with_digests(root, record, frame).name)
    return ids


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob(".tmp-*"))


# --- fault 3: seeds told apart by content; one (entry, seed) under a lock --------------------------------


def test_the_same_scores_re_encoded_are_not_a_second_seed(tiny, tiny_covid_root, tmp_path, capsys):
    """One table saved as CSV, again with CRLF line ends, again with its columns and rows reordered,
    submitted as seeds 0, 1 and 2: only seed 0 is recorded (the fault made it a ranked 3-seed entry)."""
    table = filled(tiny_covid_root)
    plain, crlf, reordered = tmp_path / "s0.csv", tmp_path / "s1.csv", tmp_path / "s2.csv"
    table.to_csv(plain, index=False)
    table.to_csv(crlf, index=False, lineterminator="\r\n")
    table[["image_id", *reversed(table.columns[1:])]].iloc[::-1].to_csv(reordered, index=False)
    assert len({hashlib.sha256(p.read_bytes()).hexdigest() for p in (plain, crlf, reordered)}) == 3
    results = tmp_path / "results"
    assert submit(plain, results, tiny_covid_root) == 0
    (first,) = [p.name for p in ResultsDir(results).run_dirs()]
    capsys.readouterr()
    for path, seed in ((crlf, "1"), (reordered, "2")):
        before = _run_files(results)
        assert submit(path, results, tiny_covid_root, "--seeds", seed) == 2
        err = capsys.readouterr().err
        assert "DuplicateRunError" in err and f"has the test scores of run {first} (seed 0)" in err
        assert "largest difference 0" in err and "Nothing was written" in err
        assert _leftovers(results) == [] and _run_files(results) == before  # the staged run was removed
    (entry,) = ResultsDir(results).entries(RunFilter(task="tinycovid"))
    assert entry.seeds == (0,) and not entry.ranked and entry.run_ids == (first,)
    other = tmp_path / "other-seed.csv"
    filled(tiny_covid_root, seed=1).to_csv(other, index=False)  # a genuinely different model's scores
    assert submit(other, results, tiny_covid_root, "--seeds", "1") == 0
    assert ResultsDir(results).entries(RunFilter(task="tinycovid"))[0].seeds == (0, 1)


def test_scores_within_the_tolerance_are_the_same_predictions_beyond_it_another_seed(truth_set, tmp_path):
    (frame,) = _frames(truth_set, 1.0, 1)
    root = tmp_path / "results"
    publish_with_digests(root, _record("m", 0, frame), frame)
    near = frame.assign(**{"score:pneumonia": frame["score:pneumonia"] + SCORE_TOLERANCE / 2})
    with pytest.raises(DuplicateRunError, match="has the test scores of run"):
        publish_with_digests(root, _record("m", 1, near, hour=1), near)
    apart = frame.copy()
    apart.loc[0, "score:pneumonia"] = 1 - apart.loc[0, "score:pneumonia"] + 3 * SCORE_TOLERANCE  # one image differs
    publish_with_digests(root, _record("m", 1, apart, hour=2), apart)
    assert [r.seed for r in ResultsDir(root).query()] == [0, 1] and _leftovers(root) == []


_PUBLISHER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pandas as pd
    from benchmark.results.record import RECORD_FILE, RunRecord
    from benchmark.results.store import PREDICTIONS_FILE, ResultsDir

    root, record_path, predictions_path, start = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    checked = ResultsDir.check_new_run

    def slow_check(self, staging, record):  # widen the window between check and rename: a race shows
        checked(self, staging, record)
        time.sleep(1.0)

    ResultsDir.check_new_run = slow_check
    record = RunRecord.load(Path(record_path))
    store = ResultsDir(root)
    staging = store.staging_dir(record.run_id)
    pd.read_parquet(predictions_path).to_parquet(staging / PREDICTIONS_FILE, index=False)
    record.write(staging / RECORD_FILE)
    time.sleep(max(0.0, start - time.time()))
    try:
        store.publish(staging, record)
    except Exception as exc:
        import shutil
        shutil.rmtree(staging, ignore_errors=True)
        print(type(exc).__name__, exc, file=sys.stderr)
        sys.exit(3)
    """
)


def test_concurrent_publishes_of_one_entry_and_seed_land_once(truth_set, tmp_path):
    """Three processes publish seed 0 of one entry (different scores) at the same moment: exactly one lands."""
    root = tmp_path / "results"
    root.mkdir()
    inputs = []
    for i, frame in enumerate(_frames(truth_set, 1.0, 3)):
        record = _record("m", 0, frame, hour=i)
        record.write(tmp_path / f"r{i}.json")
        frame.to_parquet(tmp_path / f"p{i}.parquet")
        inputs.append((tmp_path / f"r{i}.json", tmp_path / f"p{i}.parquet"))
    start = time.time() + 6  # after every interpreter has started
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PUBLISHER, str(root), str(r), str(p), str(start)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stderr=subprocess.PIPE,
        )
        for r, p in inputs
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in processes]
    codes = sorted(p.returncode for p in processes)
    assert codes == [0, 3, 3], errors
    refused = [e for e in errors if e]
    assert all("DuplicateRunError" in e and "of seed 0; each seed of an entry is recorded once" in e for e in refused)
    (landed,) = ResultsDir(root).run_dirs()
    assert [r.run_id for r in ResultsDir(root).query()] == [landed.name]
    assert _leftovers(root) == []


def test_a_reproduction_is_recorded_and_not_counted_as_a_seed(truth_set, tmp_path):
    """`benchmark reproduce` records the same inputs again (same entry, seed and scores): allowed, as a
    reproduction, and the standings count the entry's seeds once."""
    root = tmp_path / "results"
    ids = _store(root, truth_set)
    original = ResultsDir(root).load_record(ids["strong"][0])
    frame = ResultsDir(root).load_predictions(original.run_id)
    again = _record("strong", 0, frame, hour=40, reproduces=original.run_id)
    publish_with_digests(root, again, frame)
    assert len(ResultsDir(root).query(RunFilter(entry_key=ResultsDir(root).query()[0].entry_key))) == 4
    standings = task_standings(root, "toy", n_resamples=100)
    assert again.run_id in standings.set_aside
    assert standings.ranked.set_index("entry")["n_seeds"].to_dict() == {"strong": 3, "weak": 3}
    with pytest.raises(DuplicateRunError, match=f"already has run {original.run_id} of seed 0"):
        publish_with_digests(root, _record("strong", 0, frame, hour=41), frame)  # not a reproduction: refused


# --- fault 4: every file read back is checked against the record's sha256 --------------------------------


def test_a_replaced_predictions_file_is_never_used(truth_set, tmp_path, capsys):
    root = tmp_path / "results"
    ids = _store(root, truth_set)
    victim = ids["strong"][1]
    recorded = ResultsDir(root).load_record(victim).files[PREDICTIONS_FILE]
    perfect = ResultsDir(root).load_predictions(victim)
    perfect["score:pneumonia"] = perfect["true:pneumonia"]  # a valid file, the same images, AUROC 1
    perfect.to_parquet(root / victim / PREDICTIONS_FILE, index=False)
    found = hashlib.sha256((root / victim / PREDICTIONS_FILE).read_bytes()).hexdigest()
    before = _run_files(root)

    with pytest.raises(RunDamagedError) as caught:
        ResultsDir(root).load_predictions(victim)
    message = str(caught.value)
    assert f"run {victim}" in message and PREDICTIONS_FILE in message
    assert f"has sha256 {found}, but its record holds {recorded}" in message and "benchmark reproduce" in message

    assert main(["compare", victim, ids["weak"][0], "--results", str(root), "--n-resamples", "50"]) == 2
    assert "RunDamagedError" in capsys.readouterr().err

    standings = task_standings(root, "toy", n_resamples=100)
    assert [run_id for run_id, _ in standings.damaged] == [victim]
    kept = [ResultsDir(root).load_predictions(i) for i in ids["strong"] if i != victim]
    expected = roc_auc_score(kept[0]["true:pneumonia"], np.mean([f["score:pneumonia"] for f in kept], axis=0))
    strong = standings.unranked.set_index("entry").loc["strong"]  # two seeds left: unranked
    assert strong["n_seeds"] == 2 and strong["estimate"] == pytest.approx(expected) and strong["estimate"] < 0.99

    assert main(["export", "--task", "toy", "--results", str(root), "--format", "csv", "--n-resamples", "100"]) == 0
    captured = capsys.readouterr()
    assert f"warning: run {victim} is damaged and left out of the table" in captured.err
    assert victim not in captured.out

    from leaderboard import data

    with pytest.raises(RunDamagedError):
        data.predictions_bytes(str(root), victim)
    assert list(data.damaged_runs(str(root), data.fingerprint(root), "toy", "a" * 64)) == [victim]
    assert _run_files(root) == before  # nothing removed or rewritten: the damaged file is still there to inspect


# --- fault 7: a damaged index is a cache: moved aside and rebuilt ---------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "garbled"])
def test_a_damaged_index_is_moved_aside_and_rebuilt(truth_set, tmp_path, capsys, caplog, damage):
    root = tmp_path / "results"
    ids = _store(root, truth_set)
    run_files = _run_files(root)

    def spoil() -> None:
        index = root / INDEX_FILE
        if damage == "truncated":
            with open(index, "r+b") as handle:
                handle.truncate(max(100, index.stat().st_size // 3))
        else:
            index.write_bytes(b"\x00garbage, not SQLite\x00" * 300)

    commands = [
        ["runs", "--results", str(root)],
        ["export", "--task", "toy", "--results", str(root), "--format", "csv", "--n-resamples", "50"],
        ["index", "--results", str(root)],
        ["index", "--rebuild", "--results", str(root)],
    ]
    for number, command in enumerate(commands, 1):
        spoil()
        caplog.clear()
        assert main(command) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert all(i in out for i in ids["strong"]) if command[0] == "runs" else True
        assert "is damaged" in caplog.text and "moved aside" in caplog.text
        assert len(list(root.glob(f"{INDEX_FILE}.damaged-*"))) == number  # each damaged file kept aside
        assert sorted(r.run_id for r in ResultsDir(root).query()) == sorted(ids["strong"] + ids["weak"])
    assert list(root.glob(f"{INDEX_FILE}.damaged-*"))  # kept for inspection
    assert _run_files(root) == run_files  # no run folder touched


def test_a_damaged_index_in_a_read_only_store_is_read_around(truth_set, tmp_path):
    root = tmp_path / "results"
    ids = _store(root, truth_set)
    (root / INDEX_FILE).write_bytes(b"not a database")
    before = folder_state(root)
    assert len(ResultsDir(root, read_only=True).query()) == len(ids["strong"] + ids["weak"])
    assert folder_state(root) == before  # the leaderboard never moves or writes anything


# --- fault 8: a missing or truncated predictions file: typed errors, left out and named -----------------


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_missing_or_truncated_predictions_file_is_a_typed_error_and_left_out(tmp_path, capsys, monkeypatch, damage):
    """Records written without file digests (older stores, fixtures): damage is still found."""
    root = tmp_path / "results"
    ids = write_task_runs(root, TASK, (ToyModel("strong", 1.8), ToyModel("weak", 0.3)), 40, np.random.default_rng(8))
    victim = ids[1]
    path = root / victim / PREDICTIONS_FILE
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = _run_files(root)

    with pytest.raises(RunDamagedError, match=f"run {victim}: .*{PREDICTIONS_FILE} (is missing|is not a readable)"):
        ResultsDir(root).load_predictions(victim)
    assert main(["compare", victim, ids[3], "--results", str(root), "--n-resamples", "50"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: RunDamagedError: ") and "Traceback" not in err
    assert main(["export", "--task", "toy", "--results", str(root), "--n-resamples", "50"]) == 0
    captured = capsys.readouterr()
    assert f"run {victim} is damaged and left out" in captured.err and "strong" in captured.out

    from tests.leaderboard.test_app import app

    at = app(root, monkeypatch)  # the main page renders (it raised before), the damaged run left out and named
    assert not at.exception
    assert any("left out as damaged" in w.value for w in at.warning)
    assert any(victim in frame.value["run"].tolist() for frame in at.dataframe if "run" in frame.value)
    assert _run_files(root) == before


# --- fault 11: --results naming a file -------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["runs"], ["index"], ["index", "--rebuild"], ["export", "--task", "toy"], ["compare", "some-run"], ["show", "x"]],
)
def test_results_naming_a_file_is_a_config_error(tmp_path, capsys, command):
    target = tmp_path / "results.txt"
    target.write_text("not a folder\n")
    for results in (target, target / "below"):
        assert main([*command, "--results", str(results)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ConfigError: ") and f"{target} is a file, not a folder" in err
    assert target.read_text() == "not a folder\n" and sorted(p.name for p in tmp_path.iterdir()) == ["results.txt"]


# --- fault 15: a copied run folder; staging folders of killed publishes ---------------------------------


def test_a_copied_run_folder_is_reported_not_silently_dropped(truth_set, tmp_path, capsys, caplog):
    root = tmp_path / "results"
    ids = _store(root, truth_set)
    original = ids["weak"][0]
    shutil.copytree(root / original, root / "copy-of-a-run")
    assert main(["index", "--results", str(root)]) == 1
    out = capsys.readouterr().out
    assert "NOT in step" in out and "in step with the run directories" not in out
    assert "copy-of-a-run" in out and f"holds the record of run {original}" in out
    assert "copy-of-a-run" in caplog.text and original in caplog.text  # the warning names both
    listed = sorted(r.run_id for r in ResultsDir(root).query())
    assert listed == sorted(ids["strong"] + ids["weak"])  # the run once, never twice
    assert [u.path for u in ResultsDir(root, read_only=True).unlisted()] == ["copy-of-a-run"]
    assert task_standings(root, "toy", n_resamples=50).ranked["n_seeds"].tolist() == [3, 3]
    shutil.rmtree(root / "copy-of-a-run")
    assert main(["index", "--results", str(root)]) == 0 and "in step" in capsys.readouterr().out


def test_staging_folders_of_killed_publishes_are_removed_on_the_next_write(truth_set, tmp_path, caplog):
    root = tmp_path / "results"
    root.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = root / staging_name("20250101T000000Z-toy-m-s0-dead").replace(f"~{os.getpid()}@", f"~{dead.pid}@")
    old = root / ".tmp-20240101T000000Z-toy-m-s0-old"  # an older name, no owner: stale by age
    live = root / staging_name("20250101T000000Z-toy-m-s0-live")  # this process: a publish in progress
    for folder in (killed, old, live):
        folder.mkdir()
        (folder / PREDICTIONS_FILE).write_bytes(b"half written")
    stamp = time.time() - STALE_STAGING_S - 60
    os.utime(old, (stamp, stamp))
    young = root / ".tmp-20250101T000000Z-toy-m-s0-young"  # no owner, recent: may be another host's publish
    young.mkdir()
    (frame,) = _frames(truth_set, 1.0, 1)
    publish_with_digests(root, _record("m", 0, frame), frame)
    assert sorted(p.name for p in root.glob(".tmp-*")) == sorted([live.name, young.name])
    assert f"removed {killed}" in caplog.text and f"removed {old}" in caplog.text
    assert "process" in caplog.text and "h old" in caplog.text
    assert [r.seed for r in ResultsDir(root).query()] == [0]
