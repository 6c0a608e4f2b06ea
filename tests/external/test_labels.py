"""Label maps applied to hand-made source frames: classes by rule, left out and counted, multilabel columns."""

from __future__ import annotations

import math

import pandas as pd

from benchmark.external.labels import CLASS_COLUMN, apply_label_map
from benchmark.external.spec import external_set
from benchmark.tasks import TASKS


def _kermany_frame() -> pd.DataFrame:
    """Rows as the kermany adapter indexes them (test split), names as the publisher writes them."""
    names = {
        "test/NORMAL/IM-0001-0001.jpeg": 0.0,
        "test/NORMAL/NORMAL2-IM-0095-0001.jpeg": 0.0,
        "test/PNEUMONIA/person16_virus_47.jpeg": 1.0,
        "test/PNEUMONIA/person52_virus_106.jpeg": 1.0,
        "test/PNEUMONIA/person447_virus_921_1.jpeg": 1.0,
        "test/PNEUMONIA/person100_bacteria_475.jpeg": 1.0,
        "test/PNEUMONIA/person100_bacteria_477.jpeg": 1.0,
    }
    return pd.DataFrame(
        {
            "image_id": list(names),
            "patient_id": [n.split("/")[-1].rsplit("_", 1)[0] for n in names],
            "official_split": "test",
            "location": [f"/data/{n}" for n in names],
            "PNEUMONIA": list(names.values()),
        }
    )


def test_covid3_map_keeps_normal_and_viral_and_counts_bacterial_left_out():
    task = TASKS.get("covid3")
    mapped = apply_label_map(_kermany_frame(), external_set(task, "kermany_viral"), task.problem, task.labels)
    frame = mapped.frame.set_index("image_id")
    assert mapped.class_counts == {"NORMAL": 2, "PNEUMONIA bacterial": 2, "PNEUMONIA viral": 3}
    assert mapped.left_out == {"PNEUMONIA bacterial": 2}
    assert len(frame) == 5 and not frame.index.str.contains("bacteria").any()
    assert frame.loc["test/PNEUMONIA/person447_virus_921_1.jpeg", list(task.labels)].tolist() == [0.0, 0.0, 1.0]
    assert frame.loc["test/NORMAL/IM-0001-0001.jpeg", list(task.labels)].tolist() == [0.0, 1.0, 0.0]
    assert frame[CLASS_COLUMN].value_counts().to_dict() == {"PNEUMONIA viral": 3, "NORMAL": 2}
    assert mapped.scored_labels == ["Normal", "Viral Pneumonia"]  # Covid: no image in this set


def test_rules_are_first_match_and_unmatched_images_are_left_out():
    task = TASKS.get("covid3")
    spec = external_set(task, "kermany_viral")
    frame = _kermany_frame()
    frame.loc[len(frame)] = ["test/PNEUMONIA/person9_fungus_1.jpeg", "person9", "test", "/x", 1.0]
    mapped = apply_label_map(frame, spec, task.problem, task.labels)
    assert mapped.left_out == {"(no rule matched)": 1, "PNEUMONIA bacterial": 2}
    assert len(mapped.frame) == 5


def test_pneumonia_map_turns_covid3_classes_into_normal_and_pneumonia():
    task = TASKS.get("pneumonia")
    rows = [("Covid", 1, 0, 0), ("Covid", 1, 0, 0), ("Normal", 0, 1, 0), ("Viral Pneumonia", 0, 0, 1)]
    frame = pd.DataFrame(
        {
            "image_id": [f"test/{c}/{k}.png" for k, (c, *_) in enumerate(rows)],
            "patient_id": [f"test/{c}/{k}.png" for k, (c, *_) in enumerate(rows)],
            "official_split": "test",
            "location": "/x",
            "Covid": [r[1] for r in rows],
            "Normal": [r[2] for r in rows],
            "Viral Pneumonia": [r[3] for r in rows],
        }
    )
    mapped = apply_label_map(frame, external_set(task, "covid3_test"), task.problem, task.labels, task.class_names)
    assert mapped.frame["PNEUMONIA"].tolist() == [1.0, 1.0, 0.0, 1.0]
    assert mapped.left_out == {} and mapped.class_counts == {"Covid": 2, "Normal": 1, "Viral Pneumonia": 1}


def test_multilabel_map_renames_mapped_columns_and_leaves_the_rest_unscored():
    task = TASKS.get("nih14")
    frame = pd.DataFrame(
        {
            "image_id": ["a.jpg", "b.jpg"],
            "patient_id": ["p1", "p1"],
            "official_split": "test",
            "location": "/x",
            "Pleural Effusion": [1.0, 0.0],
            "Edema": [0.0, 1.0],
            "Cardiomegaly": [1.0, 1.0],
        }
    )
    mapped = apply_label_map(frame, external_set(task, "chexpert_valid"), task.problem, task.labels)
    out = mapped.frame
    assert out["Effusion"].tolist() == [1.0, 0.0] and out["Edema"].tolist() == [0.0, 1.0]
    assert out["Cardiomegaly"].tolist() == [1.0, 1.0]
    assert all(math.isnan(v) for v in out["Atelectasis"]) and all(math.isnan(v) for v in out["No Finding"])
    assert mapped.scored_labels == ["Cardiomegaly", "Effusion", "Edema"]  # in the task's label order
    assert len(out) == 2 and mapped.left_out == {}


def test_chexpert3_map_on_nih_columns_lists_the_unscored_nih_labels():
    task = TASKS.get("chexpert3")
    spec = external_set(task, "nih14_test")
    frame = pd.DataFrame({"image_id": ["x.png"], "patient_id": ["1"], "official_split": "test", "location": "/x"})
    for label in spec.source_labels:
        frame[label] = [1.0 if label in ("Effusion", "Mass") else 0.0]
    mapped = apply_label_map(frame, spec, task.problem, task.labels)
    assert mapped.frame[list(task.labels)].iloc[0].tolist() == [1.0, 0.0, 0.0]
    assert len(mapped.unmapped_labels) == 12 and "Mass" in mapped.unmapped_labels
