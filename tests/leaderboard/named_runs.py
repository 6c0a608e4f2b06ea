"""A results folder whose names are hostile user text (what a prediction submission's ``--name``, a plugin's
name or a task's labels can hold): a newline, a ``|``, a Markdown link and image, an HTML link, in the model
names, the task name and the task's label. Fixture records (tests/fixtures/runs/make.py), no training."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from benchmark.text import one_line
from tests.fixtures.runs.make import fixture_record, make_predictions, patients, publish_record, scores, toy_task, truth

EVIL = "http://evil.example"
NAMES = (
    "line\nbreak",
    "pipe|name",
    f"[x]({EVIL})",
    f"![i]({EVIL}/i.png)",
    f'<a href="{EVIL}/a">html</a>',
)
TASK = f"task<b>bold</b>[t]({EVIL}/t)"
LABEL = f"![lab]({EVIL}/label.png)"
SEEDS = (0, 1, 2)
# What remark-gfm (Streamlit's Markdown) links in text after the escapes are read: its own patterns.
AUTOLINK_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE)
AUTOLINK_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")


def run_id(model: int, seed: int) -> str:
    return f"20250101T00000{model}Z-named-m{model}-s{seed}"


def write_named_runs(root: Path, n_patients: int = 40) -> list[str]:
    """Every name of NAMES as a model with 3 seeds (a ranked entry) on task TASK with one label LABEL,
    better models later (so every entry is compared); returns the run ids, in NAMES order."""
    rng = np.random.default_rng(14)
    task = toy_task(labels=(LABEL,), name=TASK)
    labels = tuple(task["labels"])
    pid = patients(n_patients, rng, 3)
    y = truth(pid, labels, "binary", rng)
    ids = []
    for m, name in enumerate(NAMES):
        for seed in SEEDS:
            frame = make_predictions(pid, y, labels, scores(y, "binary", 0.5 + 0.4 * m, rng))
            record = fixture_record(run_id(m, seed), frame, task, name, seed, run_key=f"named{m}")
            publish_record(root, record, frame)
            ids.append(record.run_id)
    return ids


def unescaped(markdown: str) -> str:
    """The text a CommonMark reader sees in ``markdown``: a backslash before ASCII punctuation dropped."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def live_markup(markdown: str, text_autolinks: bool = True) -> list[str]:
    """What in ``markdown`` a renderer would turn into a link, an image or HTML: link or image syntax
    (``](``, ``![``), HTML or autolinks (``<`` then a letter, ``/`` or ``!``) and URLs (``://``) left
    unescaped; with ``text_autolinks``, also the URL and e-mail patterns remark-gfm (Streamlit) links in
    the text once the escapes are read."""
    bare = re.sub(r"\\[!-/:-@\[-`{-~]", "", markdown)  # every escaped character removed
    bare = CODE_SPAN.sub("", bare)  # a code span shows its content as it is
    found = re.findall(r"\]\s*[(\[]|!\[|<[A-Za-z/!?]|://", bare)
    if text_autolinks:
        text = CODE_SPAN.sub("", unescaped(markdown))
        found += [m.group(0) for m in (*AUTOLINK_URL.finditer(text), *AUTOLINK_EMAIL.finditer(text))]
    return found


def shown(name: str) -> str:
    """How a name reads once rendered (one line; see benchmark.text.one_line)."""
    return one_line(name)
