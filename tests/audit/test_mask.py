"""The audit mask: exactly the documented rectangle, on train, val and test images alike, as the model gets them
(uint8 after resizing, before normalisation); bad bounds are typed errors; a masked task has its own hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.audit.mask import LUNG_HIDDEN, LUNG_ONLY, LungMask, MaskError
from benchmark.audit.task import MaskedTask
from benchmark.errors import ConfigError
from benchmark.tasks import Task

# Documented default: rows 15%-90%, columns 12%-88%. At 20 px, by hand: rows round(3.0)=3 to round(18.0)=18,
# columns round(2.4)=2 to round(17.6)=18 (end exclusive).
ROWS, COLS = slice(3, 18), slice(2, 18)


def synthetic(size: int = 20) -> np.ndarray:
    return (np.arange(size * size, dtype=np.int64).reshape(size, size) % 200 + 30).astype(np.uint8)


def test_default_region_by_hand() -> None:
    assert LungMask().region(20) == (3, 18, 2, 18)
    assert LungMask().region(64) == (10, 58, 8, 56)  # 9.6, 57.6, 7.68, 56.32 rounded


def test_lung_hidden_and_lung_only_touch_exactly_the_rectangle() -> None:
    image = synthetic()
    hidden = LungMask().apply(image, LUNG_HIDDEN)
    only = LungMask().apply(image, LUNG_ONLY)
    inside = np.zeros(image.shape, bool)
    inside[ROWS, COLS] = True
    assert (hidden[inside] == 0).all() and np.array_equal(hidden[~inside], image[~inside])
    assert (only[~inside] == 0).all() and np.array_equal(only[inside], image[inside])
    assert hidden.dtype == np.uint8 and np.array_equal(image, synthetic())  # the input is not modified


def test_fill_value_is_written() -> None:
    hidden = LungMask(fill=128).apply(synthetic(), LUNG_HIDDEN)
    assert (hidden[ROWS, COLS] == 128).all()


@pytest.mark.parametrize(
    ("rows", "cols"),
    [((0.5, 0.4), (0.1, 0.9)), ((-0.1, 0.9), (0.1, 0.9)), ((0.1, 0.9), (0.2, 1.3))],
)
def test_bounds_outside_the_image_are_refused(rows: tuple[float, float], cols: tuple[float, float]) -> None:
    with pytest.raises(MaskError, match=r"--(rows|cols)"):
        LungMask(rows=rows, cols=cols)


def test_mask_leaving_nothing_is_refused() -> None:
    with pytest.raises(MaskError, match="covers no pixel"):  # 8.0 and 8.32 round to the same row at 16 px
        LungMask(rows=(0.5, 0.52)).check(16)
    with pytest.raises(MaskError, match="covers the whole image"):
        LungMask(rows=(0.0, 1.0), cols=(0.0, 1.0)).check(16)
    assert issubclass(MaskError, ConfigError)
    LungMask().check(16)


def test_masked_task_has_its_own_hash(tiny_covid_task: Task) -> None:
    hidden = MaskedTask.of(tiny_covid_task, LungMask(), LUNG_HIDDEN)
    only = MaskedTask.of(tiny_covid_task, LungMask(), LUNG_ONLY)
    other_bounds = MaskedTask.of(tiny_covid_task, LungMask(rows=(0.2, 0.85)), LUNG_HIDDEN)
    hashes = {tiny_covid_task.task_hash, hidden.task_hash, only.task_hash, other_bounds.task_hash}
    assert len(hashes) == 4
    assert hidden.name == tiny_covid_task.name and hidden.unmasked().task_hash == tiny_covid_task.task_hash


@pytest.mark.parametrize("condition", [LUNG_HIDDEN, LUNG_ONLY])
def test_every_split_is_masked_before_normalisation(
    tiny_covid_task: Task, tiny_covid_root: Path, condition: str
) -> None:
    plain = tiny_covid_task.load_data(tiny_covid_root)
    masked = MaskedTask.of(tiny_covid_task, LungMask(), condition).load_data(tiny_covid_root)
    inside = np.zeros((20, 20), bool)
    inside[ROWS, COLS] = True
    hidden_part = inside if condition == LUNG_HIDDEN else ~inside
    for split in ("train", "val", "test"):
        original, seen = plain.prepare(split, 20), masked.prepare(split, 20)
        assert seen.image_ids == original.image_ids and len(seen) > 0
        (x_plain, y_plain), (x_seen, y_seen) = next(original.batches(1000)), next(seen.batches(1000))
        assert x_seen.dtype == x_plain.dtype and str(x_seen.dtype) == "torch.uint8"  # grey levels, not normalised
        a, b = x_plain.numpy()[:, 0], x_seen.numpy()[:, 0]
        assert (b[:, hidden_part] == 0).all(), split
        assert np.array_equal(b[:, ~hidden_part], a[:, ~hidden_part]), split
        assert (a[:, hidden_part] != 0).any()  # the mask did change something
        assert np.array_equal(y_seen.numpy(), y_plain.numpy())


def test_masked_task_scores_no_external_set() -> None:
    """covid3 declares Kermany as an external set; a masked model would score those images unmasked."""
    from benchmark.tasks import TASKS

    covid3 = TASKS.get("covid3")
    assert covid3.external
    masked = MaskedTask.of(covid3, LungMask(), LUNG_HIDDEN)
    assert masked.external is None and masked.unmasked().task_hash == covid3.task_hash
