"""Every registered model builds, runs forward and backward on a batch of 2 at its recipe size, capped
(as timm's tests cap theirs) at a size that still runs every layer; the checks that need the recipe
size (parameter counts of the reports, fixed-size inputs) are in the per-family test files."""

import pytest
import torch

from benchmark.models.io import num_outputs
from benchmark.models.registry import MODELS, ModelInputs
from tests.models.checks import BASELINE_NAMES, check_size

SMALLEST_TASK_SIZE = 28  # recipes with image_size=None take the task's size; PneumoniaMNIST's is the smallest


def test_parametrised_names_are_the_registered_models():
    """The tests below are parametrised by names parsed from baselines/ (collection then imports no model)."""
    assert MODELS.names() == BASELINE_NAMES


@pytest.mark.parametrize("name", BASELINE_NAMES)
@pytest.mark.parametrize("problem, n_labels", [("binary", 1), ("multiclass", 3), ("multilabel", 15)])
def test_model_forward_backward(name, problem, n_labels):
    """Heads for every task kind: 2 logits (binary), 3 classes (covid3, lung3_64), 15 labels (nih14)."""
    spec = MODELS.get(name)
    size = check_size(name, spec.recipe.image_size or SMALLEST_TASK_SIZE)
    outputs = num_outputs(spec.recipe, problem, n_labels)
    torch.manual_seed(0)
    model = spec.build(ModelInputs(outputs, spec.recipe.in_chans, size))
    x = torch.randn(2, spec.recipe.in_chans, size, size)
    logits = model(x)
    assert logits.shape == (2, outputs)
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_model_cards_and_source_hashes():
    for name in MODELS.names():
        spec = MODELS.get(name)
        assert spec.card and spec.family
        assert len(spec.source_hash) == 64


def test_resnet18_uses_the_small_image_stem_below_64_pixels():
    spec = MODELS.get("resnet18")
    small = spec.build(ModelInputs(2, 1, 28))
    large = spec.build(ModelInputs(2, 1, 224))
    assert small.conv1.stride == (1, 1) and isinstance(small.maxpool, torch.nn.Identity)
    assert large.conv1.stride == (2, 2)


def test_lotko_cnn_follows_report_000():
    model = MODELS.get("lotko_cnn").build(ModelInputs(3, 1, 64))
    convs = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    dropouts = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert convs == [32, 64, 128]
    assert dropouts and all(p == 0.3 for p in dropouts)
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())
    recipe = MODELS.get("lotko_cnn").recipe
    assert (recipe.image_size, recipe.in_chans, recipe.batch_size, recipe.class_weights) == (64, 1, 32, True)
    assert recipe.schedule == "plateau" and recipe.early_stopping_patience == 10


def test_pretrained_weights_load_from_a_local_file(tmp_path):
    spec = MODELS.get("lotko_cnn")
    source = spec.build(ModelInputs(3, 1, 64))
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    recipe = spec.recipe.with_overrides({"pretrained_weights": str(path)})
    torch.manual_seed(123)
    loaded = spec.build(ModelInputs(2, 1, 64), recipe)  # different head: kept fresh
    first_conv = next(k for k in source.state_dict() if k.endswith("weight"))
    assert torch.equal(loaded.state_dict()[first_conv], source.state_dict()[first_conv])
    assert loaded.state_dict()["head.3.weight"].shape[0] == 2


def test_model_card_lists_report_recipe_and_every_task(capsys):
    from benchmark.cli import main
    from benchmark.tasks import TASKS

    assert main(["models", "--show", "resnet18"]) == 0
    out = capsys.readouterr().out
    assert "source report: MedMNIST v2" in out and "batch_size = 128" in out and "schedule = multistep" in out
    expected = sum(p.numel() for p in MODELS.get("resnet18").build(ModelInputs(2, 1, 28)).parameters())
    assert f"pneumoniamnist    28 px  {expected:>12,}" in out
    assert all(name in out for name in TASKS.names())
