"""Step 5 — Write the simulation in the formats your tools already read.

A simulation is useful only if the tools you want to test can open it. STpuppeteer writes
the same simulated tissue as the folders three imaging platforms produce, and as the two
formats of the scverse ecosystem — each read here with the real readers:

    SimulationResult
    ├── write_xenium(path)       → Xenium bundle         → spatialdata_io.xenium(path)
    ├── write_merscope(path)     → MERSCOPE folder       → spatialdata_io.merscope(path)
    ├── write_cosmx(path)        → CosMx flat files      → spatialdata_io.cosmx(path)
    ├── write_spatialdata(path)  → SpatialData .zarr     → spatialdata.read_zarr(path)
    └── write_h5ad(path)         → AnnData .h5ad         → anndata.read_h5ad(path)

Every platform folder also holds `ground_truth/` (which cell really made each molecule,
true polygons, true counts — what no instrument knows) and `manifest.json` (config, seed,
package version and a checksum per file). Writing is safe: a folder appears only once it is
complete, and an existing path is never replaced unless you say `overwrite=True`.

Run it against the installed package:  python 05_outputs.py
Figures go to $TUTORIAL_OUT (default: ./tutorial_out). It ends with "TUTORIAL 05 OK".
"""
from _figures import save_figures_instead_of_showing  # beside this file: plt.show() saves to $TUTORIAL_OUT

import matplotlib.pyplot as plt

save_figures_instead_of_showing("05")

# %% [markdown]
# ## Imports
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

warnings.simplefilter(action="ignore")  # the readers are chatty about things irrelevant here
logging.disable(logging.WARNING)
import anndata  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import spatialdata  # noqa: E402
import spatialdata_io  # noqa: E402

from STpuppeteer.config.commented import commented_yaml  # noqa: E402
from STpuppeteer.io.cosmx import write_cosmx  # noqa: E402
from STpuppeteer.io.ground_truth import read_ground_truth  # noqa: E402
from STpuppeteer.io.merscope import write_merscope  # noqa: E402
from STpuppeteer.plotting.overview import plot_overview  # noqa: E402
from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator  # noqa: E402
from STpuppeteer.summary import format_summary, summarize  # noqa: E402

plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False})
print("Imports OK")


def dense(matrix):
    """A table's X as a dense numpy array, whether the reader made it sparse or not."""
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


# %% [markdown]
# ## 5.1 Platform presets
#
# `SimulationConfig.from_preset(name, **overrides)` starts from a platform's typical numbers:
# cell density, section thickness, overall expression (`expression_scale`, tuned so that the
# default 300-gene panel gives Xenium-like 150–350 molecules per cell), leakage ≈ 0.15–0.2,
# ambient RNA, negative controls ≈ 0.4 % of molecules, detection efficiency, per-FOV
# variation, localisation jitter and mis-calls. Any field can be overridden; nested configs
# given as dicts are merged key by key, so `instrument={"jitter_um": 0}` keeps the other
# instrument knobs of the preset.
rows = {}
for name in ("xenium", "merscope", "cosmx"):
    cfg = SimulationConfig.from_preset(name, seed=1, n_cells=600)
    summary = summarize(SpotlessSimulator(cfg).run())
    rows[name] = {
        "section (µm)": cfg.tissue.section_thickness_um,
        "detection": cfg.instrument.detection_efficiency,
        "jitter (µm)": cfg.instrument.jitter_um,
        **{k: summary[k] for k in ("cells_per_mm2", "molecules_per_um2", "median_molecules_per_cell",
                                   "pct_leaked", "pct_ambient", "pct_control")},
    }
    assert 150 <= summary["median_molecules_per_cell"] <= 350, (name, summary)
    assert 0.2 <= summary["pct_control"] <= 0.8, (name, summary)
presets = pd.DataFrame(rows).T
print(presets.round(3).to_string())
kept = SimulationConfig.from_preset("xenium", instrument={"jitter_um": 0.0})
assert kept.instrument.jitter_um == 0.0 and kept.instrument.ambient_rate_per_um2 > 0, "nested dicts merge"

# From here on: a small Xenium-like tissue (150 cells, ≈ 0.065 mm²). Writing time is mostly
# rendering the morphology images, which grows with the tissue area (a CosMx field of view
# is always 4256 × 4256 pixels, however few cells it holds); the same calls work for a slide.
config = SimulationConfig.from_preset("xenium", seed=5, n_cells=150)
result = SpotlessSimulator(config).run()
trs_df, cell_gdf = result.trs_df, result.cell_gdf
print(format_summary(summarize(result)))
plot_overview(result, zoom_um=80.0)
plt.show()

# What an instrument would count per cell: gene molecules (controls excluded) by the cell they
# landed in. to_anndata() keeps these in X (what scanpy analyses), the true counts in the layer
# "true".
adata = result.to_anndata()
observed = dense(adata.X)
is_gene = (trs_df["origin"] != "control").to_numpy()
landed = trs_df["landed_cell_id"].to_numpy()
assert observed.sum() == (is_gene & (landed >= 0)).sum()
assert (dense(adata.layers["true"]) == result.count_array).all()

workdir = Path(tempfile.mkdtemp(prefix="stpuppeteer_tutorial_05_"))

# %% [markdown]
# ## 5.2 Xenium
#
# A Xenium "outs" bundle: `transcripts.parquet`, `cells.parquet`, `cell_feature_matrix.h5`,
# cell and nucleus boundaries, `cells.zarr.zip` (label masks), the DAPI-like
# `morphology_focus/` image and `experiment.xenium`. Cell ids are Xenium's 8-letter form
# (`aaaaaaaa-1`), and a molecule's `cell_id` is the cell whose boundary contains it —
# what Xenium's own segmentation would assign if it were perfect. As in real Xenium data, the
# cell × gene matrix counts only molecules of quality score qv ≥ 20.
xenium_dir = result.write_xenium(workdir / "xenium")
print("Xenium bundle:", sorted(p.name for p in xenium_dir.iterdir()))
sdata = spatialdata_io.xenium(xenium_dir)
print(sdata)
points = sdata["transcripts"].compute()
table = sdata["table"]
assert len(points) == len(trs_df), "every molecule is in transcripts.parquet"
assert len(sdata["cell_boundaries"]) == len(cell_gdf) == table.n_obs
assert table.n_vars == config.n_genes

# Join the instrument's molecules to the truth on transcript_id: each Xenium cell id is one
# true cell, and UNASSIGNED is "landed in no cell".
truth = points[["transcript_id", "cell_id"]].merge(
    trs_df[["transcript_id", "landed_cell_id", "qv"]], on="transcript_id", validate="one_to_one")
pairs = truth[["cell_id", "landed_cell_id"]].drop_duplicates()
assert pairs["cell_id"].is_unique and pairs["landed_cell_id"].is_unique, "cell ids map one to one"
assert set(truth.loc[truth["landed_cell_id"] < 0, "cell_id"].astype(str)) == {"UNASSIGNED"}
in_cell = pairs[pairs["landed_cell_id"] >= 0]
xenium_of = dict(zip(in_cell["landed_cell_id"], in_cell["cell_id"].astype(str), strict=True))
assert len(xenium_of) == len(cell_gdf), "every cell holds molecules"
keep = is_gene & (landed >= 0) & (trs_df["qv"].to_numpy() >= 20)
per_cell = np.bincount(landed[keep], minlength=len(cell_gdf))
rows_of = pd.Index(table.obs_names).get_indexer([xenium_of[c] for c in range(len(cell_gdf))])
assert (dense(table.X).sum(axis=1)[rows_of] == per_cell).all(), "cell_feature_matrix: qv ≥ 20 molecules per cell"
print(f"Xenium: {len(points):,} molecules, {table.n_obs} cells, {int(dense(table.X).sum()):,} counts (qv ≥ 20)")

fig, axs = plt.subplots(1, 2, figsize=(13, 6))
image = np.asarray(sdata["morphology_focus"]["scale0"]["image"])[0]
# Xenium's pixels are 0.2125 µm and row 0 is the smallest y; draw the image in µm with y up.
height, width = image.shape
axs[0].imshow(image, cmap="gray", vmax=np.percentile(image, 99.5), origin="lower",
              extent=(0, width * 0.2125, 0, height * 0.2125))
cell_gdf.boundary.plot(ax=axs[0], color="#e6550d", lw=0.3)
axs[0].set_title("morphology_focus (DAPI-like) read back, true cells on top")
sdata["cell_boundaries"].boundary.plot(ax=axs[1], color="black", lw=0.5)
sdata["nucleus_boundaries"].boundary.plot(ax=axs[1], color="#888888", lw=0.5)
marker = trs_df.loc[trs_df["feature_name"].astype(str).str.startswith("ct_1_mkr"), "feature_name"].iloc[0]
genes_xy = points[points["feature_name"].astype(str) == marker]
axs[1].scatter(genes_xy["x"], genes_xy["y"], s=3, color="#1ebecd", label=marker)
axs[1].set_aspect("equal")
axs[1].legend(loc="upper right")
axs[1].set_title("cell and nucleus boundaries and one marker, as spatialdata_io reads them")
fig.suptitle("5.2 The Xenium bundle, opened by spatialdata_io.xenium", fontsize=12)
plt.show()

# %% [markdown]
# ## 5.3 MERSCOPE and CosMx
#
# MERSCOPE: `detected_transcripts.csv`, `cell_by_gene.csv`, `cell_metadata.csv`, cell
# boundaries and z-plane mosaics with their micron-to-pixel transform. CosMx: the flat files
# (`exprMat`, `metadata`, `fov_positions`, `tx_file`) and per-FOV `CellComposite` /
# `CellLabels` images; its cell × gene matrix also has columns for the negative-control
# probes. Both count gene molecules by the cell they landed in, as the instrument would.
#
# Rendering the images (MERSCOPE's z-plane mosaics, CosMx's 4256 × 4256-pixel composites per
# field of view) is what takes time. `result.write_merscope(path)` and `result.write_cosmx(path)`
# always render them; for a quick look, or here to keep the tutorial fast, the functions of
# `STpuppeteer.io` can leave them out (CosMx's CellLabels are still written).
merscope_dir = write_merscope(result, workdir / "merscope", mosaic_images=False)
merscope = spatialdata_io.merscope(merscope_dir)
m_table = merscope["table"]
m_points = merscope.points[next(iter(merscope.points))]
assert len(m_points) == len(trs_df) and m_table.n_obs == len(cell_gdf)
assert dense(m_table.X).sum() == observed.sum(), "cell_by_gene = gene molecules per landed cell"
print(f"MERSCOPE: {len(m_points):,} molecules, {m_table.n_obs} cells, {int(dense(m_table.X).sum()):,} counts")

cosmx_dir = write_cosmx(result, workdir / "cosmx", composite_images=False)
cosmx = spatialdata_io.cosmx(cosmx_dir)
c_table = cosmx["table"]
c_points = cosmx.points[next(iter(cosmx.points))]
genes = [g for g in c_table.var_names if g in set(result.gpar_df["feature_name"])]
assert len(genes) == config.n_genes and len(c_points) == len(trs_df)
assert dense(c_table[:, genes].X).sum() == observed.sum()
print(f"CosMx: {len(c_points):,} molecules, {c_table.n_obs} cells, "
      f"{c_table.n_vars - len(genes)} control columns beside the {len(genes)} genes")

# %% [markdown]
# ## 5.4 SpatialData and AnnData
#
# `to_spatialdata()` builds a `SpatialData` object in memory (transcripts as points, cell and
# nucleus shapes, label images, the morphology image and the table); `write_spatialdata`
# saves it as `.zarr`. `to_anndata()` / `write_h5ad` give the table alone: what an instrument
# would see in `X` (detected gene molecules per cell they landed in), the **true** counts in
# `layers["true"]`, the cells in `obs` (positions in `obsm["spatial"]`; the true `celltype`;
# `xenium_cell_id` and `merscope_cell_id` to join the instruments' tables), the gene parameters in `var` and the config in
# `uns["stpuppeteer"]`.
zarr_path = result.write_spatialdata(workdir / "simulation.zarr")
sdz = spatialdata.read_zarr(zarr_path)
assert (dense(sdz["table"].X) == observed).all()
assert (dense(sdz["table"].layers["true"]) == result.count_array).all()
assert len(sdz["transcripts"]) == len(trs_df)

h5ad_path = result.write_h5ad(workdir / "simulation.h5ad")
back = anndata.read_h5ad(h5ad_path)
assert (dense(back.X) == observed).all()
assert (dense(back.layers["true"]) == result.count_array).all()
assert np.allclose(back.obsm["spatial"], cell_gdf[["x", "y"]].to_numpy())
print(back)

# %% [markdown]
# ## 5.5 The ground truth and the manifest
#
# `ground_truth/` sits in every platform folder: `molecules.parquet` (every molecule with
# its true source cell, origin, landed cell, compartment), `cells.parquet` (true cell and
# nucleus polygons, GeoParquet), `genes.parquet` (μ, θ per gene and type), `true_counts.parquet`
# and a README. `read_ground_truth(folder)` reads it all back; the instrument files and the
# truth share `transcript_id`, which is how a method's output is scored (tutorial 06).
#
# `manifest.json` records the format, package version, seed, the full config and a SHA-256
# per file: the config alone reproduces the folder, and the checksums prove it untouched.
gt = read_ground_truth(xenium_dir)
assert (gt["count_array"] == result.count_array).all()
assert (gt["trs_df"]["cell_id"].to_numpy() == trs_df["cell_id"].to_numpy()).all()
assert (gt["trs_df"]["origin"].astype(str).to_numpy() == trs_df["origin"].astype(str).to_numpy()).all()
assert len(gt["cell_gdf"]) == len(cell_gdf)
print("ground_truth:", sorted(p.name for p in (xenium_dir / "ground_truth").iterdir()))

manifest = json.loads((xenium_dir / "manifest.json").read_text())
print({k: v for k, v in manifest.items() if k not in ("config", "files")})
assert SimulationConfig.model_validate(manifest["config"]) == config, "the manifest holds the exact config"
for rel, info in manifest["files"].items():
    digest = hashlib.sha256((xenium_dir / rel).read_bytes()).hexdigest()
    assert digest == info["sha256"], rel
print(f"{len(manifest['files'])} checksums verified")

# %% [markdown]
# ## 5.6 Safe writing: existing outputs are never replaced by accident
#
# Writers build the output in a temporary sibling and rename it at the end, so an error or an
# interrupt mid-write leaves nothing half-written. An existing path is refused unless
# `overwrite=True`.
try:
    result.write_h5ad(h5ad_path)
except FileExistsError as err:
    print("refused:", err)
else:
    raise AssertionError("an existing file must not be overwritten silently")
result.write_h5ad(h5ad_path, overwrite=True)
assert not [p for p in workdir.iterdir() if p.name.startswith(".")], "no temporary leftovers"

# %% [markdown]
# ## 5.7 The command line
#
# Everything above is also one command: `stpuppeteer simulate` (or `python -m STpuppeteer`)
# with a `--preset` or a `--config FILE.yaml` (get a fully commented one with
# `stpuppeteer config --preset xenium`), `--format xenium,merscope,cosmx,spatialdata,h5ad`,
# `--seed`, `--n-cells` and `--out DIR`. It prints a summary table; bad arguments and existing
# folders give one clear line and a non-zero exit code, never a traceback.
cli = [sys.executable, "-m", "STpuppeteer"]
out_dir = workdir / "cli_run"
args = ["simulate", "--preset", "xenium", "--n-cells", "150", "--seed", "5", "--format", "h5ad", "--out", str(out_dir)]
run = subprocess.run(cli + args, capture_output=True, text=True, check=False)
print(run.stdout)
assert run.returncode == 0, run.stderr
cli_adata = anndata.read_h5ad(next(out_dir.glob("*.h5ad")))
assert (dense(cli_adata.layers["true"]) == result.count_array).all(), "the CLI with the same preset and seed gives the same counts"

again = subprocess.run(cli + args, capture_output=True, text=True, check=False)
print("second run:", again.stderr.strip())
assert again.returncode != 0 and "overwrite" in again.stderr and "Traceback" not in again.stderr

bad = subprocess.run(cli + ["simulate", "--preset", "visium", "--out", str(workdir / "x")],
                     capture_output=True, text=True, check=False)
print("bad preset:", bad.stderr.strip())
assert bad.returncode != 0 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1

# `stpuppeteer config --preset xenium` prints this: every field with its description.
commented = commented_yaml(SimulationConfig.from_preset("xenium"))
print("\n".join(commented.splitlines()[:6]))
assert "expression_scale" in commented

shutil.rmtree(workdir)
print("TUTORIAL 05 OK")
