"""Step 3 — Draw the counts: how many molecules of each gene each cell makes.

Step 1 gave every gene a mean μ and a dispersion θ per cell type; step 2 gave every cell a
type and a size. Step 3 combines them into the true count matrix `count_array` (cells ×
genes): the number of molecules of gene g that cell c made. Nothing about positions yet —
step 4 places these molecules in space.

For cell c of type t and gene g the count is a negative binomial, written as the
Gamma–Poisson mixture that gives it its meaning:

    λ_cg ~ Gamma(shape θ_gt, scale s_c · μ_gt · E / θ_gt)     the cell's expression rate
    Y_cg ~ Poisson(λ_cg)                                      the molecules it made

    E[Y_cg]   = m = s_c · μ_gt · E
    Var[Y_cg] = m + m² / θ_gt                                 (Poisson noise + biological noise)

  * μ_gt, θ_gt — from gpar_df (step 1): the gene's mean and dispersion in the cell's type;
  * s_c — the cell's size factor `scale` in cell_gdf (step 2): on the default confluent cells
    the area the cell was drawn to have times a log-normal level (CV 0.3), over the mean of
    that in its type (so it averages 1 per type), so bigger cells make proportionally more of
    everything;
  * E — `expression_scale` (default 1): one knob for the overall molecules per cell; the
    platform presets set it to ≈ 5 to reach Xenium-like 150–350 molecules per cell.

Run it against the installed package:  python 03_counts.py
Figures go to $TUTORIAL_OUT (default: ./tutorial_out). It ends with "TUTORIAL 03 OK".
"""
from _figures import save_figures_instead_of_showing  # beside this file: plt.show() saves to $TUTORIAL_OUT

import matplotlib.pyplot as plt

save_figures_instead_of_showing("03")

# %% [markdown]
# ## Imports
import warnings  # noqa: E402

warnings.simplefilter(action="ignore", category=FutureWarning)
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from scipy import stats  # noqa: E402

from STpuppeteer.plotting.palette import celltype_palette  # noqa: E402
from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator  # noqa: E402

CT_PALETTE = celltype_palette(3)
plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False})
print("Imports OK")

# %% [markdown]
# ## 3.1 The count matrix
#
# `generate_counts()` runs steps 1 and 2 if they have not been run, then draws `count_array`:
# an int32 array with one row per cell (in `cell_gdf` order) and one column per gene (in
# `gpar_df` order). These are the molecules the cells *made*; step 4 decides which of them an
# instrument detects and where.
N_CELLS = 1500
config = SimulationConfig(seed=3, n_cells=N_CELLS, expression_scale=5.0)
sim = SpotlessSimulator(config)
count_array = sim.generate_counts()
gpar_df, cell_gdf = sim.gpar_df, sim.cell_gdf
print(f"count_array: {count_array.shape} {count_array.dtype}; "
      f"median {np.median(count_array.sum(axis=1)):.0f} molecules per cell")
assert count_array.shape == (N_CELLS, config.n_genes)
assert count_array.dtype == np.int32 and count_array.min() >= 0

# %% [markdown]
# ## 3.2 The negative binomial, checked
#
# To see the formula without the size factor in the way, we make every nucleus the same size
# (`morphology.nucleus_area_cv=0`, on the expanded cell model, where no cell is too small for
# its nucleus), so every `scale` is 1 and all cells of a type share one
# distribution per gene. Then for the ct_0 cells the counts of gene g must have mean
# m = μ_g·E and variance m + m²/θ_g. We check every gene's mean against its standard error,
# and, for the strongest ct_0 marker, the variance (its standard error from a bootstrap) and
# the whole histogram against scipy's negative binomial. In the mean–variance panel each gene
# has its own θ (drawn from the θ prior of step 1), so genes scatter around the curve of the
# median θ; a gene far above it simply drew a small θ.
equal = SpotlessSimulator(SimulationConfig(seed=4, n_cells=N_CELLS, expression_scale=5.0,
                                           morphology={"nucleus_area_cv": 0.0, "cell_model": "expanded"}))
Y = equal.generate_counts()
assert np.allclose(equal.cell_gdf["scale"], 1.0)
in_ct0 = (equal.cell_gdf["celltype"] == "ct_0").to_numpy()
Y0 = Y[in_ct0]
mu = equal.gpar_df["ct_0_mu"].to_numpy() * 5.0
theta = equal.gpar_df["ct_0_theta"].to_numpy()
expected_var = mu + mu**2 / theta
z = (Y0.mean(axis=0) - mu) / np.sqrt(expected_var / len(Y0))
print(f"{len(Y0)} ct_0 cells; mean counts vs m for all {len(z)} genes: max |z| = {np.abs(z).max():.2f}")
# 300 genes: |z| above 4.5 has a chance of ~0.2 % somewhere in the panel.
assert np.abs(z).max() < 4.5, "every gene's mean count is s·μ·E"

g = int(np.argmax(np.where(equal.gpar_df["gene_type"] == "ct_0_mkr", mu, -1)))
name = equal.gpar_df["feature_name"].iloc[g]
y = Y0[:, g]
rng = np.random.default_rng(0)  # for the bootstrap only
boot = y[rng.integers(0, len(y), size=(2000, len(y)))].var(axis=1, ddof=1)
print(f"{name}: m = {mu[g]:.2f}, θ = {theta[g]:.2f}; mean {y.mean():.2f}; "
      f"variance {y.var(ddof=1):.2f} ± {boot.std():.2f} vs m + m²/θ = {expected_var[g]:.2f}")
assert abs(y.var(ddof=1) - expected_var[g]) < 5 * boot.std(), "variance is m + m²/θ"
assert expected_var[g] > 1.5 * mu[g], "this gene is clearly over-dispersed compared with a Poisson"

# scipy's nbinom(n, p) has mean n(1-p)/p: n = θ, p = θ / (θ + m).
k = np.arange(0, int(y.max()) + 1)
nb_pmf = stats.nbinom.pmf(k, theta[g], theta[g] / (theta[g] + mu[g]))
pois_pmf = stats.poisson.pmf(k, mu[g])
observed = np.bincount(y, minlength=len(k))
fig, axs = plt.subplots(1, 2, figsize=(13, 4))
axs[0].bar(k, observed / len(y), color=CT_PALETTE["ct_0"], alpha=0.6, label=f"simulated ({len(y)} ct_0 cells)")
axs[0].plot(k, nb_pmf, "o-", color="black", ms=3, label=f"NB(m={mu[g]:.1f}, θ={theta[g]:.1f})")
axs[0].plot(k, pois_pmf, "--", color="#aa3333", label="Poisson(m): no biological noise")
axs[0].set_xlabel(f"counts of {name} per cell")
axs[0].set_ylabel("fraction of cells")
axs[0].legend(fontsize=8)
axs[0].set_title("one gene in one cell type")
m_obs, v_obs = Y0.mean(axis=0), Y0.var(axis=0, ddof=1)
axs[1].scatter(m_obs, v_obs, s=6, alpha=0.6, label="genes (ct_0 cells)")
grid = np.linspace(0, m_obs.max(), 100)
axs[1].plot(grid, grid, "--", color="#aa3333", label="Poisson: Var = m")
axs[1].plot(grid, grid + grid**2 / np.median(theta), color="black",
            label=f"NB with median θ = {np.median(theta):.1f}")
axs[1].set_xlabel("mean count")
axs[1].set_ylabel("variance")
axs[1].legend(fontsize=8)
axs[1].set_title("mean–variance over all genes")
fig.suptitle("3.2 Counts are negative binomial: Var = m + m²/θ", fontsize=12)
plt.show()

# %% [markdown]
# ## 3.3 The size factor `scale`
#
# Real cells differ in size, and a bigger cell has more RNA of every gene. On the default
# confluent cells each cell's `scale` s_c is the area it was drawn to have (log-normal, CV 0.45)
# times a log-normal level of mean 1 (CV 0.3: how much of the cell the section holds), over the
# mean of that in its type; every μ of the cell is multiplied by it. So the expected total count
# of a cell is s_c · E · Σ_g μ_gt: a straight line through the origin per cell type, and the
# totals are right-skewed (mean above the median), as in imaging data. (`size_factor`,
# `size_factor_exponent`, `size_factor_cv` choose the area, its power and the level's spread;
# docs/model_genes.md.)
totals = count_array.sum(axis=1)
scale = cell_gdf["scale"].to_numpy()  # cell_gdf.scale would be GeoDataFrame.scale, a method
fig, ax = plt.subplots(figsize=(6.5, 4.5))
for ct, color in CT_PALETTE.items():
    sel = (cell_gdf["celltype"] == ct).to_numpy()
    slope = gpar_df[f"{ct}_mu"].sum() * config.expression_scale
    fit = np.sum(scale[sel] * totals[sel]) / np.sum(scale[sel] ** 2)
    print(f"{ct}: expected molecules per unit scale {slope:.1f}, least-squares slope {fit:.1f}")
    # Residual s.d. of a total is about √(m + m²/θ) summed over genes; 5 % is ≫ 5 SE here.
    assert abs(fit / slope - 1) < 0.05, (ct, fit, slope)
    ax.scatter(scale[sel], totals[sel], s=4, alpha=0.5, color=color, label=ct)
    ax.plot([0, scale.max()], [0, slope * scale.max()], color=color)
ax.set_xlabel("size factor s_c (cell_gdf['scale'])")
ax.set_ylabel("molecules made by the cell")
ax.legend()
ax.set_title("3.3 Bigger cells make more molecules")
plt.show()
assert np.corrcoef(scale, totals)[0, 1] > 0.5
print(f"molecules per cell: mean / median = {totals.mean() / np.median(totals):.2f}")
assert totals.mean() / np.median(totals) > 1.05, "totals are right-skewed"

# %% [markdown]
# ## 3.4 `expression_scale`: one knob for the overall level
#
# `expression_scale` multiplies every μ, so it moves molecules per cell up or down without
# touching which genes mark which type. The same seed draws the same Gamma variates, so
# doubling E doubles every λ exactly; only the Poisson step adds new noise.
levels = [1.0, 2.0, 5.0, 10.0]
medians = []
fig, ax = plt.subplots(figsize=(7, 4))
for e in levels:
    c = SpotlessSimulator(SimulationConfig(seed=3, n_cells=600, expression_scale=e)).generate_counts()
    tot = c.sum(axis=1)
    medians.append(np.median(tot))
    ax.hist(tot, bins=40, alpha=0.55, label=f"expression_scale = {e:g} (median {medians[-1]:.0f})")
ax.set_xlabel("molecules per cell")
ax.set_ylabel("# cells")
ax.legend(fontsize=8)
ax.set_title("3.4 expression_scale sets the molecules per cell")
plt.show()
ratios = np.array(medians) / medians[0]
print("median molecules per cell relative to E = 1:", np.round(ratios, 2))
assert np.allclose(ratios, levels, rtol=0.1), "molecules per cell grow in proportion to expression_scale"

# %% [markdown]
# ## 3.5 Markers separate the cell types
#
# The point of marker genes is that a cell's counts say what it is. Averaging counts per cell
# type shows the block structure of step 1's μ table; a PCA of log-normalised counts (plain
# numpy SVD, no single-cell package needed) shows the types as separate clouds; and a
# nearest-centroid rule on the first two components recovers the true type of almost every
# cell.
types = cell_gdf["celltype"].to_numpy()
gene_class = gpar_df["gene_type"].str.replace("_mkr", " marker").to_numpy()
mean_by_type = np.stack([count_array[types == ct].mean(axis=0) for ct in CT_PALETTE])

norm = np.log1p(count_array / count_array.sum(axis=1, keepdims=True) * np.median(totals))
centred = norm - norm.mean(axis=0)
u, s, _ = np.linalg.svd(centred, full_matrices=False)
pcs = u[:, :2] * s[:2]
centroids = np.stack([pcs[types == ct].mean(axis=0) for ct in CT_PALETTE])
predicted = np.array(list(CT_PALETTE))[np.argmin(((pcs[:, None, :] - centroids) ** 2).sum(axis=2), axis=1)]
accuracy = float((predicted == types).mean())
print(f"nearest-centroid typing on 2 PCs: {accuracy:.1%} of cells get their true type")
assert accuracy > 0.95, "markers separate the types"
for k, ct in enumerate(CT_PALETTE):
    own = gene_class == f"{ct} marker"
    others = [j for j in range(3) if j != k]
    # A type's own markers: far higher mean counts in it than in any other type.
    assert (mean_by_type[k, own].mean() > 5 * mean_by_type[others][:, own].mean(axis=1)).all(), ct

fig, axs = plt.subplots(1, 2, figsize=(15, 4.5), gridspec_kw={"width_ratios": [2.2, 1]})
sns.heatmap(np.log1p(mean_by_type), ax=axs[0], cmap="YlOrRd", xticklabels=False,
            yticklabels=list(CT_PALETTE), cbar_kws={"label": "log(1 + mean count)"})
for boundary in np.flatnonzero(gene_class[1:] != gene_class[:-1]) + 1:
    axs[0].axvline(boundary, color="white", lw=1.5)
axs[0].set_xlabel("← genes: ct_0 markers | ct_1 markers | ct_2 markers | housekeeping →")
axs[0].set_title("mean counts per cell type")
for ct, color in CT_PALETTE.items():
    sel = types == ct
    axs[1].scatter(pcs[sel, 0], pcs[sel, 1], s=4, alpha=0.6, color=color, label=ct)
axs[1].set_xlabel("PC 1")
axs[1].set_ylabel("PC 2")
axs[1].legend(markerscale=3)
axs[1].set_title(f"PCA of log-normalised counts ({accuracy:.0%} typed right)")
fig.suptitle("3.5 Marker genes make the cell types separable", fontsize=12)
plt.show()

print("TUTORIAL 03 OK")
