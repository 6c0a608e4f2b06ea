"""What every dataset adapter returns: one row per image, and a way to decode it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from PIL import Image

SPLITS = ("train", "val", "test")
INDEX_COLUMNS = ("image_id", "patient_id", "official_split", "content_hash", "location")


@dataclass
class SourceIndex:
    """Images of one dataset as distributed.

    ``frame`` has the columns in INDEX_COLUMNS plus one float column per task label
    (NaN = unknown); ``official_split`` is the publisher's split or "" where there is none.
    ``load(row)`` decodes the image of a row of ``frame``. ``in_memory`` sources (npz files)
    decode in-process; the others are files at ``location``, decoded in parallel workers.
    """

    frame: pd.DataFrame
    load: Callable[[pd.Series], Image.Image]
    in_memory: bool = False
