"""What the report and site tests share: a small generated results folder (fixture records, no training)
with every kind of section a report shows, and an HTML reader (the standard library's parser)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.results.derived import write_derived
from benchmark.results.store import ResultsDir
from tests.fixtures.runs.make import (
    ToyModel,
    fixture_record,
    make_predictions,
    publish_record,
    scores,
    toy_task,
    write_saliency_cache,
    write_task_runs,
)

MULTICLASS = toy_task("multiclass", ("Covid", "Normal", "Viral Pneumonia"), name="mc3")
MULTILABEL = toy_task("multilabel", ("Effusion", "Mass"), task_hash="e" * 64, name="ml2")
SUBGROUPS = {
    "rows": [
        {"attribute": "sex", "group": "F", "metric": "auroc", "n_images": 40, "n_patients": 20, "value": 0.81,
         "ci_low": 0.70, "ci_high": 0.90},
        {"attribute": "sex", "group": "M", "metric": "auroc", "n_images": 44, "n_patients": 22, "value": 0.74,
         "ci_low": 0.61, "ci_high": 0.85},
    ],
    "settings": {"n_resamples": 200, "seed": 0, "unit": "patient"},
    "summary": {"gaps": [{"attribute": "sex", "metric": "auroc", "high_group": "F", "low_group": "M", "gap": 0.07,
                          "ci_low": -0.08, "ci_high": 0.21}]},
}  # fmt: skip
# as benchmark robustness writes it: the clean images at severity 0, then each corruption at severities 1..5
ROBUSTNESS = {
    "rows": [{"corruption": "clean", "severity": 0, "metric": "auroc", "value": 0.9, "ci_low": 0.85, "ci_high": 0.95,
              "relative_drop": 0.0}]
    + [
        {"corruption": c, "severity": s, "metric": "auroc", "value": 0.9 - 0.05 * s * (k + 1),
         "ci_low": 0.85 - 0.05 * s * (k + 1), "ci_high": 0.95 - 0.05 * s * (k + 1),
         "relative_drop": 0.05 * s * (k + 1) / 0.9}
        for k, c in enumerate(("gaussian_noise", "jpeg")) for s in range(1, 6)
    ],
    "settings": {"n_resamples": 200, "seed": 0},
    "summary": {"metric": "auroc", "mean_relative_drop": {"gaussian_noise": 0.17, "jpeg": 0.33, "overall": 0.25},
                "mean_relative_drop_by_metric": {"auroc": {"gaussian_noise": 0.17, "jpeg": 0.33, "overall": 0.25}}},
}  # fmt: skip
EXTERNAL = {
    "rows": [{"metric": "auroc", "value": 0.6543, "ci_low": 0.6, "ci_high": 0.7}],
    "settings": {"label_map": {"Covid": "covid"}, "n_images": 50},
}


def build_results(root: Path) -> dict[str, Any]:
    """A multiclass task with a ranked entry (3 seeds) and an unranked one, a multilabel task with one
    ranked entry; the first run has a saliency cache and a robustness derived result, a separate run
    (seed 3 of another model, unranked) holds subgroups and external sections in its record and a
    malformed derived result. Returns the run ids by role."""
    rng = np.random.default_rng(7)
    mc = write_task_runs(root, MULTICLASS, [ToyModel("good", 1.2), ToyModel("weak", 0.4, (0,))], 50, rng)
    ml = write_task_runs(root, MULTILABEL, [ToyModel("good", 1.0)], 40, rng, hour=10)
    write_saliency_cache(root, mc[0], rng)
    write_derived(root / mc[0], "robustness", "default", ROBUSTNESS, {"predictions_sha256": "0" * 64})
    # a run whose record carries subgroups and an external set (what run_sections fills at run time)
    labels = tuple(MULTICLASS["labels"])
    same = ResultsDir(root).load_predictions(mc[0])  # the task's test images and truth
    y = same[[f"true:{label}" for label in labels]].to_numpy()
    frame = make_predictions(same["patient_id"].to_numpy(), y, labels, scores(y, "multiclass", 0.8, rng))
    record = fixture_record("20250102T000000Z-mc3-sections-s0", frame, MULTICLASS, "sections", 0, run_key="sect")
    record = record.with_sections({"subgroups": SUBGROUPS, "external": {"nih_covid": EXTERNAL}})
    publish_record(root, record, frame)
    write_derived(root / record.run_id, "expert", "broken", {"not rows": 1}, {})
    return {"multiclass": mc, "multilabel": ml, "sections": record.run_id}


class PageReader(HTMLParser):
    """Tables (header + rows of cell text), every href/src, script tags, plot divs and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.urls: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.plots: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("href", "src") and v is not None]
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "script":
            self.scripts.append(found)
            self._in_script = True
        elif tag == "div" and "plot" in (found.get("class") or "").split():
            self.plots.append(found.get("id") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if not self._in_script:
            self.text.append(data)


def read_page(text: str) -> PageReader:
    reader = PageReader()
    reader.feed(text)
    return reader


def table_with(reader: PageReader, header: str) -> list[list[str]]:
    """The first table whose header row holds ``header``."""
    return next(t for t in reader.tables if t and header in t[0])
