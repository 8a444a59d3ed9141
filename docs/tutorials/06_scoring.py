"""Step 6 — Score a segmentation against the truth.

People simulate to score methods: a segmenter, a transcript-to-cell assigner, a cell typer.
Because STpuppeteer knows where every molecule came from, it can say exactly how right a
method is — and it ships the ruler, so that everyone who scores on simulated data computes
the same numbers.

What is scored, and against what:

    prediction (any tool)                     truth (the simulation)
    ─────────────────────                     ──────────────────────
    molecule → cell table  ───────┐    ┌────  trs_df: source cell of every molecule,
    (transcript_id, cell)         │    │      its origin (cell / leaked / ambient / control)
                                  ▼    ▼
    cell polygons  ──────────►  metrics.score()  ◄────  cell_gdf: true cell polygons
    cell type labels  ───────►       │          ◄────  count_array, gpar_df: true counts,
                                     ▼                 which genes mark which cell type
            assignment · segmentation · expression · typing

Run it against the installed package:  python 06_scoring.py
Figures go to $TUTORIAL_OUT (default: ./tutorial_out). It ends with "TUTORIAL 06 OK".
"""

import os
import tempfile

import matplotlib

matplotlib.use("Agg")

import geopandas as gpd  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from STpuppeteer import metrics  # noqa: E402
from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator  # noqa: E402

OUT = os.environ.get("TUTORIAL_OUT", "tutorial_out")
os.makedirs(OUT, exist_ok=True)
pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)


def save(fig, name):
    """Save a figure to $TUTORIAL_OUT and close it."""
    path = os.path.join(OUT, name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {path}")


# ─────────────────────────────────────────────────────────────────────────────
# 1. A tissue with the usual troubles
# ─────────────────────────────────────────────────────────────────────────────
# We simulate 800 cells of 3 types with the two difficulties every segmenter meets:
#   - leakage: 20 % of a cell's molecules leave it and land a short distance outside,
#     often inside a neighbour (contamination);
#   - ambient background: free-floating molecules, 0.02 per µm², in and between cells;
# plus a few negative-control probes (these are never scored: they belong to no cell).
cfg = SimulationConfig(
    seed=6,
    n_cells=800,
    leakage_by_gene=0.2,
    instrument={"ambient_rate_per_um2": 0.02, "neg_control_probe_rate_per_um2": 0.002},
)
result = SpotlessSimulator(cfg).run()
trs_df, cell_gdf = result.trs_df, result.cell_gdf
print(f"{len(cell_gdf)} cells, {len(trs_df):,} molecules")
print(trs_df["origin"].value_counts().to_string())

# Every molecule carries its truth: the cell that made it (cell_id, -1 for none), and the
# cell whose boundary it landed in (landed_cell_id). For a leaked molecule the two differ.
print(trs_df[["transcript_id", "x", "y", "feature_name", "cell_id", "origin", "landed_cell_id"]].head())

# Let us look at a corner of the tissue: true cells (black), nuclei (grey), and molecules by
# origin. Orange molecules sit outside their source cell; blue ones came from no cell.
x0, y0, w = cell_gdf["x"].min(), cell_gdf["y"].min(), 120.0
window = (trs_df["x"] < x0 + w) & (trs_df["y"] < y0 + w)
expanded = metrics.expansion_shapes(result, 5.0)
colors = {"cell": "#9a9a9a", "leaked": "#e6550d", "ambient": "#3182bd", "control": "#31a354"}

fig, axes = plt.subplots(1, 2, figsize=(12, 6), sharex=True, sharey=True)
for ax, title in zip(axes, ["the truth", "a baseline: nuclei expanded by 5 µm"], strict=True):
    gpd.GeoSeries(cell_gdf["nucleus"]).plot(ax=ax, color="#dddddd", edgecolor="#888888", lw=0.5)
    for origin, color in colors.items():
        sub = trs_df[window & (trs_df["origin"] == origin)]
        ax.scatter(sub["x"], sub["y"], s=2 if origin == "cell" else 4, color=color, label=origin, lw=0)
    ax.set_title(title)
    ax.set_xlim(x0, x0 + w)
    ax.set_ylim(y0, y0 + w)
    ax.set_aspect("equal")
cell_gdf.boundary.plot(ax=axes[0], color="black", lw=0.8)
expanded.boundary.plot(ax=axes[1], color="#6a51a3", lw=0.8)
axes[0].legend(loc="upper right", markerscale=3, fontsize=8)
save(fig, "06_fig_01_truth_and_baseline.png")

# ─────────────────────────────────────────────────────────────────────────────
# 2. Score one prediction
# ─────────────────────────────────────────────────────────────────────────────
# A prediction is what any tool writes: a table with one row per molecule, its
# transcript_id and the predicted cell (any ids: integers, Xenium strings, Baysor's "CR-1"),
# with a token for "unassigned" (-1, "UNASSIGNED", "", or pass unassigned=(0,) for Baysor).
# Here the prediction is Xenium's own rule, nuclei expanded by 5 µm:
prediction = metrics.expansion_assignment(result, 5.0)
print(prediction.head())

scores = metrics.score(result, assignment=prediction, shapes=expanded)
print(metrics.format_scores(scores))

# How to read it:
#   assignment  — predicted cells are matched one-to-one to true cells on shared molecules
#                 (the Hungarian matching, solved on the sparse overlap table). Then
#                 accuracy:  molecules whose predicted cell is their source cell's match
#                            (or that have no source and are left unassigned);
#                 precision: of the assigned molecules, the share that went to their source;
#                 recall:    of the molecules with a source cell, the share that got there;
#                 jaccard:   per true cell, |true ∩ predicted| / |true ∪ predicted| molecules;
#                 ambient_unassigned / leaked_*: what happened to the troublemakers.
#   segmentation — polygons matched at IoU ≥ 0.5 (and averaged over 0.5 … 0.95): precision,
#                 recall, F1; over-segmented true cells (split in ≥ 2 pieces) and
#                 under-segmented predicted cells (merging ≥ 2 true cells).
#   expression  — per matched cell, the correlation of predicted and true counts; MECR, the
#                 mutually exclusive co-expression rate (Hartman & Satija): how often two
#                 markers of different cell types show up in the same cell. The true counts'
#                 MECR is printed beside it: anything above it is contamination.

# The same scores from files, as the command line does it
#   stpuppeteer score --truth BUNDLE --pred pred.csv --pred-shapes shapes.parquet --json scores.json
with tempfile.TemporaryDirectory() as tmp:
    bundle = result.write_xenium(os.path.join(tmp, "xenium"))
    prediction.to_csv(os.path.join(tmp, "pred.csv"), index=False)
    from_files = metrics.score_cli(bundle, os.path.join(tmp, "pred.csv"), out_json=os.path.join(tmp, "s.json"))
    assert abs(from_files["assignment"]["accuracy"] - scores["assignment"]["accuracy"]) < 1e-12

# ─────────────────────────────────────────────────────────────────────────────
# 3. A floor and a ceiling: the built-in baselines
# ─────────────────────────────────────────────────────────────────────────────
# A score means little alone. Four baselines bracket it:
#   nucleus          — a molecule goes to the cell whose nucleus contains it (the floor);
#   expansion_d      — Xenium's rule with d µm;
#   oracle_polygons  — the TRUE cell polygons: the best any segmentation can do. It still
#                      assigns leaked and ambient molecules to the cell they landed in;
#   oracle_source    — every molecule back to the cell that made it: all ones, by design.
baselines = metrics.score_baselines(result, distances=(5.0, 15.0))
show = [
    "assignment.accuracy",
    "assignment.precision",
    "assignment.recall",
    "assignment.mean_jaccard",
    "segmentation.f1_mean",
    "expression.mean_correlation",
    "expression.mecr",
]
print(baselines[show].round(3).to_string())
assert (baselines.loc["oracle_source", show[:4]] == 1.0).all()
assert baselines.loc["oracle_polygons", "segmentation.f1_mean"] == 1.0

fig, ax = plt.subplots(figsize=(11, 4))
baselines[show[:-1]].rename(columns=lambda c: c.split(".")[1]).T.plot.bar(ax=ax, width=0.8, colormap="viridis")
ax.set_ylabel("score")
ax.set_ylim(0, 1.05)
ax.legend(ncol=5, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0))
ax.tick_params(axis="x", rotation=0)
save(fig, "06_fig_02_baselines.png")

# Notice two things. Expansion by 15 µm beats the true polygons on accuracy: leaked
# molecules that land outside every cell are recaptured by the generous expansion.
# And the nucleus baseline is precise but finds few molecules — precision and recall need
# to be read together.

# Per-cell detail is one level down: align the prediction to the truth's molecules, then
# score_assignment returns a per-cell table next to the summary.
scored = trs_df["origin"] != "control"
aligned = metrics.align_assignment(trs_df.loc[scored, "transcript_id"].to_numpy(), prediction)
source_row = pd.Index(cell_gdf["cell_id"]).get_indexer(trs_df.loc[scored, "cell_id"])
per = metrics.score_assignment(
    source_row, aligned.codes, n_true=len(cell_gdf), n_pred=len(aligned.cell_ids), cell_ids=cell_gdf["cell_id"]
)
print(per.per_cell.head())

# ─────────────────────────────────────────────────────────────────────────────
# 4. Cell typing
# ─────────────────────────────────────────────────────────────────────────────
# A toy cell typer: call each predicted cell by the cell type whose markers it has most of.
# Labels are given per predicted cell; they are compared to the true type of the matched
# cell (ARI, accuracy, and accuracy after the best renaming of clusters).
gene_index = pd.Index(result.gpar_df["feature_name"]).get_indexer(trs_df.loc[scored, "feature_name"])
counts = metrics.count_matrix(aligned.codes, gene_index, len(aligned.cell_ids), len(result.gpar_df))
gene_type = result.gpar_df["gene_type"].to_numpy()
types = [f"ct_{k}" for k in range(cfg.n_celltype)]
marker_sums = np.column_stack([counts[:, gene_type == f"{t}_mkr"].sum(axis=1).A1 for t in types])
labels = pd.Series(np.array(types)[marker_sums.argmax(axis=1)], index=aligned.cell_ids)
typing = metrics.score(result, assignment=prediction, labels=labels)["typing"]
print(typing)

# ─────────────────────────────────────────────────────────────────────────────
# 5. A real method
# ─────────────────────────────────────────────────────────────────────────────
# A real method is scored the same way: its molecule → cell table goes to metrics.score
# next to the baselines. Tutorial 09 (09_benchmark_a_method.py) does it end to end with
# ComSeg: `stpuppeteer export RUN --to comseg`, run the tool, read its output back with
# STpuppeteer.io.read_assignment and score it against the floor and the ceiling. It is a
# tutorial of its own because ComSeg takes minutes on a tissue this size (it loops over
# genes), and the suite runs it once, on a small tissue.


# ─────────────────────────────────────────────────────────────────────────────
# 6. The difficulty knobs behave: scores fall as the data get harder
# ─────────────────────────────────────────────────────────────────────────────
# Same tissue (same seed), one knob turned at a time: leakage, then ambient background.
# Every baseline should lose precision, per-cell Jaccard and expression correlation as the
# knob goes up, while the true counts stay the same; MECR rises with contamination.
def sweep(knob, levels):
    """Score the baselines at each level of one difficulty knob."""
    rows = []
    for level in levels:
        fields = {"seed": 6, "n_cells": 500}
        if knob == "leakage":
            fields["leakage_by_gene"] = level or None
        else:
            fields["instrument"] = {"ambient_rate_per_um2": level}
        res = SpotlessSimulator(SimulationConfig(**fields)).run()
        table = metrics.score_baselines(res, distances=(5.0, 15.0), shapes=False)
        rows.append(table.assign(level=level, knob=knob))
    return pd.concat(rows).rename_axis("baseline").reset_index()


curves = pd.concat([sweep("leakage", [0.0, 0.1, 0.2, 0.3, 0.4]), sweep("ambient", [0.0, 0.02, 0.05, 0.1, 0.2])])
panels = ["assignment.precision", "assignment.mean_jaccard", "expression.mean_correlation", "expression.mecr"]
styles = {
    "nucleus": ("#fdae61", "o"),
    "expansion_5": ("#66c2a5", "s"),
    "expansion_15": ("#3288bd", "^"),
    "oracle_polygons": ("black", "D"),
    "oracle_source": ("#bbbbbb", "x"),
}
fig, axes = plt.subplots(2, len(panels), figsize=(16, 7))
for row, knob in enumerate(["leakage", "ambient"]):
    for col, metric in enumerate(panels):
        ax = axes[row, col]
        for name, (color, marker) in styles.items():
            sub = curves[(curves["knob"] == knob) & (curves["baseline"] == name)]
            ax.plot(sub["level"], sub[metric], color=color, marker=marker, label=name, ms=4)
        ax.set_xlabel("leakage probability" if knob == "leakage" else "ambient molecules per µm²")
        ax.set_title(metric.split(".")[1], fontsize=10)
axes[0, 0].legend(fontsize=8)
fig.tight_layout()
save(fig, "06_fig_03_difficulty_sweep.png")

# The check behind the figure: for every baseline except the source oracle (always 1),
# precision, Jaccard and correlation never rise as a knob goes up.
for (knob, name), sub in curves[curves["baseline"] != "oracle_source"].groupby(["knob", "baseline"]):
    for metric in panels[:3]:
        values = sub.sort_values("level")[metric].to_numpy()
        assert np.all(np.diff(values) <= 1e-9), (knob, name, metric, values)
print("every baseline's precision, Jaccard and correlation fall monotonically with leakage and ambient")

print("TUTORIAL 06 OK")
