"""Record sections a trained run gets after its test set is scored, where its task has them.

``execute_run`` calls ``run_time_sections`` once the test predictions exist: external test sets the
task declares (``benchmark.external``), Google's expert labels for nih14 (``benchmark.stats.expert_labels``)
and metrics per subgroup (``benchmark.stats.subgroups``). Each returns None when it does not apply, and
only the sections that apply are added to the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from benchmark.data.dataset import TaskData
from benchmark.recipe import Recipe
from benchmark.tasks import Task


@dataclass(frozen=True)
class RunContext:
    """What a run-time section may use: the trained model and the data it was scored on."""

    task: Task
    data: TaskData
    model: nn.Module
    recipe: Recipe
    device: torch.device
    size: int  # the model's input size
    predictions: pd.DataFrame  # test predictions, metadata columns joined
    thresholds: list[float] | None  # as evaluated (None: the task's fixed threshold)
    skip_corrupt: bool


def run_time_sections(context: RunContext) -> dict[str, Any]:
    """The sections that apply to this run, by record field name."""
    from benchmark.external.run_time import external_section
    from benchmark.stats.expert_labels import expert_section
    from benchmark.stats.subgroups import subgroups_section

    sections = {
        "external": external_section(context),
        "expert": expert_section(context),
        "subgroups": subgroups_section(context),
    }
    return {name: value for name, value in sections.items() if value is not None}
