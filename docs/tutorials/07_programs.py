"""Step 7 — Gene programs and named cell types: the program model.

Tutorials 1–6 use the seed's model: cell types ct_0, ct_1 … with marker, housekeeping and
silent genes drawn from gamma priors. The program model describes cell types the way a
biologist does: by name ("Fibroblast / CAF") and by the gene programs they switch on. A
program is a set of genes that rise together, each by its loading per unit of activation.
For a cell c of type k with size factor s_c:

    z_c  ~ N(μ_k, diag σ_k²)                 program activations (unlisted programs: 0)
    m_gc = max(μ0 + Σ_p W_gp z_cp, ε) · s_c  the gene's mean in that cell (ε = 1e-6)
    CV   = φ0 · m_gc^(-α)                    less overdispersion for higher means
    λ    ~ Gamma(1/CV², m_gc·CV²),  Y ~ Poisson(λ)

so E[Y] = m and Var[Y] = m + CV²·m². The whole model is in docs/model_programs.md.

Run it against the installed package:  python 07_programs.py
Figures go to $TUTORIAL_OUT (default: ./tutorial_out). It ends with "TUTORIAL 07 OK".
"""
from _figures import save_figures_instead_of_showing  # beside this file: plt.show() saves to $TUTORIAL_OUT

import matplotlib.pyplot as plt

out_dir = save_figures_instead_of_showing("07")

# %% [markdown]
# ## Imports
import os  # noqa: E402
import warnings  # noqa: E402

warnings.simplefilter(action="ignore", category=FutureWarning)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from STpuppeteer.plotting.overview import plot_overview  # noqa: E402
from STpuppeteer.plotting.palette import celltype_palette  # noqa: E402
from STpuppeteer.simulation import (  # noqa: E402
    SimulationConfig,
    SpotlessSimulator,
    build_program_gpar_df,
    classify_leakage,
    counts_to_transcript_df,
    expected_program_means,
    program_means,
    sample_counts_program_model,
)

plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False})


def within_se(value, expected, se, n_se=5.0):
    """True when value is within n_se standard errors of expected."""
    return abs(value - expected) <= n_se * se + 1e-12


print("Imports OK")

# %% [markdown]
# ## 7.1 A program config
#
# A config is in the program model when it has `programs` and `cell_type_specs`. Cell types
# are named freely; `program_activations` is `{program: mean}` or a list in program order;
# `proportion` is a weight (normalised over the types). YAML may be flat or wrapped in a
# `simulation:` key. The gene panel is the loading genes in order of first appearance.
YAML = """
simulation:
  seed: 7
  n_cells: 1500
  expression_baseline: 0.05     # μ0
  overdispersion_cv: 0.5        # φ0: CV at a mean of 1
  overdispersion_exponent: 0.3  # α
  programs:
    - {name: epithelial, loading: {EPCAM: 30.0, KRT8: 40.0, KRT19: 20.0}}
    - {name: secretory, loading: {MUC1: 25.0, KRT19: 10.0, TFF1: 15.0}}
    - {name: stroma, loading: {COL1A1: 50.0, DCN: 30.0, LUM: 20.0}}
    - {name: immune, loading: {PTPRC: 30.0, CD3E: 25.0, CD8A: 15.0}}
  cell_type_specs:
    Ductal/tumor epithelial: {proportion: 3, program_activations: {epithelial: 1.0, secretory: 0.6},
                              activation_sd: {secretory: 0.4}}
    Fibroblast / CAF: {proportion: 2, program_activations: [0, 0, 1.0, 0]}
    T cell (CD8⁺): {proportion: 1, program_activations: {immune: 1.0}}
  leakage_by_celltype: {T cell (CD8⁺): 0.2}
  leakage_by_gene: {COL1A1: 0.1}
"""
path = os.path.join(out_dir, "programs.yaml")
with open(path, "w") as fh:
    fh.write(YAML)
cfg = SimulationConfig.from_yaml(path)
print("cell types:", cfg.celltype_names)
print("proportions:", [round(p, 3) for p in cfg.celltype_proportions])
print("genes:", cfg.resolve_gene_names())
assert cfg.celltype_proportions == [0.5, 2 / 6, 1 / 6]
assert cfg.cell_type_specs["Fibroblast / CAF"].program_activations == {
    "epithelial": 0, "secretory": 0, "stroma": 1.0, "immune": 0}
gpar_df = build_program_gpar_df(cfg)
print(gpar_df.round(2).to_string(index=False))

# %% [markdown]
# ## 7.2 The model, checked
#
# Other simulators call the model on their own cells: `sample_counts_program_model(cell_gdf,
# cfg, rng)` needs only each cell's `celltype` (and optionally its `scale`). With no activation
# spread (the fibroblasts and T cells here) the counts of a gene in a type have mean m and
# variance m + CV²m² — checked gene by gene against their standard errors. For a type with an
# activation spread the counts are a mixture over the activations: its mean is
# `expected_program_means`, the mean of the floored normal. The size factor multiplies m, so
# drawing the same types at size factors from 0.01 to 2 traces the mean–variance curve.
N = 4000
cells = pd.DataFrame({"celltype": np.repeat(cfg.celltype_names, N)})
counts = sample_counts_program_model(cells, cfg, np.random.default_rng(1))
genes = cfg.resolve_gene_names()
m_at_mean = program_means(cfg)
expected = expected_program_means(cfg)
rows = []
for k, ct in enumerate(cfg.celltype_names):
    y = counts[cells["celltype"].to_numpy() == ct]
    for g, gene in enumerate(genes):
        m = m_at_mean.iloc[k, g]
        var = m + (cfg.overdispersion_cv * m ** -cfg.overdispersion_exponent) ** 2 * m**2
        rows.append({"celltype": ct, "gene": gene, "m": m, "mean": y[:, g].mean(), "var": y[:, g].var(ddof=1),
                     "model var": var, "E[Y]": expected.iloc[k, g]})
        assert within_se(y[:, g].mean(), expected.iloc[k, g], np.sqrt(y[:, g].var() / N)), rows[-1]
        if ct != "Ductal/tumor epithelial":
            m4 = np.mean((y[:, g] - y[:, g].mean()) ** 4)
            assert within_se(y[:, g].var(ddof=1), var, np.sqrt((m4 - var**2) / N)), rows[-1]
table = pd.DataFrame(rows)
print(table[table["celltype"] != "Ductal/tumor epithelial"].round(2).head(8).to_string(index=False))

palette = celltype_palette(cfg.celltype_names)
fig, axs = plt.subplots(1, 2, figsize=(14, 4.6), gridspec_kw={"width_ratios": [1.4, 1]})
mean_by_type = pd.DataFrame([counts[cells["celltype"].to_numpy() == ct].mean(axis=0) for ct in cfg.celltype_names],
                            index=cfg.celltype_names, columns=genes)
sns.heatmap(np.log1p(mean_by_type), ax=axs[0], cmap="YlOrRd", cbar_kws={"label": "log(1 + mean count)"})
axs[0].set_title("mean counts per cell type: each type shows its programs")
grid = np.logspace(-1, 2.1, 100)
axs[1].plot(grid, grid, color="grey", lw=1, ls=":", label="Poisson: var = m")
axs[1].plot(grid, grid + cfg.overdispersion_cv**2 * grid ** (2 - 2 * cfg.overdispersion_exponent), color="black",
            lw=1.2, label="var = m + φ0² m^(2−2α)")
# Size factors from 0.01 to 2 spread each gene's mean over four decades (scale multiplies m).
scales = np.array([0.01, 0.03, 0.1, 0.3, 1.0, 2.0])
for ct in cfg.celltype_names[1:]:
    ladder = pd.DataFrame({"celltype": ct, "scale": np.repeat(scales, 2000)})
    y = sample_counts_program_model(ladder, cfg, np.random.default_rng(3))
    groups = [y[ladder["scale"].to_numpy() == s] for s in scales]
    means = np.concatenate([g.mean(axis=0) for g in groups])
    variances = np.concatenate([g.var(axis=0, ddof=1) for g in groups])
    expressed = means > 0.2  # genes of the type's program, not the baseline
    axs[1].scatter(means[expressed], variances[expressed], color=palette[ct], s=14, label=ct, zorder=3)
axs[1].set_xscale("log")
axs[1].set_yscale("log")
axs[1].set_xlabel("mean count")
axs[1].set_ylabel("variance")
axs[1].legend(fontsize=8)
axs[1].set_title("mean–variance, size factors 0.01–2 (types without spread)")
fig.suptitle("7.2 Counts of the program model", fontsize=12)
plt.show()

# %% [markdown]
# ## 7.3 Activation spread makes a program's genes co-vary
#
# With `activation_sd` > 0 every cell draws its own activation of the program, so the genes the
# program loads rise and fall together across cells of one type: MUC1 and TFF1 (the
# `secretory` program, spread 0.4) correlate across ductal cells, while EPCAM and KRT8
# (`epithelial`, no spread) only share the Poisson–Gamma noise of independent genes.
ductal = counts[cells["celltype"].to_numpy() == "Ductal/tumor epithelial"]
col = {g: genes.index(g) for g in genes}
r_sec = np.corrcoef(ductal[:, col["MUC1"]], ductal[:, col["TFF1"]])[0, 1]
r_epi = np.corrcoef(ductal[:, col["EPCAM"]], ductal[:, col["KRT8"]])[0, 1]
print(f"ductal cells: corr(MUC1, TFF1) = {r_sec:.2f} (program with spread), corr(EPCAM, KRT8) = {r_epi:.2f}")
assert r_sec > 0.3 and abs(r_epi) < 0.1
fig, axs = plt.subplots(1, 2, figsize=(10, 4.2), sharey=False)
jitter = np.random.default_rng(0).uniform(-0.3, 0.3, (len(ductal), 2))
for ax, (a, b), r in ((axs[0], ("MUC1", "TFF1"), r_sec), (axs[1], ("EPCAM", "KRT8"), r_epi)):
    ax.scatter(ductal[:, col[a]] + jitter[:, 0], ductal[:, col[b]] + jitter[:, 1], s=2, alpha=0.3,
               color=palette["Ductal/tumor epithelial"])
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    ax.set_title(f"r = {r:.2f}")
fig.suptitle("7.3 Ductal cells: a program with spread (left), one without (right)", fontsize=12)
plt.show()

# %% [markdown]
# ## 7.4 A named tissue: the breast preset, end to end
#
# `SimulationConfig.from_preset("breast_programs")` is seven breast cell types from twelve
# programs over 35 well-known markers, on the Xenium platform's settings
# (`stpuppeteer config --model programs` prints it, commented). It runs through the same
# stages, writers and metrics as the seed's model; the ground truth and AnnData carry the names.
breast = SpotlessSimulator(SimulationConfig.from_preset("breast_programs", seed=3, n_cells=1500)).run()
per_type = pd.Series(breast.count_array.sum(axis=1)).groupby(breast.cell_gdf["celltype"].to_numpy()).mean()
target = expected_program_means(breast.config).sum(axis=1)  # E[molecules] of a cell of size factor 1
print(pd.DataFrame({"mean molecules per cell": per_type.round(1), "Σ_g m_g": target.round(1)}))
for ct in breast.config.celltype_names:  # size factors average 1 per type, so the means agree
    assert abs(per_type[ct] / target[ct] - 1) < 0.06, ct
adata = breast.to_anndata()
assert set(adata.obs["celltype"]) == set(breast.config.celltype_names)
plot_overview(breast)
plt.show()

# %% [markdown]
# ## 7.5 Leak decisions for someone else's molecules
#
# `counts_to_transcript_df` turns a count matrix into one row per molecule; `classify_leakage`
# then decides for each whether it leaks: p = 1 − (1 − p_type)(1 − p_gene), p_type the cell's
# `leakage_percentage`, p_gene the gene's `gene_leakage`. Cell ids may be strings.
cells = cells.assign(cell_id=[f"cell-{i}" for i in range(len(cells))])
cells["leakage_percentage"] = cells["celltype"].map(cfg.leakage_by_celltype).fillna(0.0)
trs = counts_to_transcript_df(counts, cells["cell_id"].to_numpy(), genes)
leaked = classify_leakage(trs, cells, gpar_df, np.random.default_rng(2))
celltype_of = trs["cell_id"].map(cells.set_index("cell_id")["celltype"]).to_numpy()
for ct, gene in (("T cell (CD8⁺)", "CD3E"), ("Fibroblast / CAF", "COL1A1"), ("Fibroblast / CAF", "DCN")):
    sel = (celltype_of == ct) & (trs["feature_name"] == gene).to_numpy()
    p = 1 - (1 - cfg.leakage_by_celltype.get(ct, 0.0)) * (1 - cfg.leakage_by_gene.get(gene, 0.0))
    print(f"{ct:>18} {gene:>7}: leaked {leaked[sel].mean():.3f}, expected {p:.3f} ({sel.sum():,} molecules)")
    assert within_se(leaked[sel].mean(), p, np.sqrt(p * (1 - p) / sel.sum()))

print("TUTORIAL 07 OK")
