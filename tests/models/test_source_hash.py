"""A model's source hash covers every project file it imports, and not where the checkout lives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmark.models.registry import MODELS, ModelSpec
from benchmark.models.source import PROJECT_ROOT, SourceRoot, factory_roots, hash_sources, import_closure
from benchmark.recipe import Recipe
from benchmark.tasks.registry import TASKS_DIR_ENV
from tests.conftest import REPO

HEAD_USERS = ("densenet121", "resnet50", "inception_v3")  # the models built on baselines/_heads.py
UNRELATED = "lotko_cnn"

# Run keys and source hashes of a checkout's models, with nothing imported from any other checkout
KEYS_SCRIPT = """
import json, sys
from pathlib import Path

from tests.models.test_source_hash import keys_and_hashes

root = Path.cwd().resolve()
outside = sorted(
    m.__file__ for m in list(sys.modules.values())
    if getattr(m, "__file__", None) and m.__name__.split(".")[0] in ("benchmark", "baselines", "tasks", "tests")
    and not Path(m.__file__).resolve().is_relative_to(root)
)
print(json.dumps({**keys_and_hashes(), "outside": outside}))
"""


def keys_and_hashes() -> dict[str, dict[str, str]]:
    """The run keys (as ``benchmark sweep`` computes them) and source hashes of the models compared here."""
    from benchmark.training.runner import RunRequest, request_key

    names = (*HEAD_USERS, UNRELATED)
    return {
        "keys": {n: request_key(RunRequest(task="pneumoniamnist", model=n)) for n in names},
        "hashes": {n: MODELS.get(n).source_hash for n in names},
    }


def copy_checkout(destination: Path) -> Path:
    """The project's packages (code and task files) under ``destination``, without caches."""
    for package in ("benchmark", "baselines", "tasks", "tests"):
        shutil.copytree(REPO / package, destination / package, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def run_keys(checkout: Path) -> dict[str, dict[str, str]]:
    """``keys_and_hashes()`` of ``checkout``, computed in a subprocess that imports only from it."""
    env = {k: v for k, v in os.environ.items() if k != TASKS_DIR_ENV}
    env["PYTHONPATH"] = str(checkout)
    result = subprocess.run(
        [sys.executable, "-c", KEYS_SCRIPT], cwd=checkout, env=env, capture_output=True, text=True, check=True
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found.pop("outside") == [], "the copy imported modules of another checkout"
    return found


@pytest.fixture(scope="module")
def unedited(tmp_path_factory) -> dict[str, dict[str, str]]:
    """Run keys and source hashes of an unedited copy."""
    return run_keys(copy_checkout(tmp_path_factory.mktemp("checkout_a")))


def test_resnet50_covers_the_shared_head_and_the_recipe_it_starts_from():
    names = [f.name for f in MODELS.get("resnet50").source_files]
    assert names == sorted(names)
    for expected in ("baselines/resnet.py", "baselines/_heads.py", "baselines/densenet.py", "baselines/__init__.py"):
        assert expected in names
    # the framework modules the factory imports count too: a change there may change what the model is
    assert {"benchmark/__init__.py", "benchmark/models/registry.py", "benchmark/recipe.py"} <= set(names)
    unrelated = [f.name for f in MODELS.get(UNRELATED).source_files]
    assert [n for n in unrelated if n.startswith("baselines/")] == ["baselines/__init__.py", "baselines/lotko_cnn.py"]


def test_editing_the_shared_head_changes_the_run_keys_of_every_model_using_it(unedited, tmp_path):
    before = unedited
    checkout = copy_checkout(tmp_path / "checkout_b")
    heads = checkout / "baselines" / "_heads.py"
    source = heads.read_text()
    assert "class TransferClassifier" in source
    heads.write_text(
        source.replace("class TransferClassifier", "# an edit to the shared head\nclass TransferClassifier")
    )
    after = run_keys(checkout)
    for name in HEAD_USERS:
        assert after["keys"][name] != before["keys"][name], name
        assert after["hashes"][name] != before["hashes"][name], name
    assert after["keys"][UNRELATED] == before["keys"][UNRELATED]


def test_source_hash_does_not_depend_on_the_checkout_location(unedited, monkeypatch):
    monkeypatch.delenv(TASKS_DIR_ENV, raising=False)
    assert keys_and_hashes() == unedited  # this checkout's, the copy's in another folder


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_closure_follows_module_level_project_imports_only(tmp_path):
    """Relative and absolute imports, parent packages and class bodies count; imports inside functions
    or ``if TYPE_CHECKING:``, and modules outside the roots, do not."""
    _write(tmp_path / "pkg" / "__init__.py", "")
    _write(tmp_path / "pkg" / "sub" / "__init__.py", "from .c import C\n")
    _write(tmp_path / "pkg" / "sub" / "c.py", "C = 1\n")
    _write(tmp_path / "pkg" / "b.py", "import json\nB = 2\n")
    _write(tmp_path / "pkg" / "lazy.py", "")
    _write(tmp_path / "pkg" / "typing_only.py", "")
    _write(tmp_path / "pkg" / "in_class.py", "")
    _write(tmp_path / "other" / "__init__.py", "")
    entry = _write(
        tmp_path / "pkg" / "a.py",
        """
        from typing import TYPE_CHECKING

        import other
        from . import b
        from pkg.sub import C

        try:
            import torch
        except ImportError:
            torch = None

        if TYPE_CHECKING:
            from pkg import typing_only

        class Model:
            from pkg import in_class

        def build():
            from pkg import lazy
        """,
    )
    files = import_closure(entry, (SourceRoot(tmp_path, frozenset({"pkg"})),))
    assert [f.name for f in files] == [
        "pkg/__init__.py",
        "pkg/a.py",
        "pkg/b.py",
        "pkg/in_class.py",
        "pkg/sub/__init__.py",
        "pkg/sub/c.py",
    ]
    assert all(f.path.is_file() for f in files)


def test_a_submission_folder_counts_its_own_modules(tmp_path):
    folder = tmp_path / "team"
    _write(folder / "blocks.py", "WIDTH = 8\n")
    model = _write(folder / "model.py", "import blocks\nfrom benchmark.recipe import Recipe\n")
    files = import_closure(model, (PROJECT_ROOT, SourceRoot(folder)))
    names = [f.name for f in files]
    assert {"model.py", "blocks.py", "benchmark/recipe.py"} <= set(names)
    before = hash_sources(files)
    _write(folder / "blocks.py", "WIDTH = 16\n")
    assert hash_sources(import_closure(model, (PROJECT_ROOT, SourceRoot(folder)))) != before


def test_a_plugin_package_is_named_relative_to_its_own_root(tmp_path, monkeypatch):
    """An installed plugin's files are named from its top-level package, so its hash does not depend on
    where site-packages is; other installed packages are not followed."""
    _write(tmp_path / "site" / "team_pkg" / "__init__.py", "")
    _write(tmp_path / "site" / "team_pkg" / "layers.py", "import numpy\n")
    _write(
        tmp_path / "site" / "team_pkg" / "model.py",
        """
        from torch import nn

        from team_pkg.layers import numpy

        def build(inputs):
            return nn.Linear(1, inputs.num_outputs)
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    from team_pkg.model import build

    spec = ModelSpec("team_pkg_net", build, Recipe(), "pkg", "card")
    names = [f.name for f in spec.source_files]
    assert {"team_pkg/__init__.py", "team_pkg/layers.py", "team_pkg/model.py"} <= set(names)
    assert not any("numpy" in name or "torch" in name for name in names)
    assert factory_roots(build)[1] == SourceRoot((tmp_path / "site").resolve(), frozenset({"team_pkg"}))
