"""Split rules: patient-wise carve, stratification, duplicate resolution, canonical hash."""

import hashlib

import numpy as np
import pandas as pd

from benchmark.data.split import apply_split_rule, split_sha256

RULE = {"rule": "carve_val_from_train", "val_fraction": 0.2, "seed": 0, "stratify": True}


def _frame(n_patients=200, images_per_patient=3, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        label = int(rng.random() < 0.3)
        split = "test" if p % 5 == 0 else "train"
        for i in range(images_per_patient):
            rows.append(
                {
                    "image_id": f"p{p:03d}_{i}",
                    "patient_id": f"p{p:03d}",
                    "official_split": split,
                    "content_hash": f"h{p}_{i}",
                    "location": "",
                    "y": float(label),
                }
            )
    return pd.DataFrame(rows)


def test_carve_is_patient_wise_and_stratified():
    frame, report = apply_split_rule(_frame(), RULE, ["y"])
    per_patient = frame.groupby("patient_id")["split"].nunique()
    assert per_patient.max() == 1
    train, val = frame[frame.split == "train"], frame[frame.split == "val"]
    assert abs(len(val) / (len(val) + len(train)) - 0.2) < 0.03
    assert abs(train.y.mean() - val.y.mean()) < 0.05
    assert report.counts == {"train": len(train), "val": len(val), "test": 120}
    assert report.within_split_duplicates == [] and report.removed_duplicates == []


def test_carve_is_reproducible_and_seed_dependent():
    a, _ = apply_split_rule(_frame(), RULE, ["y"])
    b, _ = apply_split_rule(_frame(), RULE, ["y"])
    c, _ = apply_split_rule(_frame(), {**RULE, "seed": 1}, ["y"])
    assert split_sha256(a) == split_sha256(b) != split_sha256(c)


def test_train_copy_of_a_test_image_is_removed_from_train():
    frame = _frame(20, 1)
    leak = frame.iloc[[0]].assign(image_id="leak", patient_id="other", official_split="train")
    frame, report = apply_split_rule(pd.concat([frame, leak]), {"rule": "official"}, ["y"])
    assert "leak" not in set(frame.image_id)
    assert report.removed_duplicates == [
        {"image_id": "leak", "split": "train", "duplicate_of": "p000_0", "duplicate_split": "test"}
    ]


def test_unhashed_images_are_never_taken_for_duplicates():
    frame = _frame(20, 2).assign(content_hash=None)
    out, report = apply_split_rule(frame, RULE, ["y"])
    assert len(out) == len(frame) and report.removed_duplicates == [] and report.within_split_duplicates == []


def test_split_hash_is_sha256_of_sorted_listing():
    frame = pd.DataFrame({"image_id": ["b", "a"], "split": ["test", "train"]})
    assert split_sha256(frame) == hashlib.sha256(b"a\ttrain\nb\ttest\n").hexdigest()


def test_stratified_random_split_60_20_20_by_patient():
    frame = _frame(300, 2).assign(official_split="")
    rule = {"rule": "stratified_random", "fractions": {"train": 0.6, "val": 0.2, "test": 0.2}, "seed": 3}
    out, report = apply_split_rule(frame, rule, ["y"])
    assert out.groupby("patient_id")["split"].nunique().max() == 1
    for split, share in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        assert abs(report.counts[split] / len(out) - share) < 0.02
        assert abs(out.loc[out.split == split, "y"].mean() - out.y.mean()) < 0.05


def test_vectorised_fold_search_gives_scikit_learns_folds():
    from sklearn.model_selection import StratifiedGroupKFold as Reference

    from benchmark.data.split import StratifiedGroupKFold

    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(50, 400))
        y = rng.integers(0, int(rng.integers(2, 6)), n)
        groups = rng.integers(0, max(5, n // 3), n)
        splits = int(rng.integers(2, 8))
        ours = [
            v.tolist() for _, v in StratifiedGroupKFold(splits, shuffle=True, random_state=trial).split(y, y, groups)
        ]
        ref = [v.tolist() for _, v in Reference(splits, shuffle=True, random_state=trial).split(y, y, groups)]
        assert ours == ref
