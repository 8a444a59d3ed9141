"""Step 2 — Generate the tissue: where cells sit, which type they are, what they look like.

Step 1 gave every gene a mean μ and a dispersion θ per cell type. Before any molecule can
be drawn we need the cells themselves: a piece of tissue, a centre per cell, a cell type per
centre, a nucleus, and a cell outline around it. `generate_cells()` builds all of that in one
call and returns `cell_gdf`, a GeoDataFrame with one row per cell.

The stage has four sub-steps, each with its own knobs and its own random stream (changing
one never shifts the numbers of another):

    config.tissue (density, aspect_ratio, mask_um, min_distance_ratio)
    │
    ▼  1. region and centres — evenly spread, never closer than a hard-core distance
    │
    config.tissue (proportions, pattern, prototypes, fuzziness)
    │
    ▼  2. cell types in space — mixed / domains / layers, plus clusters, rings, chains
    │
    config.morphology (nucleus area, elongation, roughness, celltype_shapes)
    │
    ▼  3. nuclei — rough ellipses
    │
    config.morphology.max_expansion_um
    │
    ▼  4. cells — Voronoi cell of the centre ∩ nucleus expanded by max_expansion_um
    │
    cell_gdf — cell_id, celltype, x, y, z, nucleus_x, nucleus_y, nucleus_area,
               cell_area, scale, leakage_percentage, geometry (cell), nucleus

Run it against the installed package:  python 02_cell_generation.py
Figures go to $TUTORIAL_OUT (default: ./tutorial_out). It ends with "TUTORIAL 02 OK".
"""
from _figures import save_figures_instead_of_showing  # beside this file: plt.show() saves to $TUTORIAL_OUT

import matplotlib.pyplot as plt

save_figures_instead_of_showing("02")

# %% [markdown]
# ## Imports
import warnings  # noqa: E402

warnings.simplefilter(action="ignore", category=FutureWarning)
import numpy as np  # noqa: E402
import shapely  # noqa: E402
from scipy import stats  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from STpuppeteer.config.tissue_checks import hardcore_distance_um  # noqa: E402
from STpuppeteer.plotting.palette import celltype_palette  # noqa: E402
from STpuppeteer.plotting.tissue import plot_tissue  # noqa: E402
from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator  # noqa: E402

plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False})
print("Imports OK")


def cells_of(**fields):
    """Run stage 2 only (no genes, counts or molecules are needed for this tutorial)."""
    return SpotlessSimulator(SimulationConfig(**fields)).generate_cells()


# %% [markdown]
# ## 2.1 The region and the cell centres
#
# The tissue is a rectangle whose area is `n_cells / tissue.density_per_mm2` (default 2,200
# cells per mm², what Xenium sees in most tissues) and whose width/height is
# `tissue.aspect_ratio`. Give `tissue.mask_um`, a polygon, for any other outline.
#
# Real nuclei do not overlap, so cell centres cannot be arbitrarily close. The centres start
# as a "blue-noise" pattern: a jittered grid relaxed until no two centres are closer than the
# hard-core distance, `tissue.min_distance_ratio` × the spacing of a hexagonal lattice at that
# density (default 0.7 → about 16 µm). Lower values give a more Poisson-like pattern (clumps
# and holes), 0.85 almost a crystal. The nuclei must still fit: with 50 µm² nuclei at 2,200
# cells/mm² the ratio cannot go much below 0.5 (smaller nuclei allow lower ratios).
#
# The default cell model, `morphology.cell_model="confluent"` (section 2.4), then moves the
# centres: each cell type gets the room its cell areas need and the cells are packed as
# ellipses, so small cells may sit closer than the hard-core distance. The hard-core guarantee
# is the `"expanded"` model's, which keeps the blue-noise centres as they are; we check it there.
N_CELLS = 1200
cell_gdf = cells_of(seed=2, n_cells=N_CELLS)
config = SimulationConfig(seed=2, n_cells=N_CELLS)
x0, y0, x1, y1 = cell_gdf.total_bounds
area_mm2 = (x1 - x0) * (y1 - y0) / 1e6
print(f"{len(cell_gdf)} cells on a {x1 - x0:.0f} × {y1 - y0:.0f} µm tissue: "
      f"{len(cell_gdf) / area_mm2:.0f} cells/mm² (asked for {config.tissue.density_per_mm2:.0f})")
assert len(cell_gdf) == N_CELLS
assert abs(len(cell_gdf) / area_mm2 / config.tissue.density_per_mm2 - 1) < 0.01

expanded_gdf = cells_of(seed=2, n_cells=N_CELLS, morphology={"cell_model": "expanded"})
centres = expanded_gdf[["nucleus_x", "nucleus_y"]].to_numpy()
nearest, _ = cKDTree(centres).query(centres, k=2)
hard_core = hardcore_distance_um(config.tissue, N_CELLS)
print(f"hard-core distance {hard_core:.1f} µm; closest pair of centres {nearest[:, 1].min():.1f} µm")
assert nearest[:, 1].min() >= 0.99 * hard_core, "no two centres are closer than the hard-core distance"

# A non-rectangular tissue: a hexagon-ish outline, rescaled so that the density is kept.
mask = [(0, 300), (250, 0), (700, 50), (900, 400), (600, 800), (150, 700)]
masked = cells_of(seed=2, n_cells=800, tissue={"mask_um": mask})
# The nearest-neighbour distances show how the relaxation works: it pushes close pairs apart
# just to the hard-core distance, so many cells have a neighbour at about that distance (the
# spike in the right panel below) and none closer (on the expanded model, which keeps them).
ratios = [0.5, 0.7, 0.85]
nn_dist = {}
for ratio in ratios:
    gdf = cells_of(seed=2, n_cells=800, tissue={"min_distance_ratio": ratio}, morphology={"cell_model": "expanded"})
    xy = gdf[["nucleus_x", "nucleus_y"]].to_numpy()
    nn_dist[ratio] = cKDTree(xy).query(xy, k=2)[0][:, 1]
    limit = hardcore_distance_um(SimulationConfig(n_cells=800, tissue={"min_distance_ratio": ratio}).tissue, 800)
    print(f"min_distance_ratio {ratio}: hard-core {limit:.1f} µm, closest pair {nn_dist[ratio].min():.1f} µm")
    # Near the top of the range the relaxation (at most 60 sweeps) can stop with a few
    # pairs a little closer than the target; below it the target is met.
    if ratio <= 0.7:
        assert nn_dist[ratio].min() >= 0.99 * limit, ratio
fig, axs = plt.subplots(1, 3, figsize=(17, 5.5))
plot_tissue(cell_gdf, ax=axs[0])
axs[0].set_title("default: 1,200 cells, rectangle")
plot_tissue(masked, ax=axs[1])
axs[1].set_title("tissue.mask_um: any outline")
for ratio in ratios:
    axs[2].hist(nn_dist[ratio], bins=40, range=(5, 30), alpha=0.55, label=f"min_distance_ratio = {ratio}")
axs[2].set_xlabel("distance from a centre to its nearest neighbour (µm)")
axs[2].set_ylabel("# cells")
axs[2].legend(fontsize=8)
axs[2].set_title("expanded model: higher ratio, more regular spacing")
fig.suptitle("2.1 Tissue region, density and cell centres", fontsize=12)
plt.show()

# %% [markdown]
# ## 2.2 Cell types in space
#
# First the number of cells per type is fixed (`tissue.proportions`, default equal), then a
# pattern decides *where* they go. Every pattern gives exactly the same counts per type:
#
# | `tissue.pattern` | what it looks like | knobs |
# |---|---|---|
# | `mixed` | salt and pepper, no structure | — |
# | `domains` | patches of each type, like a tumour with stroma | `domain_length_um` (patch size) |
# | `layers` | parallel bands, like cortex or epithelium | `layer_order`, `layer_angle_deg`, `layer_wobble_um` |
#
# On top of the pattern, `tissue.prototypes` place local structures of one type: a `cluster`
# (a disc), a `ring` (an annulus, optionally around a core of another type — an immune ring
# around a tumour nest) or a `chain` (a winding band — a vessel). `fuzziness` types a fraction
# of the cells at random, blurring any pattern.
patterns = {
    "mixed": {"pattern": "mixed"},
    "domains (150 µm)": {"pattern": "domains", "domain_length_um": 150.0},
    "layers, wavy": {"pattern": "layers", "layer_order": ["ct_2", "ct_0", "ct_1"], "layer_wobble_um": 30.0},
    "layers + 30 % fuzziness": {"pattern": "layers", "fuzziness": 0.3},
}
tissues = {name: cells_of(seed=3, n_cells=N_CELLS, tissue=t) for name, t in patterns.items()}
fig, axs = plt.subplots(1, 4, figsize=(22, 5.8))
for ax, (name, gdf) in zip(axs, tissues.items(), strict=True):
    plot_tissue(gdf, ax=ax, legend=ax is axs[-1])
    ax.set_title(name)
fig.suptitle("2.2 tissue.pattern — same cells per type, different arrangements", fontsize=12)
plt.show()

for name, gdf in tissues.items():
    counts = gdf["celltype"].value_counts().sort_index()
    assert counts.tolist() == [400, 400, 400], (name, counts)


def same_type_neighbours(gdf, k=6):
    """Fraction of a cell's k nearest neighbours that share its type (1/3 when mixed)."""
    xy = gdf[["nucleus_x", "nucleus_y"]].to_numpy()
    _, idx = cKDTree(xy).query(xy, k=k + 1)
    types = gdf["celltype"].to_numpy()
    return float((types[idx[:, 1:]] == types[:, None]).mean())


for name, gdf in tissues.items():
    print(f"{name:<25} same-type neighbours: {same_type_neighbours(gdf):.2f}")
assert abs(same_type_neighbours(tissues["mixed"]) - 1 / 3) < 0.05, "mixed has no structure"
assert same_type_neighbours(tissues["domains (150 µm)"]) > 0.6, "domains are patches"
assert same_type_neighbours(tissues["layers + 30 % fuzziness"]) < same_type_neighbours(tissues["layers, wavy"])
# layer_order is bottom to top along y (layer_angle_deg=90): ct_2, then ct_0, then ct_1.
mean_y = tissues["layers, wavy"].groupby("celltype")["y"].mean()
assert mean_y["ct_2"] < mean_y["ct_0"] < mean_y["ct_1"], mean_y

# Prototypes: a ct_1 cluster, a ct_2 ring around a ct_0 core, and a ct_1 chain (a vessel),
# on a mixed background that is mostly ct_0, so the structures stand out. Prototype cells
# come out of their type's quota (here 84 ct_1 and 48 ct_2 cells; the prototypes need about
# 67 and 39), and a config whose prototypes need more cells than the quota is refused.
prototypes = [
    {"kind": "cluster", "celltype": "ct_1", "radius_um": 70.0},
    {"kind": "ring", "celltype": "ct_2", "core_celltype": "ct_0", "radius_um": 80.0, "width_um": 30.0},
    {"kind": "chain", "celltype": "ct_1", "length_um": 600.0, "width_um": 25.0, "tortuosity": 0.3},
]
proto_gdf = cells_of(seed=3, n_cells=N_CELLS,
                     tissue={"pattern": "mixed", "proportions": [0.89, 0.07, 0.04], "prototypes": prototypes})
counts = proto_gdf["celltype"].value_counts().sort_index()
print("cells per type with prototypes:", counts.to_dict())
assert counts.tolist() == [1068, 84, 48], "prototypes take their cells out of the type's quota"
fig, ax = plt.subplots(figsize=(8, 8))
plot_tissue(proto_gdf, ax=ax)
ax.set_title("2.2 tissue.prototypes: cluster (ct_1), ring (ct_2 around ct_0), chain (ct_1)")
plt.show()

# %% [markdown]
# ## 2.3 Nuclei
#
# Each nucleus is an ellipse made rough: its area is drawn from a Gamma distribution (mean
# `morphology.nucleus_area_mean_um2` = 50 µm², CV `nucleus_area_cv` = 0.3), its axis ratio is
# 1 + Gamma(mean `elongation_mean` − 1), its orientation is uniform, and its radius is
# perturbed by a few Fourier harmonics of total relative size `roughness`. The polygon is then
# rescaled so its area is exactly the drawn one. `morphology.celltype_shapes` overrides any of
# these per cell type: below, ct_1 gets large round smooth nuclei and ct_2 small elongated
# rough ones (think lymphocytes vs. fibroblasts).
#
# A nucleus too big for the space around its centre is shrunk to fit, and a config whose
# *mean* nucleus cannot fit the density is refused with a message saying what to change.
shapes_cfg = {
    "nucleus_area_mean_um2": 45.0,
    "celltype_shapes": {
        "ct_1": {"nucleus_area_mean_um2": 70.0, "elongation_mean": 1.05, "roughness": 0.0},
        "ct_2": {"nucleus_area_mean_um2": 30.0, "elongation_mean": 2.5, "roughness": 0.15},
    },
}
shaped = cells_of(seed=7, n_cells=N_CELLS, morphology=shapes_cfg)
by_type = shaped.groupby("celltype")["nucleus_area"].agg(["mean", "std", "count"])
print(by_type)
for ct, expected in {"ct_0": 45.0, "ct_1": 70.0, "ct_2": 30.0}.items():
    se = by_type.loc[ct, "std"] / np.sqrt(by_type.loc[ct, "count"])
    # Shrinking only ever makes nuclei smaller, so allow a little extra below the mean.
    assert -5 * se - 0.03 * expected < by_type.loc[ct, "mean"] - expected < 5 * se, (ct, by_type.loc[ct])


def elongation(polygons):
    """Ratio of the long to the short side of each polygon's minimum rotated rectangle."""
    rect = shapely.minimum_rotated_rectangle(polygons)
    xy = shapely.get_coordinates(rect).reshape(len(polygons), 5, 2)
    sides = np.stack([np.linalg.norm(xy[:, 1] - xy[:, 0], axis=1), np.linalg.norm(xy[:, 2] - xy[:, 1], axis=1)])
    return sides.max(axis=0) / sides.min(axis=0)


elong = {ct: np.median(elongation(g["nucleus"].to_numpy())) for ct, g in shaped.groupby("celltype")}
print("median elongation per type:", {k: round(v, 2) for k, v in elong.items()})
assert elong["ct_2"] > elong["ct_0"] > elong["ct_1"]

try:
    SimulationConfig(n_cells=500, morphology={"nucleus_area_mean_um2": 400.0})
except ValueError as err:
    # pydantic's ValidationError is a ValueError; .errors() holds the message itself.
    print("refused:", err.errors()[0]["msg"])
else:
    raise AssertionError("a nucleus of 400 µm² cannot fit at 2,200 cells/mm²")

fig, axs = plt.subplots(1, 2, figsize=(14, 5.5))
zoom = shaped[(shaped["x"] < 160) & (shaped["y"] < 160)]
plot_tissue(zoom, ax=axs[0], scale_bar_um=20)
axs[0].set_title("celltype_shapes: ct_1 big and round, ct_2 small, long and rough")
palette = celltype_palette(3)
for ct, g in shaped.groupby("celltype"):
    axs[1].hist(g["nucleus_area"], bins=40, alpha=0.6, label=ct, density=True, color=palette[ct])
axs[1].set_xlabel("nucleus area (µm²)")
axs[1].set_ylabel("density")
axs[1].legend()
axs[1].set_title("nucleus area per cell type")
fig.suptitle("2.3 Nuclei", fontsize=12)
plt.show()

# %% [markdown]
# ## 2.4 Cells
#
# By default (`morphology.cell_model="confluent"`, docs/model_tissue.md) cells fill the tissue
# as real epithelium and stroma do: each cell is the power (Laguerre) cell of its centre, a
# Voronoi cell weighted by the cell's target area (log-normal per type), clipped to the tissue;
# only configured gaps (lumens) and the tissue's edge are free of cells.
#
# The older model, `cell_model="expanded"`, is what you would get from Xenium's "expand the
# nucleus" segmentation done on the truth: the Voronoi cell of its centre intersected with the
# nucleus expanded by `morphology.max_expansion_um` (default 6 µm). Dense regions give
# polygonal, touching cells; sparse regions or small expansions leave gaps between them.
#
# What always holds: cells never overlap, each nucleus lies inside its own cell, and
# everything is inside the tissue.
geoms = cell_gdf.geometry.to_numpy()
union_area = shapely.union_all(geoms).area
print(f"sum of cell areas {cell_gdf['cell_area'].sum():,.0f} µm² = area of their union {union_area:,.0f} µm²")
assert abs(cell_gdf["cell_area"].sum() - union_area) < 1e-6 * union_area, "no two cells overlap"
assert shapely.within(cell_gdf["nucleus"].to_numpy(), shapely.buffer(geoms, 1e-6)).all(), "nucleus in its cell"
assert np.allclose(shapely.area(geoms), cell_gdf["cell_area"])
print(f"median cell area {cell_gdf['cell_area'].median():.0f} µm², "
      f"median nucleus area {cell_gdf['nucleus_area'].median():.0f} µm²")

expansions = [2.0, 6.0, 15.0]
fig, axs = plt.subplots(1, 3, figsize=(17, 5.8))
median_area = []
for ax, e in zip(axs, expansions, strict=True):
    gdf = cells_of(seed=2, n_cells=N_CELLS, morphology={"cell_model": "expanded", "max_expansion_um": e})
    median_area.append(gdf["cell_area"].median())
    plot_tissue(gdf[(gdf["x"] < 150) & (gdf["y"] < 150)], ax=ax, scale_bar_um=20, legend=False)
    ax.set_title(f"max_expansion_um = {e:g}: median cell {median_area[-1]:.0f} µm²")
fig.suptitle("2.4 The expanded model: cells = Voronoi ∩ nucleus expanded by max_expansion_um", fontsize=12)
plt.show()
assert median_area[0] < median_area[1] < median_area[2], "larger expansion, larger cells"

# %% [markdown]
# ## 2.5 A section has a thickness
#
# Imaging platforms image a section of 5–10 µm. Each cell gets a z centre, uniform over
# `tissue.section_thickness_um`; its molecules (step 4) are spread around that z.
thick = cells_of(seed=2, n_cells=N_CELLS, tissue={"section_thickness_um": 5.0})
assert thick["z"].between(0, 5.0).all()
# Uniform on [0, 5]: mean 2.5, s.d. 5/√12.
assert abs(thick["z"].mean() - 2.5) < 5 * (5 / np.sqrt(12)) / np.sqrt(N_CELLS)
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(thick["z"], bins=25, color="#555599", edgecolor="white")
ax.set_xlabel("z (µm)")
ax.set_ylabel("# cells")
ax.set_title("2.5 cell z centres, section_thickness_um = 5")
plt.show()

# %% [markdown]
# ## 2.6 The cell table
#
# `cell_gdf` is a GeoDataFrame: `geometry` holds the cell polygon and `nucleus` the nucleus
# polygon. Two columns feed the next steps:
#
# * `scale` — the cell's size factor s_c (step 3 multiplies μ by it), scaled so its mean per
#   type is exactly 1. On confluent cells (the default) it is the area the cell was drawn to
#   have (log-normal, section 2.4) times a log-normal level of mean 1 and CV 0.3
#   (`size_factor_cv`: how much of the cell the section holds), over the mean of that in its
#   type: bigger cells make more molecules. The polygon realises the drawn area loosely, so
#   `scale` follows `cell_area` only loosely. On
#   expanded cells, which grow from their nucleus, it is the nucleus area over its type's mean
#   (`size_factor` chooses the area; docs/model_genes.md, "Size factors").
# * `leakage_percentage` — the cell's probability that a molecule leaks out of it, from the
#   top-level `leakage_by_celltype` (default 0). Step 4 uses it.
print(cell_gdf.drop(columns=["geometry", "nucleus"]).head())
assert list(cell_gdf.columns) == [
    "cell_id", "celltype", "x", "y", "z", "nucleus_x", "nucleus_y", "nucleus_area", "cell_area",
    "scale", "leakage_percentage", "geometry", "nucleus"], list(cell_gdf.columns)
assert (cell_gdf["cell_id"].to_numpy() == np.arange(N_CELLS)).all()
assert np.allclose(cell_gdf.groupby("celltype")["scale"].mean(), 1.0)
assert np.allclose(expanded_gdf["scale"], expanded_gdf["nucleus_area"]
                   / expanded_gdf.groupby("celltype")["nucleus_area"].transform("mean"))
# Confluent cells: the size factor grows with the cell's polygon area, loosely (Spearman ≈ 0.65).
rho = stats.spearmanr(cell_gdf["cell_area"], cell_gdf["scale"]).statistic
print(f"Spearman(cell area, scale) = {rho:.2f}")
assert 0.5 < rho < 0.9, rho
assert cell_gdf["scale"].mean() / cell_gdf["scale"].median() > 1.04, "log-normal areas: right-skewed"

leaky = cells_of(seed=2, n_cells=300, leakage_by_celltype={"ct_1": 0.25})
print(leaky.groupby("celltype")["leakage_percentage"].first().to_dict())
assert (leaky.loc[leaky["celltype"] == "ct_1", "leakage_percentage"] == 0.25).all()
assert (leaky.loc[leaky["celltype"] != "ct_1", "leakage_percentage"] == 0.0).all()

fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(cell_gdf["nucleus_area"], cell_gdf["cell_area"], s=3, alpha=0.5)
ax.set_xlabel("nucleus area (µm²)")
ax.set_ylabel("cell area (µm²)")
ax.set_title("2.6 cell vs nucleus area")
plt.show()

print("TUTORIAL 02 OK")
