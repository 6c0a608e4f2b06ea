"""NIH's sex, age and view joined to NIH-named predictions (lung3_64) by image id, on hand-made frames and files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.errors import DatasetNotFoundError, StatisticsError
from benchmark.stats.subgroup_metadata import (
    SubgroupMetadataError,
    join_nih_metadata,
    metadata_roots,
    with_subgroup_metadata,
)

HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
)
ROWS = [
    "00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.168,0.168",
    "00000007_000.png,Mass,0,7,58,F,AP,2500,2048,0.168,0.168",
    "00000007_001.png,Mass,1,7,59,F,PA,2500,2048,0.168,0.168",
    "00000010_000.png,Effusion,0,10,36,F,PA,2500,2048,0.168,0.168",
]


def _predictions(ids: list[str], patients: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"image_id": ids, "patient_id": patients, "true:a": 1.0, "score:a": 0.5})


def _entries() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image_id": ["00000002_000.png", "00000007_000.png", "00000007_001.png"],
            "patient_id": ["2", "7", "7"],
            "sex": ["M", "F", "F"],
            "age": [81.0, 58.0, 59.0],
            "view_position": ["PA", "AP", "PA"],
        }
    )


def test_join_by_image_id_keeps_order_and_leaves_unlisted_images_unknown():
    ids = ["00000007_001.png", "00000002_000.png", "00000099_000.png"]
    joined = join_nih_metadata(_predictions(ids, ["00000007", "2", "99"]), _entries())
    assert joined["image_id"].tolist() == ids
    assert joined["sex"].tolist()[:2] == ["F", "M"] and joined["age"].tolist()[:2] == [59.0, 81.0]
    assert joined["view_position"].tolist()[:2] == ["PA", "PA"]
    assert joined.loc[2, ["sex", "age", "view_position"]].isna().all()
    assert "_nih_patient" not in joined


def test_join_refuses_an_image_whose_patient_differs_from_nihs():
    with pytest.raises(StatisticsError, match=r"run x: image 00000007_000\.png is patient 8 there but patient 7"):
        join_nih_metadata(_predictions(["00000007_000.png"], ["8"]), _entries(), "run x")


def test_with_subgroup_metadata_reads_the_csv_from_the_first_root_that_holds_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CXRBENCH_DATA", raising=False)
    empty, root = tmp_path / "empty", tmp_path / "root"
    (root / "nih14").mkdir(parents=True)
    empty.mkdir()
    text = "\n".join([HEADER, *ROWS]) + "\n"
    (root / "nih14" / "Data_Entry_2017_v2020.csv.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    predictions = _predictions(["00000010_000.png", "00000007_000.png"], ["10", "7"])
    joined = with_subgroup_metadata(predictions, metadata_roots(empty, str(root)))
    assert joined[["sex", "age", "view_position"]].values.tolist() == [["F", 36.0, "PA"], ["F", 58.0, "AP"]]

    with pytest.raises(SubgroupMetadataError, match=r"Data_Entry_2017_v2020.*found under none of.*empty") as exc:
        with_subgroup_metadata(predictions, [empty])
    assert isinstance(exc.value, DatasetNotFoundError)

    carrying = predictions.assign(sex=["M", "F"])  # nih14/chexpert3 predictions carry their own columns
    assert with_subgroup_metadata(carrying, [empty]) is carrying
    other = predictions.assign(image_id=["covid/a.png", "covid/b.png"])  # not NIH's names: no metadata applies
    assert with_subgroup_metadata(other, [empty]) is None


def test_metadata_roots_order_named_then_environment_then_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("CXRBENCH_DATA", str(tmp_path / "env"))
    roots = metadata_roots(tmp_path / "named", str(tmp_path / "recorded"))
    assert roots == [tmp_path / "named", tmp_path / "env", tmp_path / "recorded"]
    assert metadata_roots(None, str(tmp_path / "env")) == [tmp_path / "env"]


def test_real_lung3_64_ids_join_nihs_real_metadata(shared_data: Path):
    """Hand-checked against the real Data_Entry CSV rows of two NIH images."""
    predictions = _predictions(["00000002_000.png", "00000013_005.png"], ["2", "13"])
    joined = with_subgroup_metadata(predictions, [shared_data])
    csv = pd.read_csv(shared_data / "nih14" / "Data_Entry_2017_v2020.csv.gz").set_index("Image Index")
    for row in joined.itertuples():
        nih = csv.loc[row.image_id]
        assert (row.sex, row.age, row.view_position) == (
            nih["Patient Gender"],
            float(nih["Patient Age"]),
            nih["View Position"],
        )
    assert not np.isnan(joined["age"]).any()
