"""Write a tiny NIH ChestX-ray14 in its distributed layout: a Data_Entry CSV, the official
``train_val_list.txt`` / ``test_list.txt``, PNGs in ``images_001/images/`` (Kaggle's layout)
or a flat ``images/`` (NIH's box archives unpacked), and optionally ``BBox_List_2017.csv``."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image

LABELS = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
    "No Finding",
)
# The eight findings NIH drew expert boxes for; the box list spells Infiltration "Infiltrate".
BOX_FINDINGS = LABELS[:8]  # Atelectasis ... Pneumothorax
BBOX_HEADER = "Image Index,Finding Label,Bbox [x,y,w,h],,,"
_TAIL = "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
# release -> (file name, header, row suffix, age format), as the releases write them.
RELEASES = {
    # NIH's 2020 re-release as torchxrayvision ships it (the file in ../shared/data/nih14).
    "v2020": (
        "Data_Entry_2017_v2020.csv",
        f"Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,{_TAIL}",
        "",
        "{age}",
    ),
    # The 2020 file on NIH's box: "Patient Sex", a trailing comma on every line.
    "v2020_box": (
        "Data_Entry_2017_v2020.csv",
        f"Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Sex,View Position,{_TAIL},",
        ",",
        "{age}",
    ),
    # The 2017 original: ages as "058Y", a trailing comma on every line.
    "2017": (
        "Data_Entry_2017.csv",
        f"Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,{_TAIL},",
        ",",
        "{age:03d}Y",
    ),
}


def findings_of(position: int, test: bool) -> list[str]:
    """Test image j carries label j mod 15 (so every label has positives and negatives in test),
    plus a second finding on every third image; training images mix labels the same way."""
    first = LABELS[position % len(LABELS)]
    if first == "No Finding":
        return [first]
    second = LABELS[(position * 7 + (3 if test else 1)) % 14]
    return sorted({first, second}) if position % 3 == 0 else [first]


def make_nih_dataset(
    folder: Path,
    n_patients: int = 26,
    images_per_patient: int = 3,
    n_test_patients: int = 6,
    size: int = 48,
    release: str = "v2020",
    compress: bool = False,
    layout: str = "chunks",
    seed: int = 0,
    boxes: bool = False,
) -> Path:
    """Write the dataset into ``folder`` (which becomes NIH's folder) and return ``folder``.

    The last ``n_test_patients`` patients form test_list.txt. Each finding brightens its own
    horizontal band of the image, so a model has something to learn; one image is RGBA (NIH
    has a few). ``layout`` is "chunks" (images_001/images/) or "flat" (images/). With ``boxes``,
    ``BBox_List_2017.csv`` boxes each boxable finding of every other test image (positions 0, 2, ...)
    exactly on that finding's band: ``band_box`` gives the box in pixels of the ``size`` px image.
    """
    rng = np.random.default_rng(seed)
    name, header, suffix, age_format = RELEASES[release]
    image_dir = folder / ("images_001/images" if layout == "chunks" else "images")
    image_dir.mkdir(parents=True, exist_ok=True)
    lines, lists, box_lines = [header], {"train": [], "test": []}, [BBOX_HEADER]
    first_test = n_patients - n_test_patients
    for patient in range(1, n_patients + 1):
        test = patient > first_test
        for follow_up in range(images_per_patient):
            image_id = f"{patient:08d}_{follow_up:03d}.png"
            position = len(lists["test" if test else "train"])
            findings = findings_of(position, test)
            age, sex, view = 30 + patient + follow_up, "MF"[patient % 2], ("PA", "AP")[follow_up % 2]
            lines.append(
                f"{image_id},{'|'.join(findings)},{follow_up},{patient},{age_format.format(age=age)},{sex},{view},"
                f"2500,2048,0.168,0.168{suffix}"
            )
            lists["test" if test else "train"].append(image_id)
            if test and position % 2 == 0:
                for finding in (f for f in findings if f in BOX_FINDINGS):
                    x, y, w, h = band_box(finding, size)
                    spelling = "Infiltrate" if finding == "Infiltration" else finding
                    box_lines.append(f"{image_id},{spelling},{x},{y},{w},{h}")
            _write_image(image_dir / image_id, findings, size, rng, rgba=(patient, follow_up) == (2, 1))
    text = "\n".join(lines) + "\n"
    if compress:
        (folder / f"{name}.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        (folder / name).write_text(text)
    # NIH's list files have no trailing newline.
    (folder / "train_val_list.txt").write_text("\n".join(lists["train"]))
    (folder / "test_list.txt").write_text("\n".join(lists["test"]))
    if boxes:
        (folder / "BBox_List_2017.csv").write_text("\n".join(box_lines) + "\n")
    return folder


def band_box(finding: str, size: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the horizontal band that ``finding`` brightens in a ``size`` px image."""
    band = max(1, size // len(LABELS))
    return 0, LABELS.index(finding) * band, size, band


def _write_image(path: Path, findings: list[str], size: int, rng: np.random.Generator, rgba: bool) -> None:
    pixels = rng.integers(0, 60, size=(size, size), dtype=np.uint8)
    for finding in findings:
        _, y, _, h = band_box(finding, size)
        pixels[y : y + h, :] += 150
    image = Image.fromarray(pixels)
    (image.convert("RGBA") if rgba else image).save(path)
