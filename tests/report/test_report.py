"""`benchmark report RUN_ID|ENTRY`: the numbers shown are the record's and independently computed ones (a
hand-made run's ECE and AURC, scikit-learn's calibration curve), the page is one self-contained file (no
address of another host, plotly.js inline), every section a run carries is shown (record sections and
derived results, read generically), entries are found by key or name, names are shown as text."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from benchmark.cli import main
from benchmark.reference.board import REFERENCE_ENV, with_reference
from benchmark.report.content import run_report
from benchmark.results.entries import entry_key
from benchmark.results.standings import task_standings
from benchmark.results.store import ResultsDir
from tests.fixtures.runs.make import fixture_record, make_predictions, publish_record, toy_task
from tests.leaderboard.named_runs import EVIL, NAMES, TASK, live_markup, write_named_runs
from tests.report.helpers import EXTERNAL, ROBUSTNESS, SUBGROUPS, build_results, read_page, table_with

# A binary run of 8 images (one per patient) whose ECE and AURC are worked out by hand below.
HAND_P = np.array([0.95, 0.85, 0.70, 0.62, 0.41, 0.32, 0.21, 0.04])
HAND_Y = np.array([1, 1, 0, 1, 1, 0, 0, 0])
# 15 equal-width bins put each probability in a bin of its own: ECE = mean |y - p|.
HAND_ECE = (0.05 + 0.15 + 0.70 + 0.38 + 0.59 + 0.32 + 0.21 + 0.04) / 8
# At threshold 0.5 the confidences are 0.9, 0.7, 0.4, 0.24, 0.18, 0.36, 0.58, 0.92 (no ties); most confident
# first the outcomes are c c c c E c c E, so the risks at k = 1..8 are 0, 0, 0, 0, 1/5, 1/6, 1/7, 2/8.
HAND_AURC = (1 / 5 + 1 / 6 + 1 / 7 + 2 / 8) / 8


def plotted(values: object) -> list[float]:
    """A figure's values as plotly's JSON holds them: a list, or a typed array (``dtype`` + base64 ``bdata``)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)  # type: ignore[call-overload]


def html_report(argv: list[str]) -> str:
    assert main(["report", *argv]) == 0
    out = Path(argv[argv.index("--out") + 1])
    return out.read_text()


@pytest.fixture
def hand_run(tmp_path: Path) -> tuple[Path, str]:
    results = tmp_path / "hand"
    task = toy_task(labels=("pneumonia",), name="hand")
    frame = make_predictions(np.array([f"p{i}" for i in range(8)]), HAND_Y[:, None].astype(float), ("pneumonia",),
                             HAND_P[:, None])  # fmt: skip
    record = fixture_record("20250101T000000Z-hand-m-s0", frame, task, "hand_model", 0, run_key="hand")
    publish_record(results, record, frame)
    return results, record.run_id


def test_numbers_shown_are_the_records_and_the_hand_computed_ece_and_aurc(hand_run, tmp_path):
    results, run_id = hand_run
    record = ResultsDir(results).load_record(run_id)
    text = html_report([run_id, "--results", str(results), "--out", str(tmp_path / "r.html")])
    page = read_page(text)
    metrics = table_with(page, "resamples undefined")
    shown = {row[0]: row[1:3] for row in metrics[1:]}
    assert set(shown) == set(record.metrics)
    for name, value in record.metrics.items():
        assert shown[name] == [f"{value.value:.4f}", f"[{value.ci_low:.4f}, {value.ci_high:.4f}]"]
    facts = "".join(page.text)
    assert record.task.hash in facts and record.task.split_sha256 in facts
    # calibration: the hand value, and scikit-learn's curve with the bin counts gives the same
    prob_true, prob_pred = calibration_curve(HAND_Y, HAND_P, n_bins=15, strategy="uniform")
    counts = np.histogram(HAND_P, bins=np.linspace(0, 1, 16))[0]
    sklearn_ece = float(np.sum(counts[counts > 0] / len(HAND_P) * np.abs(prob_true - prob_pred)))
    assert sklearn_ece == pytest.approx(HAND_ECE)
    calibration = table_with(page, "ECE")
    assert calibration[1][:3] == ["pneumonia", "8", f"{HAND_ECE:.4f}"]
    report = run_report(ResultsDir(results), run_id)
    assert report.calibration.table["ece"].iloc[0] == pytest.approx(HAND_ECE)
    assert report.selective.aurc.value == pytest.approx(HAND_AURC)
    assert f"{HAND_AURC:.4f} [" in facts
    # the risk-coverage curve is the hand one
    assert report.selective.curves["risk"].to_numpy() == pytest.approx([0, 0, 0, 0, 1 / 5, 1 / 6, 1 / 7, 2 / 8])
    # trivial: the class prior (0.5 for every image) has AUROC 0.5 and accuracy 4/8
    trivial = table_with(page, "predictor")
    assert trivial[1][0] == "class prior" and trivial[1][4:6] == ["0.5000", "0.5000"]
    assert "@software{cxrbench" in text and "hand\\_model" in text  # the citation, LaTeX-escaped


def test_the_page_is_one_self_contained_file(hand_run, tmp_path):
    results, run_id = hand_run
    text = html_report([run_id, "--results", str(results), "--out", str(tmp_path / "r.html")])
    page = read_page(text)
    assert not re.search(r"<script[^>]+src=", text) and "<link" not in text and "<iframe" not in text
    assert not [u for u in page.urls if re.match(r"(?i)\s*(https?:)?//", u)], page.urls
    inline = [s for s in re.findall(r"<script>(.*?)</script>", text, re.S) if len(s) > 1_000_000]
    assert len(inline) == 1 and "plotly" in inline[0][:2000].lower()  # plotly.js once, inline
    specs = re.findall(r'<script type="application/json" data-plot="(plot-\d+)">(.*?)</script>', text, re.S)
    assert [ident for ident, _ in specs] == page.plots and len(specs) == 3  # reliability, ROC, risk-coverage
    assert all(json.loads(spec)["data"] for _, spec in specs)


def test_every_section_a_run_carries_is_shown_from_its_rows_and_summary(tmp_path):
    results = tmp_path / "results"
    ids = build_results(results)
    text = html_report([ids["sections"], "--results", str(results), "--out", str(tmp_path / "s.html")])
    page = read_page(text)
    subgroups = table_with(page, "group")
    assert subgroups[0][:4] == ["attribute", "group", "metric", "value"]
    assert [row[:4] for row in subgroups[1:]] == [
        [r["attribute"], r["group"], r["metric"], f"{r['value']:.4f}"] for r in SUBGROUPS["rows"]
    ]
    gaps = table_with(page, "high_group")
    assert gaps[1][:3] == ["sex", "F", "M"] and f"{SUBGROUPS['summary']['gaps'][0]['gap']:.4f}" in gaps[1]
    assert "External test sets: nih_covid" in "".join(page.text)
    assert any(row[:2] == ["auroc", f"{EXTERNAL['rows'][0]['value']:.4f}"] for t in page.tables for row in t)
    assert "Expert labels: broken" in "".join(page.text) and "Shown as stored" in "".join(page.text)
    assert "&quot;not rows&quot;: 1" in text or '"not rows": 1' in "".join(page.text)
    assert "No robustness to corruptions for this run" in "".join(page.text)
    # the first run: the robustness result derived beside it, as a table and one line per corruption
    text = html_report([ids["multiclass"][0], "--results", str(results), "--out", str(tmp_path / "r.html")])
    page = read_page(text)
    robustness = table_with(page, "severity")
    assert len(robustness) - 1 == len(ROBUSTNESS["rows"])
    assert robustness[0][:5] == ["corruption", "severity", "metric", "value", "ci_low"]
    specs = [json.loads(s) for s in re.findall(r'data-plot="plot-\d+">(.*?)</script>', text, re.S)]
    severity = [s for s in specs if "severity" in json.dumps(s["layout"].get("xaxis", {}))]
    assert len(severity) == 1 and [t["name"] for t in severity[0]["data"]] == ["gaussian_noise", "jpeg"]
    clean, jpeg = ROBUSTNESS["rows"][0], ROBUSTNESS["rows"][6:]  # each line starts at the clean images
    assert plotted(severity[0]["data"][1]["x"]) == [0, 1, 2, 3, 4, 5]
    assert plotted(severity[0]["data"][1]["y"]) == pytest.approx([r["value"] for r in [clean, *jpeg]])
    drops = table_with(page, "overall")  # the summary's drop per corruption, one row per metric
    assert drops[1][:4] == ["auroc", "0.1700", "0.3300", "0.2500"]
    saliency = table_with(page, "hit_rate")
    assert saliency[0][:2] == ["method", "finding"] and len(saliency) > 1
    # the Markdown report shows the same sections
    markdown = tmp_path / "s.md"
    assert main(["report", ids["sections"], "--results", str(results), "--out", str(markdown)]) == 0
    text = markdown.read_text()
    assert "| sex | F | auroc | 0.8100 |" in text and "External test sets\\: nih_covid" in text


def test_entries_are_found_by_key_or_model_name(tmp_path, capsys):
    results = tmp_path / "results"
    ids = build_results(results)
    store = ResultsDir(results)
    key = entry_key(store.load_record(ids["multiclass"][0]))
    text = html_report([key[:8], "--results", str(results), "--out", str(tmp_path / "e.html")])
    page = read_page(text)
    seeds = table_with(page, "run_id")
    assert [row[0] for row in seeds[1:]] == ids["multiclass"][:3]
    standings = task_standings(results, "mc3")
    row = standings.ranked.iloc[0]
    assert f"{row['estimate']:.4f} [{row['ci_low']:.4f}, {row['ci_high']:.4f}]" in "".join(page.text)
    assert sum(1 for h in re.findall(r"<h2[^>]*>Run ", text)) == 3  # each seed's run report
    assert main(["report", "good", "--results", str(results), "--out", str(tmp_path / "x.html")]) == 2
    assert "names 2 entries" in capsys.readouterr().err  # mc3 and ml2
    assert main(["report", "good", "--task", "ml2", "--results", str(results), "--out", str(tmp_path / "m.md")]) == 0
    assert "# Entry good" in (tmp_path / "m.md").read_text()
    assert main(["report", "nothing-like-it", "--results", str(results), "--out", str(tmp_path / "n.html")]) == 2
    assert "no run, entry key or model" in capsys.readouterr().err


def test_a_run_of_the_reference_board_has_a_report(hand_run, tmp_path, monkeypatch):
    reference, run_id = hand_run
    monkeypatch.setenv(REFERENCE_ENV, str(reference))
    mine = tmp_path / "mine"
    mine.mkdir()
    assert run_id in {r.run_id for r in with_reference(mine).query()}
    text = html_report([run_id, "--results", str(mine), "--out", str(tmp_path / "ref.html")])
    assert "shipped reference board" in text


def test_names_are_shown_as_text(tmp_path):
    results = tmp_path / "named"
    run_ids = write_named_runs(results)
    for k, name in enumerate(NAMES):
        run_id = run_ids[3 * k]
        text = html_report([run_id, "--results", str(results), "--out", str(tmp_path / f"{k}.html")])
        page = read_page(text)
        assert not [u for u in page.urls if EVIL in u or "//" in u]
        ours = re.sub(r"(?s)<script>.{1000000,}?</script>", "", text)  # without plotly.js (its strings hold HTML)
        assert "<b>bold</b>" not in ours and '<a href="http' not in ours and "![" not in "".join(page.urls)
        shown = "".join(page.text)
        assert TASK.replace("\n", "\\n") in shown and name.replace("\n", "\\n") in shown
        markdown = tmp_path / f"{k}.md"
        assert main(["report", run_id, "--results", str(results), "--out", str(markdown)]) == 0
        outside_code = re.sub(r"(?ms)^(`{3,})\n.*?^\1$", "", markdown.read_text())
        assert not live_markup(outside_code, text_autolinks=False), outside_code
