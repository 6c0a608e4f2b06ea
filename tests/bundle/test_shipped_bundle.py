"""The shipped reference board's covid3 standings bundled (read beside an empty results folder, as `benchmark
export` reads it by default) and verified: every shipped covid3 run in it, re-scored identically, the split
listing from the real data hashing to the task's pinned split, the literature's claims included."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from benchmark.cli import main
from benchmark.data.root import DATA_ROOT_ENV
from benchmark.reference.board import REFERENCE_ENV, shipped_results
from benchmark.results.record import RunRecord
from benchmark.tasks import TASKS


def test_the_shipped_covid3_board_bundles_and_verifies(shared_data: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(REFERENCE_ENV, str(shipped_results()))
    monkeypatch.setenv(DATA_ROOT_ENV, str(shared_data))
    out = tmp_path / "covid3.tar.gz"
    results = str(tmp_path / "none")  # an empty results folder: the shipped board alone
    command = ["export", "--task", "covid3", "--format", "bundle", "--results", results, "--out", str(out)]
    assert main([*command, "--n-resamples", "500"]) == 0
    shipped = sorted(
        p.name
        for p in shipped_results().iterdir()
        if (p / "record.json").is_file() and RunRecord.load(p / "record.json").task.name == "covid3"
    )
    with tarfile.open(out, "r:gz") as tar:
        members = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    assert sorted({name.split("/")[1] for name in members if name.startswith("runs/")}) == shipped
    for run_id in shipped:  # the shipped files, byte for byte
        for name in ("record.json", "predictions.parquet", "val_predictions.parquet"):
            assert members[f"runs/{run_id}/{name}"] == (shipped_results() / run_id / name).read_bytes()
    task = TASKS.get("covid3")
    assert hashlib.sha256(members["splits/split.tsv"]).hexdigest() == task.split_sha256
    assert members["task/covid3.yaml"] == (Path(__file__).parents[2] / "tasks" / "covid3.yaml").read_bytes()
    claims = json.loads(members["claims.json"])
    assert claims and {row["task"] for row in claims} == {"covid3"}
    standings = json.loads(members["standings/standings.json"])
    assert standings["task_hash"] == task.task_hash and len(standings["ranked"]) >= 3
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    assert f"{len(shipped)} runs re-scored" in capsys.readouterr().out
