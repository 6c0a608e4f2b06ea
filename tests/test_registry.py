import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmark.errors import NameClashError, UnknownNameError
from benchmark.models.registry import ENTRY_POINT_GROUP, MODELS, ModelSpec, _as_spec
from benchmark.registry import Registry
from benchmark.tasks import TASKS


def test_name_clash_raises():
    registry: Registry[int] = Registry("thing")
    registry.register("a", 1)
    with pytest.raises(NameClashError, match="'a' is already registered"):
        registry.register("a", 2)


def test_locate_loads_only_the_asked_item_and_names_loads_all():
    located: list[str] = []

    def locate(name: str) -> None:
        located.append(name)
        registry.register(name, 1)

    registry: Registry[int] = Registry("thing", populate=lambda: [registry.register(n, 0) for n in "bc"], locate=locate)
    assert registry.get("a") == 1 and located == ["a"]
    assert registry.names() == ["a", "b", "c"]


def test_looking_up_one_baseline_imports_only_its_family():
    """`benchmark run --model lotko_cnn` loads neither timm nor MONAI (each CLI process saves ~2.5 s)."""
    probe = (
        "import sys; from benchmark.models import MODELS; MODELS.get('lotko_cnn'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('baselines', 'timm', 'monai')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['baselines', 'baselines.lotko_cnn']"


def test_unknown_name_suggests_nearest():
    with pytest.raises(UnknownNameError, match="did you mean resnet18"):
        MODELS.get("resnet19")
    with pytest.raises(UnknownNameError, match="did you mean covid3"):
        TASKS.get("covid")


def test_unknown_name_without_close_match_lists_known_names():
    with pytest.raises(UnknownNameError, match=r"known: .*lotko_cnn"):
        MODELS.get("zzzzzz")


def _install_fake_plugin(site: Path) -> None:
    """A distribution on sys.path that declares one model in the entry-point group."""
    (site / "fake_cxr_plugin.py").write_text(
        textwrap.dedent(
            """
            from torch import nn
            from benchmark.models.registry import ModelSpec
            from benchmark.recipe import Recipe

            def build(inputs):
                return nn.Sequential(nn.Flatten(), nn.LazyLinear(inputs.num_outputs))

            SPEC = ModelSpec("plugin_net", build, Recipe(image_size=16, in_chans=1), "plugin", "test plugin")
            """
        )
    )
    dist = site / "fake_cxr_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-cxr-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nplugin_net = fake_cxr_plugin:SPEC\n")


def test_entry_point_models_are_listed_without_import_and_loaded_on_demand(tmp_path, monkeypatch):
    _install_fake_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry: Registry[ModelSpec] = Registry("model", ENTRY_POINT_GROUP, coerce=_as_spec)
    assert "plugin_net" in registry.names()
    assert "fake_cxr_plugin" not in sys.modules
    spec = registry.get("plugin_net")
    assert isinstance(spec, ModelSpec) and spec.name == "plugin_net"
    assert "fake_cxr_plugin" in sys.modules
    with pytest.raises(NameClashError):
        registry.register("plugin_net", spec)
