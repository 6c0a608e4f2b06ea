"""Write a small copy of the Kermany layout: ``chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg``.

File names follow every pattern of the real set (single and multi-image normal patients, ``NORMAL2-``
names, bacterial and viral cases, the ``_1`` suffix), and the official ``val/`` folder holds four of
the 16 names the full download has there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

TRAIN_NORMAL = [
    *(f"IM-{n:04d}-0001" for n in range(115, 135, 2)),  # 10 single-image patients
    "IM-0429-0001-0001",
    "IM-0429-0001-0002",  # one patient, two images
    *(f"NORMAL2-IM-{n:04d}-0001" for n in range(927, 933)),
]
TRAIN_PNEUMONIA = [
    *(f"person{n}_bacteria_{3 * n}" for n in range(1000, 1010)),
    "person1_bacteria_1",
    "person1_bacteria_2",  # one patient, two images
    "person1_virus_6",  # another child: viral cases are numbered on their own
    *(f"person{n}_virus_{2 * n}" for n in range(1100, 1105)),
    "person447_virus_921_1",
]
VAL_NORMAL = ["NORMAL2-IM-1427-0001", "NORMAL2-IM-1430-0001"]
VAL_PNEUMONIA = ["person1946_bacteria_4874", "person1946_bacteria_4875"]
TEST_NORMAL = ["IM-0001-0001", "IM-0003-0001", "IM-0011-0001-0001", "IM-0011-0001-0002", "NORMAL2-IM-0095-0001"]
TEST_PNEUMONIA = ["person100_bacteria_475", "person100_bacteria_477", "person16_virus_47", "person52_virus_106"]

LAYOUT = {
    ("train", "NORMAL"): TRAIN_NORMAL,
    ("train", "PNEUMONIA"): TRAIN_PNEUMONIA,
    ("val", "NORMAL"): VAL_NORMAL,
    ("val", "PNEUMONIA"): VAL_PNEUMONIA,
    ("test", "NORMAL"): TEST_NORMAL,
    ("test", "PNEUMONIA"): TEST_PNEUMONIA,
}
# (copy, original): byte-identical files, as the real set has (there within one split)
TEST_LEAK = ("train/PNEUMONIA/person30_bacteria_156.jpeg", "test/PNEUMONIA/person16_virus_47.jpeg")
TRAIN_TWIN = ("train/NORMAL/IM-0137-0001.jpeg", "train/NORMAL/IM-0115-0001.jpeg")


def make_kermany_dataset(root: Path, size: int = 32, seed: int = 0) -> Path:
    """Pneumonia images carry a bright lower band, normal ones do not; every image has its own noise.

    Adds a train copy of a test image (a leak to remove) and two identical train images under
    different patients. Returns ``root`` (the folder that contains ``chest_xray``).
    """
    rng = np.random.default_rng(seed)
    base = root / "chest_xray"
    for (split, class_dir), stems in LAYOUT.items():
        folder = base / split / class_dir
        folder.mkdir(parents=True, exist_ok=True)
        for stem in stems:
            pixels = rng.integers(20, 90, size=(size, size), dtype=np.uint8)
            if class_dir == "PNEUMONIA":
                pixels[size // 2 :, :] += 140
            Image.fromarray(pixels).convert("RGB").save(folder / f"{stem}.jpeg", quality=95)
    for copy, original in (TEST_LEAK, TRAIN_TWIN):
        (base / copy).write_bytes((base / original).read_bytes())
    (base / "train" / "NORMAL" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # macOS litter, not an image
    return root
