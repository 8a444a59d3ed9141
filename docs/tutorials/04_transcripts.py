"""Step 4 — Place the molecules: where each one sits, which ones leak, what the instrument sees.

Step 3 said how many molecules of each gene each cell made (`count_array`). Step 4 turns
every one of them into a dot with coordinates, then lets an imperfect instrument record them.
The result, `trs_df`, is the transcript table an imaging platform would write — with, on
every row, the truth no platform knows: which cell really made the molecule and how it got
where it is.

    count_array (cells × genes)
    │
    ▼  placement   — inside the source cell: uniform, or nucleus with probability
    │                transcripts.nuclear_fraction; z within the cell's slab of the section
    ▼  leakage     — with p = 1 − (1 − p_cell)(1 − p_gene) a molecule leaves its cell and lands
    │                a short distance outside (often in a neighbour)
    ▼  instrument  — detection efficiency (per field of view), ambient RNA, negative controls,
    │                localisation jitter, mis-called genes, quality scores
    ▼
    trs_df — one row per detected molecule:
             x, y, z, feature_name, qv                    (what the instrument reports)
             cell_id, celltype, origin, landed_cell_id,   (the truth)
             compartment, overlaps_nucleus, true_feature_name

Every instrument effect is off by default (a perfect instrument); the platform presets of
tutorial 05 switch them on at realistic levels.

Run it against the installed package:  python 04_transcripts.py
Figures go to $TUTORIAL_OUT (default: ./tutorial_out). It ends with "TUTORIAL 04 OK".
"""
from _figures import save_figures_instead_of_showing  # beside this file: plt.show() saves to $TUTORIAL_OUT

import matplotlib.pyplot as plt

save_figures_instead_of_showing("04")

# %% [markdown]
# ## Imports
import warnings  # noqa: E402

warnings.simplefilter(action="ignore", category=FutureWarning)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

from STpuppeteer.plotting.overview import ORIGIN_COLORS, plot_qc  # noqa: E402
from STpuppeteer.plotting.tissue import plot_tissue  # noqa: E402
from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator  # noqa: E402

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False})
print("Imports OK")


def within_sd(observed, expected, sd, n_sd=5.0):
    """True when an observed figure is within n_sd standard deviations of its expectation."""
    return abs(observed - expected) <= n_sd * sd


COMPARTMENT_COLORS = {"nucleus": "#d62728", "cytoplasm": "#1f77b4", "extracellular": "#7f7f7f"}

# %% [markdown]
# ## 4.1 Placement inside the cell
#
# With nothing switched on, a molecule sits uniformly in its source cell: it lands in the
# nucleus with probability nucleus area / cell area, in the cytoplasm otherwise. Its z is
# uniform over the cell's slab of the section (the cell's z ± its equivalent radius, clipped
# to the section). With a perfect instrument, `trs_df` holds exactly the molecules of
# `count_array`: counting rows per (cell_id, gene) gives the count matrix back.
#
# `transcripts.nuclear_fraction` overrides the nuclear share for every gene (say 0.7 for
# nuclear-retained transcripts), and `transcripts.nuclear_fraction_by_gene` per gene.
N_CELLS = 1000
sim = SpotlessSimulator(SimulationConfig(seed=4, n_cells=N_CELLS, expression_scale=3.0))
result = sim.run()
trs_df, cell_gdf, count_array = result.trs_df, result.cell_gdf, result.count_array
print(f"{len(trs_df):,} molecules from {N_CELLS} cells")
assert (trs_df["origin"] == "cell").all(), "no leakage, no instrument: every molecule stays in its cell"
assert len(trs_df) == count_array.sum()
gene_index = pd.Index(result.gpar_df["feature_name"])
recount = np.zeros_like(count_array)
np.add.at(recount, (trs_df["cell_id"].to_numpy(), gene_index.get_indexer(trs_df["feature_name"])), 1)
assert (recount == count_array).all(), "molecules per (cell, gene) are the true counts"

# Uniform in the cell: the expected nuclear share of molecules is Σ_c n_c · A_nuc,c / A_cell,c / Σ n_c.
n_per_cell = count_array.sum(axis=1)
p_nuc = (cell_gdf["nucleus_area"] / cell_gdf["cell_area"]).to_numpy()
expected = float((n_per_cell * p_nuc).sum() / n_per_cell.sum())
sd = np.sqrt((n_per_cell * p_nuc * (1 - p_nuc)).sum()) / n_per_cell.sum()
observed = float((trs_df["compartment"] == "nucleus").mean())
print(f"uniform placement: {observed:.3f} of molecules in a nucleus (nuclear area share {expected:.3f})")
assert within_sd(observed, expected, sd), "uniform placement puts molecules in the nucleus by its area share"
assert (trs_df["overlaps_nucleus"] == (trs_df["compartment"] == "nucleus")).all()
slab = np.sqrt(cell_gdf["cell_area"].to_numpy() / np.pi)[trs_df["cell_id"]]
z_cell = cell_gdf["z"].to_numpy()[trs_df["cell_id"]]
assert (np.abs(trs_df["z"] - z_cell) <= slab + 1e-3).all() and trs_df["z"].between(0, 10).all()

nuclear = SpotlessSimulator(SimulationConfig(seed=4, n_cells=N_CELLS, expression_scale=3.0,
                                             transcripts={"nuclear_fraction": 0.7})).run().trs_df
share = float((nuclear["compartment"] == "nucleus").mean())
print(f"nuclear_fraction = 0.7: {share:.3f} of molecules in a nucleus")
assert within_sd(share, 0.7, np.sqrt(0.7 * 0.3 / len(nuclear)))

corner = cell_gdf[(cell_gdf["x"] < 90) & (cell_gdf["y"] < 90)]
fig, axs = plt.subplots(1, 2, figsize=(13, 6.2))
for ax, df, title in [(axs[0], trs_df, f"uniform in the cell: {observed:.0%} nuclear"),
                      (axs[1], nuclear, f"nuclear_fraction = 0.7: {share:.0%} nuclear")]:
    plot_tissue(corner, ax=ax, alpha=0.15, scale_bar_um=10, legend=False)
    sel = df[df["cell_id"].isin(corner["cell_id"])]
    for comp, color in COMPARTMENT_COLORS.items():
        part = sel[sel["compartment"] == comp]
        ax.scatter(part["x"], part["y"], s=2, color=color, label=comp, lw=0)
    ax.set_title(title)
axs[0].legend(markerscale=4, loc="upper right", fontsize=8)
fig.suptitle("4.1 Where molecules sit in their cell", fontsize=12)
plt.show()

# %% [markdown]
# ## 4.2 Leakage: molecules that leave their cell
#
# In real data a share of a cell's molecules is found just outside it (diffusion, RNA in
# processes cut by the section, optical spread). Two knobs give a leak probability:
#
# * `leakage_by_celltype={"ct_1": p}` — a cell-type property (leaky or fragile cells): p_cell;
# * `leakage_by_gene` — one value, a list per gene or `{gene: p}` (e.g. secreted or
#   long transcripts): p_gene.
#
# A molecule leaks if either cause acts, independently: p = 1 − (1 − p_cell)(1 − p_gene).
# A leaked molecule is moved along the ray from its nucleus centre through a random point of
# the cell boundary, to a distance beyond the boundary drawn from an exponential. The halo
# reaches `leak_dist_factor` × the cell's equivalent radius (default 1.05): the exponential's
# scale is that reach / −ln(0.03), so 97 % of leaked molecules land within it, and distances
# are cut at `transcripts.leak_max_factor` (3) reaches. It is labelled `origin="leaked"`; `landed_cell_id` says in which cell it landed
# (−1 if in none) — the contamination a segmentation will count in the wrong cell.
hk_genes = [g for g in result.gpar_df["feature_name"] if g.startswith("hk_")]
leaky_cfg = SimulationConfig(seed=4, n_cells=N_CELLS, expression_scale=3.0,
                             leakage_by_celltype={"ct_1": 0.3},
                             leakage_by_gene=dict.fromkeys(hk_genes, 0.2))
leaky = SpotlessSimulator(leaky_cfg).run()
ltrs = leaky.trs_df
is_leaked = (ltrs["origin"] == "leaked").to_numpy()
is_hk = ltrs["feature_name"].astype(str).str.startswith("hk_").to_numpy()
is_ct1 = (ltrs["celltype"] == "ct_1").to_numpy()
rows = []
for ct1 in (False, True):
    for hk in (False, True):
        sel = (is_ct1 == ct1) & (is_hk == hk)
        p = 1 - (1 - 0.3 * ct1) * (1 - 0.2 * hk)
        rows.append({"cell type": "ct_1" if ct1 else "ct_0/ct_2", "gene": "hk" if hk else "marker",
                     "expected p": p, "observed": is_leaked[sel].mean(), "molecules": sel.sum()})
        assert within_sd(is_leaked[sel].mean(), p, np.sqrt(p * (1 - p) / sel.sum())), rows[-1]
print(pd.DataFrame(rows).round(3).to_string(index=False))

# Leaked molecules lie outside their source cell, within the truncation distance.
lk = ltrs[is_leaked]
src = leaky.cell_gdf.geometry.to_numpy()[lk["cell_id"]]
points = shapely.points(lk["x"].to_numpy(), lk["y"].to_numpy())
dist = shapely.distance(points, src)
radius = np.sqrt(leaky.cell_gdf["cell_area"].to_numpy()[lk["cell_id"]] / np.pi)
max_dist = leaky_cfg.transcripts.leak_max_factor * leaky_cfg.leak_dist_factor * radius
assert (dist > 0).all(), "a leaked molecule is outside its source cell"
assert (dist <= max_dist + 1e-6).all(), "leak distances are truncated"
in_neighbour = float(((lk["landed_cell_id"] >= 0) & (lk["landed_cell_id"] != lk["cell_id"])).mean())
print(f"leaked molecules: median {np.median(dist):.2f} µm outside their cell; {in_neighbour:.0%} landed in a neighbour")
stay = ltrs[~is_leaked]
assert (stay["landed_cell_id"] == stay["cell_id"]).all()

far = SpotlessSimulator(leaky_cfg.model_copy(update={"leak_dist_factor": 2.8})).run().trs_df
far_lk = far[far["origin"] == "leaked"]
far_dist = shapely.distance(shapely.points(far_lk["x"].to_numpy(), far_lk["y"].to_numpy()),
                            leaky.cell_gdf.geometry.to_numpy()[far_lk["cell_id"]])
print(f"leak_dist_factor 1.05 → 2.8: median distance {np.median(dist):.2f} → {np.median(far_dist):.2f} µm")
assert np.median(far_dist) > 2 * np.median(dist)

window = leaky.cell_gdf[(leaky.cell_gdf["x"] < 110) & (leaky.cell_gdf["y"] < 110)]
fig, axs = plt.subplots(1, 2, figsize=(14, 6))
plot_tissue(window, ax=axs[0], alpha=0.35, scale_bar_um=20)
sel = ltrs[(ltrs["x"] < 110) & (ltrs["y"] < 110)]
for origin in ("cell", "leaked"):
    part = sel[sel["origin"] == origin]
    axs[0].scatter(part["x"], part["y"], s=2 if origin == "cell" else 5, color=ORIGIN_COLORS[origin],
                   label=origin, lw=0)
axs[0].legend(markerscale=3, loc="upper right", fontsize=8)
axs[0].set_title("ct_1 cells leak 30 %, housekeeping genes 20 %")
bins = np.linspace(0, max(dist.max(), far_dist.max()), 50)
axs[1].hist(dist, bins=bins, alpha=0.6, label="leak_dist_factor = 1.05", density=True)
axs[1].hist(far_dist, bins=bins, alpha=0.6, label="leak_dist_factor = 2.8", density=True)
axs[1].set_xlabel("distance of a leaked molecule from its source cell (µm)")
axs[1].set_ylabel("density")
axs[1].legend()
fig.suptitle("4.2 Leakage", fontsize=12)
plt.show()

# %% [markdown]
# ## 4.3 The instrument
#
# `config.instrument` holds what stands between the molecules and the file:
#
# * `detection_efficiency` — each true molecule is detected with this probability, times a
#   per-field-of-view factor of s.d. `fov_efficiency_sd` on square tiles of `fov_size_um`;
# * `ambient_rate_per_um2` — free-floating RNA: molecules with no source cell, uniform over
#   the tissue's bounding box, genes in proportion to total expression (`ambient_genes`);
# * `neg_control_probe_rate_per_um2`, `neg_control_codeword_rate_per_um2`,
#   `unassigned_codeword_rate_per_um2` — negative controls, named as Xenium names them;
# * `jitter_um` — normal localisation error in x, y and z;
# * `miscall_rate` — a detected molecule reports another gene
#   (`feature_name` ≠ `true_feature_name`);
# * `qv_mean`, `qv_sd`, `qv_background_*` — a Phred-like quality score; ambient, control and
#   mis-called molecules score lower.
#
# Ambient and control rates are rates of *recorded* molecules. Jitter moves only the recorded
# x, y, z; the truth columns (`landed_cell_id`, `compartment`) describe the true position.
instrument = {
    "detection_efficiency": 0.8,
    "ambient_rate_per_um2": 0.05,
    "neg_control_probe_rate_per_um2": 0.002,
    "neg_control_codeword_rate_per_um2": 0.001,
    "jitter_um": 0.3,
    "miscall_rate": 0.02,
}
noisy_cfg = leaky_cfg.model_copy(update={"instrument": leaky_cfg.instrument.model_copy(update=instrument)})
noisy = SpotlessSimulator(noisy_cfg).run()
ntrs = noisy.trs_df
print(ntrs["origin"].value_counts().to_string())

true_total = int(noisy.count_array.sum())
detected = int(ntrs["origin"].isin(["cell", "leaked"]).sum())
print(f"detected {detected:,} of {true_total:,} true molecules ({detected / true_total:.3f})")
assert within_sd(detected, 0.8 * true_total, np.sqrt(true_total * 0.8 * 0.2))

x0, y0, x1, y1 = noisy.cell_gdf.total_bounds
box_area = (x1 - x0) * (y1 - y0)
n_ambient = int((ntrs["origin"] == "ambient").sum())
n_control = int((ntrs["origin"] == "control").sum())
print(f"ambient {n_ambient:,} (expected {0.05 * box_area:,.0f}); "
      f"controls {n_control:,} (expected {0.003 * box_area:,.0f})")
assert within_sd(n_ambient, 0.05 * box_area, np.sqrt(0.05 * box_area))
assert within_sd(n_control, 0.003 * box_area, np.sqrt(0.003 * box_area))
controls = ntrs.loc[ntrs["origin"] == "control", "feature_name"].astype(str)
assert controls.str.match(r"^(NegControlProbe|NegControlCodeword)_").all()
assert (ntrs.loc[ntrs["origin"].isin(["ambient", "control"]), "cell_id"] == -1).all()

true_mol = ntrs[ntrs["origin"].isin(["cell", "leaked"])]
miscalled = (true_mol["feature_name"].astype(str) != true_mol["true_feature_name"].astype(str)).to_numpy()
print(f"mis-called: {miscalled.mean():.4f} of detected gene molecules (miscall_rate 0.02)")
assert within_sd(miscalled.mean(), 0.02, np.sqrt(0.02 * 0.98 / len(true_mol)))
qv_good = true_mol["qv"].to_numpy()[~miscalled]
qv_bad = np.concatenate([true_mol["qv"].to_numpy()[miscalled], ntrs.loc[ntrs["origin"] == "ambient", "qv"]])
print(f"mean qv: correct molecules {qv_good.mean():.1f}, background {qv_bad.mean():.1f}")
assert qv_good.mean() > qv_bad.mean() + 10 and ntrs["qv"].between(0, 40).all()

# Jitter: on an otherwise perfect instrument, the same seed with and without jitter gives the
# same molecules, the jittered ones nudged by N(0, jitter_um²) in x, y and z. (With detection
# or mis-calls on as well, jitter draws first from the same stream, so a different — equally
# likely — set of molecules is detected and mis-called.)
jitter_cfg = leaky_cfg.model_copy(update={"instrument": leaky_cfg.instrument.model_copy(update={"jitter_um": 0.3})})
jittered = SpotlessSimulator(jitter_cfg).run().trs_df
assert len(jittered) == len(ltrs) and (jittered["feature_name"] == ltrs["feature_name"]).all()
shift = jittered["x"].to_numpy() - ltrs["x"].to_numpy()
print(f"jitter: s.d. of the x shift {shift.std():.3f} µm (jitter_um 0.3)")
assert within_sd(shift.std(), 0.3, 0.3 / np.sqrt(2 * len(shift)))
assert (jittered["landed_cell_id"] == ltrs["landed_cell_id"]).all(), "the truth is at the true position"

fig, axs = plt.subplots(1, 2, figsize=(13, 4))
axs[0].hist(qv_good, bins=40, alpha=0.6, density=True, label="correctly decoded")
axs[0].hist(qv_bad, bins=40, alpha=0.6, density=True, label="mis-called or ambient")
axs[0].set_xlabel("qv")
axs[0].legend()
axs[0].set_title("quality scores")
window = noisy.cell_gdf[(noisy.cell_gdf["x"] < 110) & (noisy.cell_gdf["y"] < 110)]
plot_tissue(window, ax=axs[1], alpha=0.3, scale_bar_um=20, legend=False)
sel = ntrs[(ntrs["x"] < 110) & (ntrs["y"] < 110)]
for origin, color in ORIGIN_COLORS.items():
    part = sel[sel["origin"] == origin]
    axs[1].scatter(part["x"], part["y"], s=2 if origin == "cell" else 5, color=color, label=origin, lw=0)
axs[1].legend(markerscale=3, fontsize=8, loc="upper right")
axs[1].set_title("molecules by origin, with a noisy instrument")
fig.suptitle("4.3 Instrument effects", fontsize=12)
plt.show()

# %% [markdown]
# ## 4.4 The transcript table and its truth
#
# | column | meaning |
# |---|---|
# | `transcript_id` | 0 … n−1 |
# | `x`, `y`, `z` | the **recorded** position, µm (true position + jitter) |
# | `feature_name` | the **reported** gene, or a control name |
# | `qv` | quality score, 0–40 |
# | `cell_id`, `celltype` | the **true source cell** and its type; −1 / `none` for ambient and control molecules |
# | `origin` | `cell` (in its source cell), `leaked`, `ambient`, `control` |
# | `landed_cell_id` | the cell whose polygon holds the **true** position; −1 outside every cell |
# | `compartment`, `overlaps_nucleus` | `nucleus`, `cytoplasm` or `extracellular`, at the true position |
# | `true_feature_name` | the gene the molecule really is |
#
# The first block is what an instrument writes; the second is the ground truth a method is
# scored against (tutorial 06). Note the two cell columns: `cell_id` is who *made* the
# molecule, `landed_cell_id` is where it *is* — what an ideal segmentation would report.
print(ntrs.head())
assert list(ntrs.columns) == [
    "transcript_id", "x", "y", "z", "feature_name", "cell_id", "celltype", "origin", "landed_cell_id",
    "compartment", "overlaps_nucleus", "qv", "true_feature_name"], list(ntrs.columns)
assert (ntrs["transcript_id"].to_numpy() == np.arange(len(ntrs))).all()
table = pd.crosstab(ntrs["origin"], ntrs["compartment"])
print(table)
assert table.loc["cell", "extracellular"] == 0, "a molecule in its cell is never extracellular"

# The QC panels a user should look at before trusting a dataset: molecules per cell, per
# gene, by origin, and the cell and nucleus areas.
plot_qc(noisy)
plt.show()

print("TUTORIAL 04 OK")
