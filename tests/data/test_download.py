"""MedMNIST download code against a local HTTP server on 127.0.0.1."""

import functools
import hashlib
import http.server
import threading

import pytest

from benchmark.cli import main
from benchmark.data.download import download_url
from benchmark.data.sources.medmnist import download_medmnist
from benchmark.errors import ChecksumError
from tests.fixtures.medmnist.make import make_medmnist_npz


@pytest.fixture
def served(tmp_path):
    """(base URL, served folder) of a throwaway HTTP server."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_with_matching_md5(served, tmp_path):
    base, folder = served
    fixture = make_medmnist_npz(folder / "pneumoniamnist.npz")
    source = {"flag": "pneumoniamnist", "url": f"{base}/pneumoniamnist.npz", "md5": _md5(fixture)}
    path = download_medmnist(tmp_path / "data", source)
    assert path == tmp_path / "data" / "pneumoniamnist" / "pneumoniamnist.npz"
    assert path.read_bytes() == fixture.read_bytes()
    assert not list(path.parent.glob("*.part"))


def test_bad_checksum_deletes_partial_file_and_says_so(served, tmp_path):
    base, folder = served
    make_medmnist_npz(folder / "pneumoniamnist.npz")
    destination = tmp_path / "data" / "pneumoniamnist.npz"
    with pytest.raises(ChecksumError, match=r"partial file .*\.part was deleted"):
        download_url(f"{base}/pneumoniamnist.npz", destination, md5="0" * 32)
    assert not destination.exists()
    assert not list(destination.parent.glob("*"))


def test_cli_download_uses_the_task_url(served, tmp_path, monkeypatch, capsys):
    """`benchmark data download` fetches what the task file names; here the URL points at 127.0.0.1.
    The fixture is not the real file, so the final check finds the split off the task's pin (exit 1)."""
    from benchmark.tasks import TASKS

    base, folder = served
    fixture = make_medmnist_npz(folder / "pneumoniamnist.npz")
    task = TASKS.get("pneumoniamnist")
    monkeypatch.setitem(task.source, "url", f"{base}/pneumoniamnist.npz")
    monkeypatch.setitem(task.source, "md5", _md5(fixture))
    assert main(["data", "download", "pneumoniamnist", "--data-root", str(tmp_path)]) == 1
    assert (tmp_path / "pneumoniamnist" / "pneumoniamnist.npz").read_bytes() == fixture.read_bytes()
    assert "differs from the task's pin" in capsys.readouterr().err
