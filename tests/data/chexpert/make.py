"""Write a small copy of the CheXpert-v1.0-small layout: ``CheXpert-v1.0-small/{train,valid}.csv`` and
``{train,valid}/patientNNNNN/studyN/viewN_{frontal,lateral}.jpg``.

Training rows and images are generated. The validation part is either generated too or, given the
real ``CheXpert-v1.0-small`` folder, the real ``valid.csv`` (copied, so a test may edit it) and the
real ``valid/`` images (one symlink to the read-only originals).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

FOLDER = "CheXpert-v1.0-small"
FINDINGS = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)
HEADER = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *FINDINGS)
# Where each of chexpert3's findings draws a bright band, so a model has something to learn.
BANDS = {"Pleural Effusion": 2, "Edema": 1, "Cardiomegaly": 0}
TRAIN_VALUES = ("1.0", "0.0", "-1.0", "")  # real train.csv values, uncertain and blank included
VALID_VALUES = ("1.0", "0.0")  # valid.csv is radiologist consensus: no uncertain or blank labels


def make_chexpert_dataset(
    root: Path, n_train_patients: int = 60, n_valid_patients: int = 12, real: Path | None = None, seed: int = 0
) -> Path:
    """Write the dataset under ``root`` and return ``root`` (the folder that contains CheXpert-v1.0-small).

    ``real``: the real CheXpert-v1.0-small folder, whose valid.csv and valid/ images are used instead
    of generated ones.
    """
    rng = np.random.default_rng(seed)
    base = root / FOLDER
    base.mkdir(parents=True, exist_ok=True)
    train = _generate(base, "train", range(1, n_train_patients + 1), TRAIN_VALUES, rng)
    _write_csv(base / "train.csv", train)
    if real is None:
        first = n_train_patients + 1
        valid = _generate(base, "valid", range(first, first + n_valid_patients), VALID_VALUES, rng)
        _write_csv(base / "valid.csv", valid)
    else:
        shutil.copyfile(real / "valid.csv", base / "valid.csv")
        (base / "valid").symlink_to((real / "valid").resolve(), target_is_directory=True)
    return root


def _generate(
    base: Path, split: str, patients: range, values: tuple[str, ...], rng: np.random.Generator
) -> list[list[str]]:
    """CSV rows (real column order) for 1-2 studies per patient, each a frontal view and sometimes a lateral."""
    rows = []
    for patient in patients:
        sex, age = rng.choice(["Male", "Female"]), str(int(rng.integers(18, 91)))
        for study in range(1, int(rng.integers(1, 3)) + 1):
            labels = dict(zip(FINDINGS, rng.choice(values, size=len(FINDINGS)), strict=True))
            views = [("frontal", "Frontal", str(rng.choice(["AP", "PA"])))]
            if rng.random() < 0.3:
                views.append(("lateral", "Lateral", ""))
            for number, (view, frontal, position) in enumerate(views, start=1):
                path = f"{FOLDER}/{split}/patient{patient:05d}/study{study}/view{number}_{view}.jpg"
                _write_image(base.parent / path, labels, rng)
                rows.append([path, sex, age, frontal, position, *labels.values()])
    return rows


def _write_image(path: Path, labels: dict[str, str], rng: np.random.Generator, size: int = 48) -> None:
    pixels = rng.integers(0, 60, size=(size + 8, size), dtype=np.uint8)  # portrait, like many real images
    band = (size + 8) // 3
    for finding, k in BANDS.items():
        if labels[finding] == "1.0":
            pixels[k * band : (k + 1) * band, :] += 150
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=90)


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    lines = [",".join(HEADER)] + [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
