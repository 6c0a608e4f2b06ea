"""A record's git section: the checkout's commit, dirty only when a tracked file changed."""

from __future__ import annotations

import subprocess

from benchmark.results.provenance import git_commit


def _git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_results_written_inside_the_checkout_do_not_make_it_dirty_but_an_edit_does(tmp_path):
    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "model.py").write_text("x = 1\n")
    _git(repo, "add", "model.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    head = _git(repo, "rev-parse", "HEAD")
    assert git_commit(repo) == {"commit": head, "dirty": False}
    (repo / "results" / "run").mkdir(parents=True)
    (repo / "results" / "run" / "record.json").write_text("{}")
    assert git_commit(repo) == {"commit": head, "dirty": False}
    (repo / "model.py").write_text("x = 2\n")
    assert git_commit(repo) == {"commit": head, "dirty": True}


def test_a_folder_outside_git_has_no_commit(tmp_path):
    assert git_commit(tmp_path) == {"commit": None, "dirty": None}
