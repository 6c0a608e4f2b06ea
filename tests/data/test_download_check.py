"""What follows a download: `benchmark data check` exits non-zero on unusable data (unreadable, missing or
changed files), `benchmark data status` says per task what a data root holds, `benchmark data download`
of a dataset behind a registration prints the steps and exits non-zero, MedMNIST through a mirror."""

import hashlib
import json

import pytest

import benchmark.data.download as download
from benchmark.cli import main
from benchmark.data.fetch.plans import nih14_plan
from benchmark.data.fetch.runner import download_task
from benchmark.data.fetch.status import task_status
from benchmark.errors import ChecksumError
from benchmark.tasks import TASKS
from tests.conftest import pinned_copy
from tests.fixtures.covid_kaggle.make import make_covid_dataset
from tests.fixtures.download.make import make_nih_archives, serve
from tests.fixtures.medmnist.make import make_medmnist_npz


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch):
    monkeypatch.setattr(download, "RETRY_PAUSE", 0.0)


@pytest.fixture
def covid(tmp_path, monkeypatch):
    """A complete covid3 data root, and covid3 pinned on it as the registry's task."""
    root = make_covid_dataset(tmp_path / "data")
    task = pinned_copy(TASKS.get("covid3"), root)
    monkeypatch.setattr(TASKS, "get", lambda name: task if name == "covid3" else TASKS.__class__.get(TASKS, name))
    return root, task


def test_check_exits_non_zero_when_an_image_is_unreadable(covid, capsys):
    """Issue 14 fault 15: `data check` listed unreadable images and still exited 0."""
    root, _ = covid
    assert main(["data", "check", "covid3", "--data-root", str(root), "--workers", "1"]) == 0
    capsys.readouterr()
    image = root / "Covid19-dataset" / "train" / "Normal" / "003.jpeg"
    image.write_bytes(image.read_bytes()[:40])  # truncated: the header survives, the pixels do not
    assert main(["data", "check", "covid3", "--data-root", str(root), "--json", "--workers", "1"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert [u["image_id"] for u in report["unreadable"]] == ["train/Normal/003.jpeg"]
    assert "FAILED" in captured.err and "1 unreadable" in captured.err


def test_check_exits_non_zero_when_an_image_is_missing(tmp_path, capsys, monkeypatch):
    """NIH lists images in its CSV; one absent from the folder is `missing` and fails the check."""
    served_folder, source = tmp_path / "served", tmp_path / "source"
    make_nih_archives(source, served_folder)
    task = pinned_copy(TASKS.get("nih14"), source)
    monkeypatch.setattr(TASKS, "get", lambda name: task)
    next(iter((source / "images").glob("*.png"))).unlink()
    assert main(["data", "check", "nih14", "--data-root", str(source), "--json", "--workers", "1"]) == 1
    assert len(json.loads(capsys.readouterr().out)["missing"]) == 1


def test_check_reports_files_changed_since_download(tmp_path, capsys, monkeypatch):
    served_folder, source, root = tmp_path / "served", tmp_path / "source", tmp_path / "data"
    archives, metadata = make_nih_archives(source, served_folder)
    task = pinned_copy(TASKS.get("nih14"), source)
    monkeypatch.setattr(TASKS, "get", lambda name: task)
    with serve(served_folder) as served:
        download_task(task, root, served.url, plan=nih14_plan("nih14", "nih14", archives, metadata), progress=False)
    assert main(["data", "check", "nih14", "--data-root", str(root), "--json", "--workers", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["download_manifest"].endswith("nih14/cxrbench-download.json")
    image = sorted((root / "nih14" / "images").glob("*.png"))[3]
    original = image.read_bytes()
    image.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # same length: only the sha256 tells
    assert task_status(task, root).state == "complete"  # status stats files, it does not hash them
    (root / "nih14" / "BBox_List_2017.csv.gz").unlink()
    assert task_status(task, root).state == "damaged"
    assert main(["data", "check", "nih14", "--data-root", str(root), "--json", "--workers", "1"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["changed_since_download"] == [f"images/{image.name}"]
    assert report["missing_since_download"] == ["BBox_List_2017.csv.gz"]


def test_status_says_present_missing_and_damaged(tmp_path, monkeypatch, capsys):
    root = make_covid_dataset(tmp_path / "data")
    covid = pinned_copy(TASKS.get("covid3"), root)
    make_nih_archives(tmp_path / "data" / "nih14", tmp_path / "served")
    nih = pinned_copy(TASKS.get("nih14"), root)
    for image in (root / "nih14" / "images").glob("*.png"):
        image.unlink()  # the CSV and lists, no image: metadata only
    pneumoniamnist = TASKS.get("pneumoniamnist")
    (root / "pneumoniamnist").mkdir()
    (root / "pneumoniamnist" / "pneumoniamnist.npz").write_bytes(b"PK\x03\x04 not an npz")
    tasks = {"covid3": covid, "nih14": nih, "pneumoniamnist": pneumoniamnist, "chestmnist": TASKS.get("chestmnist")}
    monkeypatch.setattr(TASKS, "names", lambda: list(tasks))
    monkeypatch.setattr(TASKS, "get", lambda name: tasks[name])
    assert main(["data", "status", "--data-root", str(root)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines["covid3"].split()[1] == "complete"
    assert "metadata only" in lines["nih14"] and "0 of the 78 images" in lines["nih14"]
    assert lines["pneumoniamnist"].split()[1] == "damaged"
    assert lines["chestmnist"].split()[1] == "missing" and "benchmark data download chestmnist" in lines["chestmnist"]


@pytest.mark.slow
def test_status_of_the_real_data(shared_data, capsys):
    """The real data here: complete sets, metadata-only sets, lung3_64 buildable, ChestMNIST absent."""
    assert main(["data", "status", "--data-root", str(shared_data)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    states = {name: line[16:30].strip() for name, line in lines.items()}
    assert states == {
        "chestmnist": "missing",
        "chexpert3": "metadata only",
        "covid3": "complete",
        "lung3_64": "not built",
        "nih14": "metadata only",
        "pneumonia": "complete",
        "pneumoniamnist": "complete",
    }
    assert "source complete" in lines["lung3_64"] and "re-packed" in lines["pneumoniamnist"]


def test_download_of_a_registration_dataset_prints_the_steps_and_exits_non_zero(tmp_path, capsys):
    root = tmp_path / "data"
    root.mkdir()
    assert main(["data", "download", "chexpert3", "--data-root", str(root)]) == 3
    out = capsys.readouterr().out
    assert "research use agreement" in out.lower() and "kaggle datasets download -d ashery/chexpert" in out
    assert f"{root}/chexpert/CheXpert-v1.0-small/train.csv" in out  # where the files go, with the real root
    assert "benchmark data check chexpert3" in out
    assert list(root.iterdir()) == []  # nothing written
    assert main(["data", "download", "covid3", "--data-root", str(root)]) == 3
    assert "pranavraikokte/covid19-image-dataset" in capsys.readouterr().out


def test_download_of_a_registration_dataset_already_in_place_exits_zero(covid, capsys):
    root, _ = covid
    assert main(["data", "download", "covid3", "--data-root", str(root)]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_medmnist_download_through_a_mirror_and_the_md5(tmp_path, monkeypatch, capsys):
    """$CXRBENCH_DOWNLOAD_BASE_URL replaces zenodo; the published md5 still decides; a second call is free."""
    served_folder = tmp_path / "served"
    fixture = make_medmnist_npz(served_folder / "pneumoniamnist.npz")
    task = TASKS.get("pneumoniamnist")
    monkeypatch.setitem(task.source, "md5", hashlib.md5(fixture.read_bytes()).hexdigest())
    root = tmp_path / "data"
    with serve(served_folder) as served:
        monkeypatch.setenv(download.BASE_URL_ENV, served.url)
        # the pin is the real file's, so the final check reports the fixture's split as a problem
        assert main(["data", "download", "pneumoniamnist", "--data-root", str(root)]) == 1
        assert served.options.requests == [("pneumoniamnist.npz", None)]
        assert (root / "pneumoniamnist" / "pneumoniamnist.npz").read_bytes() == fixture.read_bytes()
        assert "differs from the task's pin" in capsys.readouterr().err
        main(["data", "download", "pneumoniamnist", "--data-root", str(root)])
        assert len(served.options.requests) == 1


def test_a_file_in_the_way_is_left_alone_and_named(tmp_path, monkeypatch):
    """An npz that is not the published file and that the task cannot read is not overwritten."""
    served_folder = tmp_path / "served"
    fixture = make_medmnist_npz(served_folder / "pneumoniamnist.npz")
    task = TASKS.get("pneumoniamnist")
    monkeypatch.setitem(task.source, "md5", hashlib.md5(fixture.read_bytes()).hexdigest())
    mine = tmp_path / "data" / "pneumoniamnist" / "pneumoniamnist.npz"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own notes")
    with serve(served_folder) as served:
        with pytest.raises(ChecksumError, match=r"pneumoniamnist\.npz exists but has md5 .*move it away"):
            download_task(task, tmp_path / "data", served.url, progress=False)
        assert served.options.requests == []
    assert mine.read_bytes() == b"my own notes"
