"""`benchmark export --format bundle` and `benchmark verify` on a small board of submissions scored on the
generated covid3 data: a bundle verifies, is byte-identical when exported again, and every kind of
tampering (a byte of a predictions file, a file re-encoded with its checksums updated, a missing or an extra
member, an edited table) is refused naming the file and the run."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from argparse import Namespace
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from benchmark.bundle import splits
from benchmark.bundle.errors import (
    BundleChecksumError,
    BundleDamagedRunsError,
    BundleFormatError,
    BundleMismatchError,
)
from benchmark.bundle.export import build_bundle, export_bundle
from benchmark.bundle.verify import verify_bundle
from benchmark.cli import main
from benchmark.results.store import PREDICTIONS_FILE, ResultsDir
from benchmark.submission.scoring import PredictionSubmission, score_submission
from benchmark.tasks import Task
from benchmark.tasks.registry import TASKS_DIR_ENV
from benchmark.training.runner import publish_run

ENTRIES = {
    "alpha": (0, 1, 2),
    "beta": (0,),
}  # a ranked entry (3 seeds, with validation predictions) and an unranked one
FAST = ["--n-resamples", "200", "--no-claims"]


@pytest.fixture(scope="module")
def board(tiny_covid_task: Task, tiny_covid_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A results folder of prediction submissions on the generated covid3 data, and its task file as registered
    (``$CXRBENCH_TASKS_DIR``, for the module's duration)."""
    folder = tmp_path_factory.mktemp("board")
    tasks = folder / "tasks"
    tasks.mkdir()
    spec = {k: (list(v) if isinstance(v, tuple) else v) for k, v in tiny_covid_task.__dict__.items()}
    (tasks / "covid3.yaml").write_text(yaml.safe_dump(spec))
    frame = tiny_covid_task.load_data(str(tiny_covid_root)).frame
    labels = list(tiny_covid_task.labels)
    rng = np.random.default_rng(0)
    for name, seeds in ENTRIES.items():
        for seed in seeds:
            files = {}
            for split in ("test", "val"):
                rows = frame.loc[frame["split"] == split, ["image_id", *labels]]
                logits = 1.5 * rows[labels].to_numpy(dtype=float) + rng.normal(size=(len(rows), len(labels)))
                scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
                files[split] = folder / f"{name}-{seed}-{split}.csv"
                pd.DataFrame({"image_id": rows["image_id"], **dict(zip(labels, scores.T, strict=True))}).to_csv(
                    files[split], index=False
                )
            submission = PredictionSubmission(
                name,
                tiny_covid_task,
                files["test"],
                files["val"] if name == "alpha" else None,
                seed=seed,
                data_root=str(tiny_covid_root),
            )
            publish_run(score_submission(submission), folder / "results")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TASKS_DIR_ENV, str(tasks))
        yield folder / "results"


@pytest.fixture(scope="module")
def bundle(board: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "covid3.tar.gz"
    assert export(board, out, *FAST) == 0
    return out


def export(results: Path, out: Path, *extra: str) -> int:
    return main(
        ["export", "--task", "covid3", "--format", "bundle", "--results", str(results), "--out", str(out), *extra]
    )


def members_of(path: Path) -> dict[str, bytes]:
    """The archive's files by full name (read with tarfile, independently of the bundle's reader)."""
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def rewrite(source: Path, target: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    """A copy of the bundle with ``change`` applied to its members (a plain tar.gz, as anyone could write)."""
    members = members_of(source)
    change(members)
    with tarfile.open(target, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return target


def top(members: dict[str, bytes]) -> str:
    return next(iter(members)).split("/")[0]


def run_ids(board: Path) -> list[str]:
    return sorted(p.name for p in ResultsDir(board, read_only=True).run_dirs())


def update_sums(members: dict[str, bytes], *names: str) -> None:
    """Make SHA256SUMS and the manifest agree with the members ``names`` (as a forger would)."""
    root = top(members)
    sums, manifest = f"{root}/SHA256SUMS", f"{root}/manifest.json"
    data = json.loads(members[manifest])
    for name in names:
        data["members"][name] = hashlib.sha256(members[f"{root}/{name}"]).hexdigest()
    members[manifest] = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
    listed = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in members[sums].decode().splitlines()}
    for name in (*names, "manifest.json"):
        listed[name] = hashlib.sha256(members[f"{root}/{name}"]).hexdigest()
    members[sums] = "".join(f"{listed[n]}  {n}\n" for n in sorted(listed)).encode()


def test_a_bundle_holds_the_board_and_verifies(board: Path, bundle: Path, tiny_covid_task: Task, capsys) -> None:
    members = members_of(bundle)
    root = top(members)
    names = {name.split("/", 1)[1] for name in members}
    for run_id in run_ids(board):
        assert {f"runs/{run_id}/record.json", f"runs/{run_id}/predictions.parquet"} <= names
    assert sum(name.endswith("val_predictions.parquet") for name in names) == len(ENTRIES["alpha"])
    assert not any(name.endswith(".pt") for name in names)
    assert {"standings/standings.md", "standings/standings.json", "standings/standings.csv", "task/covid3.yaml",
            "environment.json", "README.md", "CITATION.bib", "manifest.json", "SHA256SUMS"} <= names  # fmt: skip
    # the split listing from the data hashes to the task's pinned split_sha256
    assert hashlib.sha256(members[f"{root}/splits/split.tsv"]).hexdigest() == tiny_covid_task.split_sha256
    # the recorded primary metric is scikit-learn's one-vs-rest AUROC of the bundled predictions
    run_id = run_ids(board)[0]
    predictions = pd.read_parquet(io.BytesIO(members[f"{root}/runs/{run_id}/predictions.parquet"]))
    record = json.loads(members[f"{root}/runs/{run_id}/record.json"])
    labels = record["task"]["labels"]
    truth = predictions[[f"true:{c}" for c in labels]].to_numpy().argmax(1)
    expected = roc_auc_score(truth, predictions[[f"score:{c}" for c in labels]].to_numpy(), multi_class="ovr")
    assert record["metrics"]["auroc"]["value"] == pytest.approx(expected, abs=1e-12)
    # coreutils checks every member against SHA256SUMS once extracted
    extracted = bundle.parent / "extracted"
    shutil.rmtree(extracted, ignore_errors=True)
    with tarfile.open(bundle, "r:gz") as tar:
        tar.extractall(extracted, filter="data")
    check = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=extracted / root, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    capsys.readouterr()
    assert main(["verify", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert f"{len(run_ids(board))} runs re-scored" in out and "identical" in out


def test_the_same_board_gives_the_same_bytes(board: Path, bundle: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.tar.gz"
    assert export(board, again, *FAST) == 0
    assert again.read_bytes() == bundle.read_bytes()
    with tarfile.open(bundle, "r:gz") as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == sorted(i.name for i in infos)
    assert {(i.uid, i.gid, i.uname, i.gname, i.mode) for i in infos} == {(0, 0, "", "", 0o644)}
    assert len({i.mtime for i in infos}) == 1
    with gzip.open(bundle) as stream:
        assert stream.read()  # a plain gzip stream
    assert bundle.read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime 0


def test_one_byte_altered_in_a_predictions_file_is_named_with_its_run(board: Path, bundle: Path, tmp_path, capsys):
    run_id = run_ids(board)[1]

    def flip(members: dict[str, bytes]) -> None:
        name = f"{top(members)}/runs/{run_id}/predictions.parquet"
        data = bytearray(members[name])
        data[len(data) // 2] ^= 0x01
        members[name] = bytes(data)

    altered = rewrite(bundle, tmp_path / "altered.tar.gz", flip)
    with pytest.raises(BundleChecksumError) as caught:
        verify_bundle(altered)
    assert f"runs/{run_id}/predictions.parquet (run {run_id}) has sha256" in str(caught.value)
    capsys.readouterr()
    assert main(["verify", str(altered)]) == 2
    err = capsys.readouterr().err
    assert "BundleChecksumError" in err and f"runs/{run_id}/predictions.parquet (run {run_id})" in err


def _worse_predictions(members: dict[str, bytes], run_id: str) -> str:
    """Every score of the run's predictions moved off the true class (re-encoded): the AUROC changes."""
    name = f"{top(members)}/runs/{run_id}/predictions.parquet"
    frame = pd.read_parquet(io.BytesIO(members[name]))
    scores = [c for c in frame.columns if c.startswith("score:")]
    frame[scores] = frame[scores].to_numpy()[:, ::-1]
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    members[name] = buffer.getvalue()
    return f"runs/{run_id}/predictions.parquet"


def test_a_replaced_predictions_file_with_new_checksums_is_caught(board: Path, bundle: Path, tmp_path: Path):
    run_id = run_ids(board)[0]

    def forge_sums(members: dict[str, bytes]) -> None:
        update_sums(members, _worse_predictions(members, run_id))

    with pytest.raises(BundleChecksumError) as caught:
        verify_bundle(rewrite(bundle, tmp_path / "sums.tar.gz", forge_sums))
    assert f"(run {run_id})" in str(caught.value) and "the run's record holds" in str(caught.value)

    def forge_record_too(members: dict[str, bytes]) -> None:
        member = _worse_predictions(members, run_id)
        record_member = f"runs/{run_id}/record.json"
        record = json.loads(members[f"{top(members)}/{record_member}"])
        record["files"]["predictions.parquet"] = hashlib.sha256(members[f"{top(members)}/{member}"]).hexdigest()
        members[f"{top(members)}/{record_member}"] = json.dumps(record, indent=2, sort_keys=True).encode()
        update_sums(members, member, record_member)

    with pytest.raises(BundleMismatchError) as caught:
        verify_bundle(rewrite(bundle, tmp_path / "record.tar.gz", forge_record_too))
    message = str(caught.value)
    assert f"run {run_id} re-scored from runs/{run_id}/predictions.parquet" in message
    assert "metric auroc: recorded" in message


def test_a_missing_member_is_named(bundle: Path, tmp_path: Path) -> None:
    def drop(members: dict[str, bytes]) -> None:
        del members[f"{top(members)}/standings/standings.md"]

    with pytest.raises(BundleChecksumError, match=r"standings/standings.md is listed in SHA256SUMS but missing"):
        verify_bundle(rewrite(bundle, tmp_path / "missing.tar.gz", drop))


def test_an_unknown_extra_member_is_named(bundle: Path, tmp_path: Path) -> None:
    def add(members: dict[str, bytes]) -> None:
        members[f"{top(members)}/notes.txt"] = b"added later\n"

    with pytest.raises(BundleChecksumError, match=r"notes.txt is not listed in SHA256SUMS"):
        verify_bundle(rewrite(bundle, tmp_path / "extra.tar.gz", add))


def test_an_edited_table_with_new_checksums_is_caught(bundle: Path, tmp_path: Path) -> None:
    def edit(members: dict[str, bytes]) -> None:
        name = f"{top(members)}/standings/standings.md"
        members[name] = members[name].replace(b"alpha", b"alpha (best)", 1)
        update_sums(members, "standings/standings.md")

    with pytest.raises(BundleMismatchError, match=r"standings/standings.md differs from the standings rendered again"):
        verify_bundle(rewrite(bundle, tmp_path / "table.tar.gz", edit))


def test_a_damaged_run_is_refused_by_name(board: Path, tmp_path: Path, capsys) -> None:
    copy = tmp_path / "results"
    shutil.copytree(board, copy)
    run_id = run_ids(copy)[2]
    path = copy / run_id / PREDICTIONS_FILE
    path.write_bytes(path.read_bytes()[:-10])
    capsys.readouterr()
    assert export(copy, tmp_path / "b.tar.gz", *FAST) == 2
    err = capsys.readouterr().err
    assert (
        "BundleDamagedRunsError: 1 run(s) of task covid3" in err and f"{run_id}/predictions.parquet has sha256" in err
    )
    with pytest.raises(BundleDamagedRunsError):
        build_bundle(ResultsDir(copy, read_only=True), "covid3", None, {"n_resamples": 200}, claims=False)
    assert not (tmp_path / "b.tar.gz").exists()


def test_without_the_data_the_test_and_val_images_are_listed_from_the_predictions(board, tmp_path, monkeypatch):
    monkeypatch.setattr(splits, "data_root_candidates", lambda explicit, recorded: [])
    out = tmp_path / "nodata.tar.gz"
    assert export(board, out, *FAST) == 0
    members = members_of(out)
    manifest = json.loads(members[f"{top(members)}/manifest.json"])
    assert manifest["splits"]["source"] == "predictions" and "train is not listed" in manifest["splits"]["note"]
    listing = splits.parse_listing(members[f"{top(members)}/splits/from_predictions.tsv"].decode())
    predictions = pd.read_parquet(io.BytesIO(members[f"{top(members)}/runs/{run_ids(board)[0]}/predictions.parquet"]))
    assert set(listing.loc[listing["split"] == "test", "image_id"]) == set(predictions["image_id"])
    assert set(listing["split"]) == {"test", "val"}
    assert verify_bundle(out).split.startswith("splits/from_predictions.tsv")


def test_the_output_must_be_a_tar_gz(board: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleFormatError, match=r"\.tar\.gz"):
        export_bundle(board, Namespace(task="covid3", out=tmp_path / "b.zip"))
    assert export(board, tmp_path / "b.zip") == 2


def test_a_file_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.tar.gz"
    path.write_bytes(b"not a gzip file")
    with pytest.raises(BundleFormatError, match=r"not a readable \.tar\.gz"):
        verify_bundle(path)
