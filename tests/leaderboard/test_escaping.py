"""Names are user text: a store whose model names, task name and label hold a newline, a ``|``, Markdown
links and images and HTML (tests/leaderboard/named_runs.py). `benchmark runs` prints one line per run,
the Markdown export keeps its columns and links nothing, the leaderboard (AppTest) shows the names as
text, plotly labels carry them as entities, and the app is configured to fetch nothing from elsewhere."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import plotly.io
import pytest
from streamlit.testing.v1 import AppTest

from benchmark.cli import main
from benchmark.text import markdown_code, markdown_escape, one_line, plotly_text, terminal_cell
from leaderboard import figures, serve
from tests.conftest import REPO
from tests.leaderboard.named_runs import EVIL, LABEL, NAMES, SEEDS, TASK, live_markup, unescaped, write_named_runs
from tests.leaderboard.test_app import app
from tests.results.test_store_read_only import folder_state

APP = REPO / "leaderboard" / "app.py"
TEMPLATES = ("hovertemplate", "texttemplate")  # the figures' own markup (%{y}<br>...), not names


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("named")
    return root, write_named_runs(root)


# --- the helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*NAMES, TASK, LABEL, "a\\b", "`code`", "$x$", ":red[x]", "- item", "1. x"])
def test_markdown_escape_reads_back_as_the_name_and_links_nothing(name):
    for escaped in (markdown_escape(name), markdown_escape(name, break_autolinks=True)):
        assert "\n" not in escaped and not live_markup(escaped, text_autolinks=False)
        assert unescaped(escaped).replace("\u2060", "") == one_line(name)  # the word joiner is invisible
    assert not live_markup(markdown_escape(name, break_autolinks=True))
    assert markdown_escape("snake_case-name 0.93") == "snake_case-name 0.93"  # nothing escaped needlessly


def test_one_line_and_terminal_cells_neutralise_control_characters():
    assert one_line("a\nb\r\tc\x1b[2J\u2028\u202e") == r"a\nb\r\tc\x1b[2J\u2028\u202e"
    assert terminal_cell("a|b\nc") == r"a\|b\nc"
    assert markdown_code("a`b") == "``a`b``" and markdown_code("`x") == "`` `x ``"


def test_plotly_text_turns_markup_into_entities():
    assert plotly_text('<a href="x">y</a> & $z$') == '&lt;a href="x"&gt;y&lt;/a&gt; &amp; &#36;z&#36;'


# --- terminal and export -------------------------------------------------------------------------------


def test_runs_listing_prints_one_line_per_run(named, capsys):
    root, ids = named
    assert main(["runs", "--results", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(ids)  # the header, then one line per run
    for run_id, line in zip(sorted(ids), sorted(lines[1:]), strict=True):
        assert line.startswith(run_id)
    body = "\n".join(lines)
    assert r"line\nbreak" in body and r"pipe\|name" in body and "|name" not in body.replace(r"\|", "")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", body)


def test_run_summary_keeps_each_name_on_its_line(named):
    """What `benchmark run` and `benchmark submit` print once a run is published."""
    from benchmark.commands.core import summary
    from benchmark.results.store import ResultsDir

    root, ids = named
    text = summary(ResultsDir(root).load_record(ids[0]))
    assert text.splitlines()[0].split("  ")[2] == r"model line\nbreak"
    assert len(text.splitlines()) == 2  # the run line, then its one metric (auroc)


def _cells(line: str) -> list[str]:
    """A Markdown table row's cells, split on the ``|`` not escaped (GFM's rule)."""
    assert line.startswith("| ") and line.endswith(" |"), line
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line[1:-1])]


def test_markdown_export_keeps_its_columns_and_links_nothing(named, capsys):
    root, _ = named
    assert main(["export", "--task", TASK, "--results", str(root), "--format", "markdown", "--n-resamples", "200"]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(NAMES)  # header, delimiter, one row per entry
    widths = {len(_cells(line)) for line in [table[0], *table[2:]]}
    assert widths == {7} and table[1] == "|" + "---|" * 7
    models = [unescaped(_cells(line)[1]) for line in table[2:]]
    assert sorted(models) == sorted(one_line(name) for name in NAMES)  # each name, whole, in its own cell
    # no link syntax, and every "://" escaped: GitHub's autolinks start from an unescaped ":" or "www."
    assert not live_markup(out, text_autolinks=False) and EVIL.replace(":", r"\:") in out
    title = f"**{one_line(TASK)} v1 (task hash {'a' * 12}, split sha256 {'b' * 12}), metric auroc**"
    assert unescaped(out.splitlines()[0]) == title


def test_csv_export_reads_back_every_name_in_its_row(named, capsys):
    root, _ = named
    assert main(["export", "--task", TASK, "--results", str(root), "--format", "csv", "--n-resamples", "200"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    table = table[table["origin"] != "trivial"]  # the trivial entries follow (tests/results/test_trivial.py)
    assert len(table) == len(NAMES) and sorted(table["entry"]) == sorted(NAMES)


# --- the leaderboard -------------------------------------------------------------------------------------


def markdown_shown(at: AppTest) -> list[str]:
    """The text of every element on the page that reads Markdown: markdown, captions, titles, headers,
    alerts, metric labels and values, page link labels and image captions."""
    texts = [e.value for kind in ("markdown", "caption", "title", "header", "subheader") for e in at.get(kind)]
    texts += [e.value for kind in ("info", "warning", "error", "success") for e in at.get(kind)]
    texts += [t for metric in at.metric for t in (metric.label, metric.value)]
    texts += [link.proto.label for link in at.get("page_link")] + [c for image in at.image for c in image.captions]
    return texts


def assert_literal(at: AppTest, expected: list[str]) -> None:
    """No element's Markdown holds a live link, image or HTML; each of ``expected`` reads as written."""
    texts = markdown_shown(at)
    for text in texts:
        assert not live_markup(text), text
    readable = "\n".join(unescaped(text).replace("\u2060", "") for text in texts)
    for name in expected:
        assert one_line(name) in readable, name


def chart_strings(at: AppTest) -> list[str]:
    """Every string of every plotly chart on the page (as the browser gets it), templates aside."""
    found: list[str] = []

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key not in TEMPLATES:
            found.append(value)

    for element in at.get("plotly_chart"):
        walk(plotly.io.from_json(element.proto.spec, skip_invalid=True).to_plotly_json())
    return found


def assert_chart_labels_escaped(at: AppTest, expected: list[str]) -> None:
    strings = chart_strings(at)
    assert strings
    for text in strings:
        assert "<" not in text and ">" not in text and "$" not in text, text
    joined = "\n".join(strings)
    for name in expected:
        assert plotly_text(name) in joined, name


def test_ranking_page_shows_names_as_text(named, monkeypatch):
    root, ids = named
    at = app(root, monkeypatch, task=TASK)
    assert sorted(at.dataframe[0].value["model"]) == sorted(NAMES)  # a table shows text as it is
    assert_literal(at, [TASK])  # the heatmap's labels: test_plots_page_shows_names_as_text
    at.selectbox(key="entry_runs").set_value(NAMES[2]).run()
    assert_literal(at, [run_id for run_id in ids if "-m2-" in run_id])


@pytest.mark.parametrize("plot", ["Differences", "ROC curves", "Calibration", "AUROC per label"])
def test_plots_page_shows_names_as_text(named, monkeypatch, plot):
    root, _ = named
    at = app(root, monkeypatch, "views/plots.py", task=TASK)
    at.radio(key="plot").set_value(plot).run()
    if plot == "Differences":
        at.selectbox(key="reference").set_value(NAMES[3]).run()
        assert_literal(at, [TASK, NAMES[3]])  # the caption names the reference
        assert_chart_labels_escaped(at, [name for name in NAMES if name != NAMES[3]])
    else:
        assert_literal(at, [TASK])
        assert_chart_labels_escaped(at, [*NAMES[:3], LABEL] if plot == "AUROC per label" else [*NAMES[:3]])
    assert not at.error, [e.value for e in at.error]


def test_run_page_shows_names_as_text(named, monkeypatch):
    root, ids = named
    for model, name in enumerate(NAMES):
        at = app(root, monkeypatch, "views/run.py", run=ids[model * len(SEEDS)])
        assert not at.error, [e.value for e in at.error]
        assert_literal(at, [name, TASK, ids[model * len(SEEDS)]])


@pytest.mark.parametrize("asked", [f"[x]({EVIL})", f"![i]({EVIL}/i.png)", f'<a href="{EVIL}">x</a>', "a\nb"])
def test_a_run_query_naming_no_run_is_an_escaped_error(named, monkeypatch, asked):
    root, _ = named
    at = app(root, monkeypatch, "views/run.py", run=asked)
    assert len(at.error) == 1 and "Could not open run" in at.error[0].value and not at.json
    assert_literal(at, [repr(asked)])


def test_figures_escape_every_label():
    table = pd.DataFrame({LABEL: [0.8, 0.7]}, index=list(NAMES[3:]))
    heatmap = figures.auroc_heatmap(table, title=TASK).data[0]
    assert list(heatmap.y) == [plotly_text(n) for n in NAMES[3:]] and list(heatmap.x) == [plotly_text(LABEL)]
    assert heatmap.y[1] == '&lt;a href="http://evil.example/a"&gt;html&lt;/a&gt;'
    differences = pd.DataFrame(
        {"model": list(NAMES[3:]), "diff": [0.1, -0.1], "ci_low": [0.0, -0.2], "ci_high": [0.2, 0.0], "p_adjusted": 1}
    )
    forest = figures.forest_plot(differences, reference=NAMES[4], metric="auroc")
    assert "<a" not in forest.layout.title.text and "&lt;a" in forest.layout.xaxis.title.text
    assert list(forest.data[0].y) == [plotly_text(n) for n in NAMES[3:]]
    confusion = figures.confusion_matrix_figure([[1, 0], [0, 1]], NAMES[3:], title=NAMES[0]).data[0]
    assert all("<" not in label for label in [*confusion.x, *confusion.y])


def test_the_app_reads_the_named_store_without_writing(named, tmp_path, monkeypatch):
    root, ids = named
    before = folder_state(root)
    app(root, monkeypatch, task=TASK)
    app(root, monkeypatch, "views/run.py", run=ids[0])
    assert folder_state(root) == before


# --- nothing fetched from elsewhere --------------------------------------------------------------------------


def test_streamlit_reads_the_offline_options_next_to_the_app(monkeypatch):
    """leaderboard/.streamlit/config.toml, read by Streamlit as the app's own config however it is started,
    and leaderboard.serve (for an installed package, through the variables Streamlit reads) set the same
    options, each one Streamlit knows."""
    from streamlit import config

    for option in serve.OFFLINE:
        monkeypatch.delenv(serve.option_variable(option), raising=False)
    monkeypatch.setattr(config, "_main_script_path", str(APP))
    try:
        options = config.get_config_options(force_reparse=True)
        for option, value in serve.OFFLINE.items():
            assert str(options[option].value).lower() == value, option
            assert options[option].where_defined == str(APP.parent / ".streamlit" / "config.toml"), option
            assert serve.option_variable(option) == options[option].env_var
        assert options["browser.gatherUsageStats"].value is False
    finally:
        monkeypatch.undo()
        config.get_config_options(force_reparse=True)
