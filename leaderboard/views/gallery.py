"""Saliency gallery page: the maps `benchmark saliency RUN_ID` cached, as overlays on the X-rays per class
and method (expert boxes drawn where the task has them), and the pointing-game / IoU scores of every
run of the task beside those of a centre-point and a uniform random map on the same images and boxes
(leaderboard.gallery does the reading and drawing)."""

from __future__ import annotations

import math

import streamlit as st

from benchmark.errors import BenchmarkError
from leaderboard import components, data, gallery
from leaderboard.components import md, md_code

MAX_CELLS = 48  # images drawn at once; the rest stay a filter away

st.title("Saliency gallery")
root = components.results_root()
runs = components.load_runs(root)
if runs is None:
    st.stop()
fp = data.fingerprint(root)
with_maps = data.saliency_runs(str(root), fp)
if not with_maps:
    st.info(
        f"No run here has saliency maps yet. {md_code(f'benchmark saliency RUN_ID --results {root}')} computes "
        "Grad-CAM, Grad-CAM++ and occlusion maps of a run's test images; they appear here."
    )
    st.stop()

described = runs.set_index("run_id")
options = [run_id for run_id in with_maps if run_id in described.index]


def run_label(run_id: str) -> str:
    row = described.loc[run_id]
    return f"{row['task_name']} · {row['model_name']} · seed {row['seed']} · {run_id}"


asked = st.query_params.get("run")
run_id = st.selectbox(
    "Run", options, index=options.index(asked) if asked in options else 0, format_func=run_label, key="gallery_run"
)
st.query_params["run"] = run_id
try:
    view = data.saliency(str(root), fp, run_id)
except BenchmarkError as exc:
    components.error(exc, f"read the saliency maps of {run_id}")
    st.stop()

index = view.index
grid = gallery.grid_table(view)
left, middle, right = st.columns(3)
method = left.selectbox("Method", index["methods"], key="method")
classes = middle.multiselect("Classes", sorted(grid["class"].unique()), placeholder="all classes", key="classes")
alpha = right.slider("Map opacity", 0.0, 1.0, gallery.DEFAULT_ALPHA, 0.05, key="alpha")
per_row = st.sidebar.slider("Images per row", 2, 8, 4, key="per_row")
boxed = any(image["boxes"] for image in index["images"])
st.caption(
    f"{md(index['model']['name'])} on {md(index['task']['name'])}: {len(index['images'])} test images, "
    f"{len(index['entries'])} maps; target layer {md_code(index['model'].get('target_layer'))}. Each map is the "
    "method's evidence for the class, scaled to its own maximum"
    + ("; green boxes are the expert boxes of that class." if boxed else ".")
)

cells = grid[grid["class"].isin(classes)] if classes else grid
if len(cells) > MAX_CELLS:
    st.caption(f"Showing the first {MAX_CELLS} of {len(cells)} image/class pairs; filter by class to see others.")
    cells = cells.head(MAX_CELLS)
for start in range(0, len(cells), per_row):
    row_cells = cells.iloc[start : start + per_row]
    for column, (_, cell) in zip(st.columns(per_row), row_cells.iterrows(), strict=False):
        picture = gallery.cell_overlay(view, int(cell["image"]), cell["class"], method, alpha)
        caption = f"{cell['image_id']} · {cell['class']} ({cell['reasons']}) · p={cell['probability']:.2f}"
        hit, iou = cell.get(f"hit:{method}"), cell.get(f"iou:{method}")
        if hit is not None and not (isinstance(hit, float) and math.isnan(hit)):
            caption += f" · {'hit' if hit else 'miss'}, IoU {iou:.2f}"
        column.image(picture, caption=md(caption), width="stretch")  # the caption reads Markdown

st.subheader("Pointing game and IoU")
same_task = runs.loc[runs["task_name"] == index["task"]["name"], "run_id"]
scores = data.saliency_scores(str(root), fp, tuple(r for r in with_maps if r in set(same_task)))
if scores.empty:
    st.caption(f"No expert boxes for {md(index['task']['name'])}: nothing to score the maps against.")
else:
    try:  # the null maps on the same images and boxes, beside each model row
        scores = gallery.with_null_columns(scores, gallery.null_score_table(str(root), list(scores["run_id"].unique())))
    except BenchmarkError as exc:
        components.error(exc, "score the null maps on the runs' boxes")
    rate = "%.2f"
    st.dataframe(
        scores,
        hide_index=True,
        column_config={
            "hit_rate": st.column_config.NumberColumn("hit rate", format=rate),
            "ci_low": st.column_config.NumberColumn("95% CI low", format=rate),
            "ci_high": st.column_config.NumberColumn("95% CI high", format=rate),
            "mean_iou": st.column_config.NumberColumn("mean IoU", format=rate),
            "chance": st.column_config.NumberColumn("chance", format="%.3f"),
            "centre_hits": st.column_config.NumberColumn("centre hits"),
            "centre_hit_rate": st.column_config.NumberColumn("centre hit rate", format=rate),
            "centre_ci_low": st.column_config.NumberColumn("centre 95% CI low", format=rate),
            "centre_ci_high": st.column_config.NumberColumn("centre 95% CI high", format=rate),
            "centre_mean_iou": st.column_config.NumberColumn("centre mean IoU", format=rate),
            "random_hits": st.column_config.NumberColumn("random hits"),
            "random_hit_rate": st.column_config.NumberColumn("random hit rate", format=rate),
            "random_ci_low": st.column_config.NumberColumn("random 95% CI low", format=rate),
            "random_ci_high": st.column_config.NumberColumn("random 95% CI high", format=rate),
            "random_mean_iou": st.column_config.NumberColumn("random mean IoU", format=rate),
            "random_expected_rate": st.column_config.NumberColumn("random expected rate", format="%.3f"),
        },
        key="saliency_scores",
    )
    st.caption(
        "Per run, method and finding (all: pooled); hit rate with a Wilson 95% interval; chance: box area share. "
        "Beside each row, two maps that ignore the image, scored on the same images and boxes: a map pointing at "
        "the image centre, and a seeded uniform random map (its expected hit rate is the box area share; the "
        "seeded rate is one draw). A pointing-game rate means little unless it beats both "
        f"({md_code('benchmark saliency-null')} scores them on all of a task's boxes)."
    )
