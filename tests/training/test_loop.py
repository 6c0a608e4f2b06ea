"""The training loop's contract: early stopping restores the best weights; class weights are sklearn's."""

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

from benchmark.data.prepared import PreparedSplit
from benchmark.models.registry import MODELS, ModelInputs
from benchmark.recipe import Recipe
from benchmark.training.inference import predict_logits
from benchmark.training.loop import FitOptions, fit
from benchmark.training.losses import TaskLoss, class_weight_tensor


def _split(n, seed, k=3):
    g = torch.Generator().manual_seed(seed)
    classes = torch.randint(0, k, (n,), generator=g)
    images = torch.randint(0, 255, (n, 16, 16), generator=g, dtype=torch.uint8).numpy()
    ids = [f"i{i}" for i in range(n)]
    return PreparedSplit(ids, [f"p{i}" for i in range(n)], images, np.arange(n), torch.eye(k)[classes])


def test_early_stopping_restores_the_best_epoch(tmp_path):
    """Random labels: validation loss soon rises, training stops `patience` epochs after the best."""
    recipe = MODELS.get("lotko_cnn").recipe.with_overrides(
        {"image_size": 16, "epochs": 30, "early_stopping_patience": 2, "lr": 0.01, "batch_size": 8}
    )
    train, val = _split(48, 0), _split(24, 1)
    torch.manual_seed(0)
    model = MODELS.get("lotko_cnn").build(ModelInputs(3, 1, 16))
    result = fit(model, recipe, "multiclass", train, val, FitOptions(tmp_path / "ckpt.pt", seed=0))
    losses = [row["val_loss"] for row in result.history]
    assert result.stopped_early
    assert result.best_epoch == int(np.argmin(losses))
    assert len(result.history) == result.best_epoch + 1 + 2
    loss = TaskLoss(recipe, "multiclass", train.targets, torch.device("cpu"))
    restored = float(loss(predict_logits(model, val, recipe, torch.device("cpu")), val.targets))
    assert restored == pytest.approx(losses[result.best_epoch], rel=1e-5)


def test_resuming_a_run_that_stopped_early_gives_the_same_result(tmp_path):
    """A retry after the run finished (a Ray task retried, `--resume` run twice) records what the run did."""
    recipe = MODELS.get("lotko_cnn").recipe.with_overrides(
        {"image_size": 16, "epochs": 30, "early_stopping_patience": 2, "lr": 0.01, "batch_size": 8}
    )
    train, val = _split(48, 0), _split(24, 1)
    options = FitOptions(tmp_path / "ckpt.pt", seed=0)
    torch.manual_seed(0)
    model = MODELS.get("lotko_cnn").build(ModelInputs(3, 1, 16))
    first = fit(model, recipe, "multiclass", train, val, options)
    assert first.stopped_early and len(first.history) < recipe.epochs
    again = MODELS.get("lotko_cnn").build(ModelInputs(3, 1, 16))
    second = fit(again, recipe, "multiclass", train, val, FitOptions(options.checkpoint, seed=0, resume=True))
    assert second.stopped_early
    assert second.resumed_from_epoch == len(first.history) - 1  # the last epoch it trained, not recipe.epochs
    assert (second.history, second.best_epoch) == (first.history, first.best_epoch)
    for name, tensor in model.state_dict().items():  # the best epoch's weights, restored from the checkpoint
        assert torch.equal(again.state_dict()[name], tensor)


def test_cross_entropy_class_weights_are_sklearn_balanced():
    classes = np.array([0] * 70 + [1] * 20 + [2] * 10)
    targets = torch.eye(3)[classes]
    weights = class_weight_tensor(Recipe(class_weights=True), "multiclass", targets)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=classes)
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-6)
    binary = torch.tensor(classes[:, None] == 1, dtype=torch.float32)
    weights = class_weight_tensor(Recipe(class_weights=True), "binary", binary)
    expected = compute_class_weight("balanced", classes=np.array([False, True]), y=binary[:, 0].numpy() == 1)
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-6)
    assert class_weight_tensor(Recipe(class_weights=False), "binary", binary) is None


def test_bce_masks_unknown_labels():
    recipe = Recipe(loss="bce")
    targets = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    logits = torch.tensor([[2.0, 100.0], [-1.0, 0.5]])
    loss = TaskLoss(recipe, "multilabel", targets, torch.device("cpu"))(logits, targets)
    known = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.0, 0.0, 1.0])
    )
    assert float(loss) == pytest.approx(float(known))


def test_reduce_on_plateau_lowers_the_learning_rate(tmp_path):
    recipe = MODELS.get("lotko_cnn").recipe.with_overrides(
        {"image_size": 16, "epochs": 6, "early_stopping_patience": None, "plateau_patience": 0, "lr": 0.01}
    )
    torch.manual_seed(0)
    model = MODELS.get("lotko_cnn").build(ModelInputs(3, 1, 16))
    result = fit(model, recipe, "multiclass", _split(32, 0), _split(16, 1), FitOptions(tmp_path / "c.pt", seed=0))
    rates = [row["lr"] for row in result.history]
    assert rates[0] == pytest.approx(0.01) and min(rates) < 0.01


def test_augmented_run_interrupted_mid_epoch_resumes_to_the_uninterrupted_run(tmp_path):
    """Augmentation is seeded by (seed, epoch, batch, rank): a resume replays the uninterrupted run."""
    augmentation = {
        "aug_rotation": 10.0,
        "aug_hflip": True,
        "aug_zoom": 0.1,
        "aug_shift_x": 0.1,
        "aug_shift_y": 0.05,
        "aug_fill": "reflection",
        "aug_brightness": 0.1,
        "aug_contrast": 0.1,
    }
    plain = MODELS.get("lotko_cnn").recipe.with_overrides({"image_size": 16, "epochs": 2, "lr": 0.01, "batch_size": 8})
    recipe = plain.with_overrides(augmentation)
    train, val = _split(24, 0), _split(8, 1)

    def run(recipe, checkpoint, **options):
        torch.manual_seed(0)
        model = MODELS.get("lotko_cnn").build(ModelInputs(3, 1, 16))
        return model, fit(model, recipe, "multiclass", train, val, FitOptions(tmp_path / checkpoint, seed=3, **options))

    def interrupt(epoch: int, batch: int) -> None:
        if epoch == 1 and batch == 1:
            raise KeyboardInterrupt

    model, clean = run(recipe, "clean.pt")
    with pytest.raises(KeyboardInterrupt):
        run(recipe, "resumed.pt", on_batch=interrupt)
    again, resumed = run(recipe, "resumed.pt", resume=True)
    assert resumed.resumed_from_epoch == 0
    columns = ["epoch", "train_loss", "lr", "val_loss", "val_auroc"]
    assert [[row[c] for c in columns] for row in resumed.history] == [
        [row[c] for c in columns] for row in clean.history
    ]
    for name, tensor in model.state_dict().items():
        assert torch.equal(again.state_dict()[name], tensor)
    _, unaugmented = run(plain.with_overrides({"epochs": 1}), "plain.pt")
    assert unaugmented.history[0]["train_loss"] != clean.history[0]["train_loss"]  # augmentation was applied
