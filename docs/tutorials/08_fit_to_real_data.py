"""Step 8 — Simulate like my data: fit a config to a real dataset, and see how close it comes.

Tutorials 1–7 draw every parameter from priors. Here the parameters come from data:

    real data ──read_reference──> Reference ──fit_reference──> SimulationConfig (+ what was not estimated)
                                                                   │ simulate
    realism report <──compare_references── Reference <──read── simulated bundle

The data: a real MERFISH sample (molecules, cell and nucleus polygons of 15 U-2 OS cells),
excerpted from the bento-tools package (BSD-2-Clause; tests/data/real/README.md says how),
and scanpy's pbmc68k_reduced (integer counts of 700 blood cells of 10 types, BSD-3-Clause).
The same steps on the command line:

    stpuppeteer fit molecules.parquet --cells cells.parquet --out fitted.yaml
    stpuppeteer simulate --config fitted.yaml --out sim --format xenium
    stpuppeteer compare sim molecules.parquet --cells cells.parquet --out report/

How every parameter is estimated, and what is not: docs/fitting.md.

Run it against the installed package:  python 08_fit_to_real_data.py
Figures go to $TUTORIAL_OUT (default: ./tutorial_out). It ends with "TUTORIAL 08 OK".
"""
from _figures import save_figures_instead_of_showing  # beside this file: plt.show() saves to $TUTORIAL_OUT

import matplotlib.pyplot as plt

out_dir = save_figures_instead_of_showing("08")

# %% [markdown]
# ## Imports
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

warnings.simplefilter(action="ignore", category=FutureWarning)
import pandas as pd  # noqa: E402

from STpuppeteer.config import SimulationConfig  # noqa: E402
from STpuppeteer.fit import compare_references, fit_reference, is_better, read_reference  # noqa: E402
from STpuppeteer.fit.compare import realism_statistics  # noqa: E402
from STpuppeteer.pipeline.simulator import simulate  # noqa: E402
from STpuppeteer.plotting.realism import plot_realism  # noqa: E402

pd.set_option("display.width", 140)
REAL = Path(__file__).resolve().parents[2] / "tests" / "data" / "real"
OUT = Path(out_dir)

# %% [markdown]
# ## 1. Read the real data
# `read_reference` takes an AnnData, a molecule table (with its cells), a SpatialData object,
# or a Xenium / MERSCOPE / CosMx folder; everything after it sees one shape, a `Reference`.
merfish = read_reference(REAL / "merfish_sample" / "molecules.parquet",
                         cells=REAL / "merfish_sample" / "cells.parquet")
print(f"{merfish.source}: {merfish.n_cells} cells × {len(merfish.genes)} genes, "
      f"{len(merfish.molecules):,} molecules")
for note in merfish.notes:
    print("  note:", note)

# %% [markdown]
# ## 2. Fit
# The default expression model is an explicit gene table: the real gene names with a
# negative-binomial mean and dispersion per cell type (here one type: the sample has none).
# Cells (density, nucleus and cell sizes), molecules (per-gene nuclear fractions, controls,
# ambient) are estimated where the data carries them; the rest keeps the preset's values, and
# the fit says which and why.
fit = fit_reference(merfish)
print(fit.header().split("\nmeasured:")[0])
config = fit.config
assert config.expression_model == "table" and config.n_cells == merfish.n_cells
print(fit.counts.to_frame().sort_values("mu", ascending=False).head(5).to_string(index=False))

# %% [markdown]
# ## 3. Simulate the fitted config and read it back like data
result = simulate(config)
result.write_xenium(OUT / "fitted_xenium", overwrite=True)
simulated = read_reference(OUT / "fitted_xenium")

# %% [markdown]
# ## 4. How close? Against the default Xenium preset as a yardstick
distances = compare_references(simulated, merfish)
preset = simulate(SimulationConfig.from_preset("xenium", n_cells=merfish.n_cells))
preset.write_xenium(OUT / "preset_xenium", overwrite=True)
preset_distances = compare_references(read_reference(OUT / "preset_xenium"), merfish)
table = pd.DataFrame({"statistic": distances["statistic"], "distance": distances["kind"],
                      "fit": distances["value"].round(3), "xenium preset": preset_distances["value"].round(3),
                      "fit closer": is_better(distances, preset_distances).to_numpy()})
print(table.to_string(index=False))
compared = table.dropna(subset=["fit", "xenium preset"])
assert compared["fit closer"].all(), compared

fig = plot_realism(realism_statistics(simulated), realism_statistics(merfish))
plt.show()

# %% [markdown]
# ## 5. A count matrix alone, and the program model
# pbmc68k_reduced has counts and cell types but no space: the counts are fitted, the tissue
# keeps the preset's. `model="programs"` expresses the fitted type means as gene programs
# (a non-negative factorisation), with the real gene and type names. It is coarser than the gene
# table: one overdispersion law φ0·m^-α for every gene instead of a θ per gene and type, so the
# genes detected per cell and the variance-to-mean ratios sit farther from the data (compare
# with `model="table"`, the default).
pbmc = fit_reference(REAL / "pbmc68k_reduced" / "counts.h5ad", celltype_key="bulk_labels", model="programs")
print(f"{len(pbmc.config.programs)} programs for {len(pbmc.config.celltype_names)} types; e.g.")
for program in pbmc.config.programs[:3]:
    print(f"  {program.name}: {program.description}")
for name, spec in list(pbmc.config.cell_type_specs.items())[:3]:
    print(f"  {name}: {', '.join(f'{p} {a:.2f}' for p, a in spec.program_activations.items())}")
pbmc_sim = simulate(pbmc.config)
pbmc_sim.write_h5ad(OUT / "pbmc_fit.h5ad")
pbmc_distances = compare_references(read_reference(OUT / "pbmc_fit.h5ad", celltype_key="celltype"), pbmc.reference)
print(pbmc_distances.dropna(subset=["value"])[["statistic", "kind", "value"]].round(3).to_string(index=False))
fig = plot_realism(realism_statistics(read_reference(OUT / "pbmc_fit.h5ad")), realism_statistics(pbmc.reference))
plt.show()

print("TUTORIAL 08 OK")
