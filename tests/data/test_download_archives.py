"""`benchmark data download` of archived datasets against a local server on 127.0.0.1 (nothing here
touches the internet): NIH's tar.gz archives and Kermany's zip in their published names and layouts,
interrupted and resumed transfers, corrupted archives, repeated calls, servers without Range, disk space."""

import collections
import gzip
import os
import shutil
import tarfile

import pytest

import benchmark.data.download as download
from benchmark.data.fetch.manifest import MANIFEST_NAME, Manifest
from benchmark.data.fetch.plans import kermany_plan, nih14_plan
from benchmark.data.fetch.runner import download_task
from benchmark.errors import ChecksumError, DiskSpaceError, DownloadError
from benchmark.tasks import TASKS
from tests.conftest import pinned_copy
from tests.fixtures.download.make import ServerOptions, make_kermany_zip, make_nih_archives, serve


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch):
    monkeypatch.setattr(download, "RETRY_PAUSE", 0.0)


@pytest.fixture(scope="module")
def nih(tmp_path_factory):
    """(folder served, NIH folder as published, its plan, nih14 pinned on it)."""
    base = tmp_path_factory.mktemp("nih")
    archives, metadata = make_nih_archives(base / "source", base / "served")
    plan = nih14_plan("nih14", "nih14", archives, metadata, bytes_per_image=3000)
    return base / "served", base / "source", plan, pinned_copy(TASKS.get("nih14"), base / "source")


def _tree(folder):
    """Relative path -> bytes of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _images_of(served_archive):
    with tarfile.open(served_archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def _download(task, root, url, plan, **options):
    return download_task(task, root, base_url=url, plan=plan, progress=False, **options)


def test_nih_download_unpacks_into_the_task_layout_and_a_second_call_transfers_nothing(nih, tmp_path):
    served_folder, source, plan, task = nih
    root = tmp_path / "data"
    with serve(served_folder) as served:
        result = _download(task, root, served.url, plan)
        assert sorted(result.fetched) == sorted(item.remote.name for item in plan.items)
        assert result.problems == [] and "split matches the task's pin" in result.notes[-1]
        first = len(served.options.requests)
        assert first == len(plan.items)  # one GET per file, nothing else
        again = _download(task, root, served.url, plan)
        assert len(served.options.requests) == first  # the second call sent no request at all
    assert again.fetched == [] and sorted(again.skipped) == sorted(result.skipped + result.fetched)
    folder = root / "nih14"
    # Every image of the archives is in images/ byte for byte; the archives themselves are gone.
    assert {f"images/{p.name}": p.read_bytes() for p in (source / "images").glob("*.png")} == {
        k: v for k, v in _tree(folder).items() if k.startswith("images/")
    }
    assert not list(folder.glob("*.tar.gz*")) and not list(folder.glob(".*unpacking"))
    assert task.load_data(root).split_hash == task.split_sha256  # pinned split, all images decode below
    manifest = Manifest.load(folder)
    assert len(manifest.files) == 78 + 4 and manifest.size_mismatches() == []


def test_interrupted_download_resumed_by_the_next_call_gives_identical_files(nih, tmp_path):
    served_folder, _, plan, task = nih
    root = tmp_path / "data"
    archive = "images_002.tar.gz"
    cut = (served_folder / archive).stat().st_size // 2
    options = ServerOptions(drop_after={archive: cut})
    with serve(served_folder, options) as served:
        with pytest.raises(DownloadError, match=r"images_002\.tar\.gz\.part keeps .* the same command resumes"):
            _download(task, root, served.url, plan, retries=0)
        partial = root / "nih14" / f"{archive}.part"
        assert partial.stat().st_size == cut  # kept, never renamed or unpacked
        assert not (root / "nih14" / archive).exists()
        assert "images_002.tar.gz" not in Manifest.load(root / "nih14").downloads
        _download(task, root, served.url, plan, keep_archives=True)
    assert options.gets(archive) == [None, f"bytes={cut}-"]  # the second call asked for the rest only
    assert (root / "nih14" / archive).read_bytes() == (served_folder / archive).read_bytes()
    for name, data in _images_of(served_folder / archive).items():
        assert (root / "nih14" / name).read_bytes() == data
    assert not list((root / "nih14").glob("*.part"))


def test_a_transfer_cut_midway_is_resumed_within_the_same_call(nih, tmp_path):
    served_folder, _, plan, task = nih
    archive = "images_001.tar.gz"
    options = ServerOptions(drop_after={archive: 1000})
    with serve(served_folder, options) as served:
        result = _download(task, tmp_path / "data", served.url, plan, retries=2, keep_archives=True)
    assert options.gets(archive) == [None, "bytes=1000-"] and result.problems == []
    assert (tmp_path / "data" / "nih14" / archive).read_bytes() == (served_folder / archive).read_bytes()


def test_server_without_range_support_restarts_the_file_and_still_works(nih, tmp_path):
    served_folder, _, plan, task = nih
    root = tmp_path / "data"
    archive = "images_003.tar.gz"
    options = ServerOptions(range_support=False, drop_after={archive: 700})
    with serve(served_folder, options) as served:
        with pytest.raises(DownloadError):
            _download(task, root, served.url, plan, retries=0)
        result = _download(task, root, served.url, plan, keep_archives=True)
    # The client asked to resume; the server sent the whole file (200) and the .part started over.
    assert options.gets(archive) == [None, "bytes=700-"] and result.problems == []
    assert (root / "nih14" / archive).read_bytes() == (served_folder / archive).read_bytes()
    for name, data in _images_of(served_folder / archive).items():
        assert (root / "nih14" / name).read_bytes() == data


def test_corrupted_archive_is_detected_reported_and_removed(nih, tmp_path):
    served_folder, _, plan, task = nih
    root = tmp_path / "data"
    archive = "images_002.tar.gz"
    damaged = pytest.raises(ChecksumError, match=r"images_002\.tar\.gz .* is damaged.*removed")
    with serve(served_folder, ServerOptions(corrupt={archive})) as served, damaged:
        _download(task, root, served.url, plan)
    folder = root / "nih14"
    names = set(_images_of(served_folder / archive))
    present = {f"images/{p.name}" for p in (folder / "images").glob("*.png")}
    assert not names & present  # nothing of the damaged archive was put in place
    assert len(present) == 78 - len(names)  # the other archives were
    assert not list(folder.glob("images_002*")) and not list(folder.glob(".*unpacking"))
    assert archive not in Manifest.load(folder).downloads
    with serve(served_folder) as served:  # the next call fetches only what is missing
        _download(task, root, served.url, plan)
        assert [name for name, _ in served.options.requests] == [archive]
    assert len(list((folder / "images").glob("*.png"))) == 78


def test_corrupted_metadata_file_fails_its_sha256_and_is_deleted(nih, tmp_path):
    served_folder, _, plan, task = nih
    root = tmp_path / "data"
    wrong = pytest.raises(ChecksumError, match=r"sha256 of the file downloaded from .*test_list\.txt.*was deleted")
    with serve(served_folder, ServerOptions(corrupt={"test_list.txt"})) as served, wrong:
        _download(task, root, served.url, plan)
    assert not (root / "nih14" / "test_list.txt").exists()
    assert not list((root / "nih14").glob("*.part"))


def test_too_little_disk_space_is_reported_before_anything_is_written(nih, tmp_path, monkeypatch):
    served_folder, _, plan, task = nih
    root = tmp_path / "data"
    root.mkdir()
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with serve(served_folder) as served:
        with pytest.raises(DiskSpaceError, match=r"needs \d+(\.\d)? (KB|MB) free under .*has 1\.0 KB free"):
            _download(task, root, served.url, plan)
        assert served.options.requests == []
    assert list(root.iterdir()) == []


def test_metadata_already_in_place_is_not_fetched(nih, tmp_path):
    """A user's Data_Entry from NIH's Box page (uncompressed .csv) serves instead of the .csv.gz."""
    served_folder, source, plan, task = nih
    folder = tmp_path / "data" / "nih14"
    folder.mkdir(parents=True)
    (folder / "Data_Entry_2017_v2020.csv").write_bytes(
        gzip.decompress((source / "Data_Entry_2017_v2020.csv.gz").read_bytes())
    )
    with serve(served_folder) as served:
        result = _download(task, tmp_path / "data", served.url, plan)
        assert "Data_Entry_2017_v2020.csv.gz" not in [name for name, _ in served.options.requests]
    assert "Data_Entry_2017_v2020.csv.gz" in result.skipped and result.problems == []


def test_kermany_zip_unpacks_into_chest_xray_without_litter(tmp_path):
    total, test_counts = make_kermany_zip(tmp_path / "source", tmp_path / "served")
    task = pinned_copy(TASKS.get("pneumonia"), tmp_path / "source")
    plan = kermany_plan("pneumonia", "kermany", "chest_xray", total=total, test_counts=test_counts)
    root = tmp_path / "data"
    with serve(tmp_path / "served") as served:
        result = _download(task, root, served.url, plan)
    assert result.problems == [] and result.fetched == ["ChestXRay2017.zip"]
    unpacked = _tree(root / "kermany")
    del unpacked[MANIFEST_NAME]
    expected = {
        f"{p.relative_to(tmp_path / 'source').as_posix()}": p.read_bytes()
        for p in (tmp_path / "source" / "chest_xray").rglob("*.jpeg")
    }
    assert unpacked == expected  # no __MACOSX, no .DS_Store, the zip is gone
    assert task.load_data(root).counts() == task.expected_counts


def test_kermany_zip_with_other_counts_is_refused(tmp_path):
    total, test_counts = make_kermany_zip(tmp_path / "source", tmp_path / "served")
    task = pinned_copy(TASKS.get("pneumonia"), tmp_path / "source")
    plan = kermany_plan("pneumonia", "kermany", "chest_xray", total=total + 1, test_counts=test_counts)
    with serve(tmp_path / "served") as served, pytest.raises(ChecksumError, match=r"unpacked to \d+ files, expected"):
        _download(task, tmp_path / "data", served.url, plan)
    assert sorted(os.listdir(tmp_path / "data" / "kermany")) == []


def test_a_users_recompressed_metadata_is_kept_when_the_task_reads_it(nih, tmp_path):
    served_folder, source, plan, task = nih
    folder = tmp_path / "data" / "nih14"
    folder.mkdir(parents=True)
    text = gzip.decompress((source / "Data_Entry_2017_v2020.csv.gz").read_bytes())
    mine = gzip.compress(text, mtime=12345)  # same table, other bytes: the sha256 differs
    (folder / "Data_Entry_2017_v2020.csv.gz").write_bytes(mine)
    with serve(served_folder) as served:
        result = _download(task, tmp_path / "data", served.url, plan)
        assert "Data_Entry_2017_v2020.csv.gz" not in [name for name, _ in served.options.requests]
    assert (folder / "Data_Entry_2017_v2020.csv.gz").read_bytes() == mine
    assert any(note.startswith("kept ") and "task reads it" in note for note in result.notes)
    assert result.problems == []


def test_metadata_only_fetches_the_csvs_and_lists_not_the_archives(nih, tmp_path):
    served_folder, _, plan, task = nih
    root = tmp_path / "data"
    with serve(served_folder) as served:
        result = _download(task, root, served.url, plan, metadata_only=True)
        fetched = sorted(name for name, _ in served.options.requests)
    assert fetched == sorted(
        ["BBox_List_2017.csv.gz", "Data_Entry_2017_v2020.csv.gz", "test_list.txt", "train_val_list.txt"]
    )
    assert result.problems == [] and any("78 of the 78 images" in note for note in result.notes)
    assert task.load_data(root).split_hash == task.split_sha256  # the split needs the metadata only
