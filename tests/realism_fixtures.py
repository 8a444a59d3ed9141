"""Small synthetic references for the realism report's tests: NB counts, areas, molecules with qv."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from STpuppeteer.fit.reference import Reference


def make_reference(
    rng: np.random.Generator,
    *,
    n_cells: int = 300,
    n_genes: int = 60,
    mu: np.ndarray | None = None,
    mean_scale: float = 1.0,
    theta: float = 2.0,
    area_scale: float = 1.0,
    qv_mean: float = 32.0,
    nuclear_shift: float = 0.0,
    controls: int = 200,
    molecules: bool = True,
    region_area_um2: float | None = 250_000.0,
    source: str = "synthetic",
) -> Reference:
    """A reference with NB(μ_g, θ) counts (μ lognormal unless given), lognormal areas, and one molecule per count."""
    genes = [f"g{k:03d}" for k in range(n_genes)]
    mu = mean_scale * (rng.lognormal(0.0, 1.0, size=n_genes) if mu is None else np.asarray(mu))
    p = theta / (theta + mu)
    count_array = rng.negative_binomial(theta, p, size=(n_cells, n_genes)).astype(np.int64)
    cell_ids = [f"c{k}" for k in range(n_cells)]
    cells = pd.DataFrame(
        {"cell_area": area_scale * rng.lognormal(np.log(100.0), 0.3, size=n_cells),
         "nucleus_area": area_scale * rng.lognormal(np.log(40.0), 0.3, size=n_cells)},
        index=pd.Index(cell_ids, name="cell_id"),
    )
    mol = None
    if molecules:
        rows, cols = np.nonzero(count_array)
        reps = count_array[rows, cols]
        cell_of = np.repeat(rows, reps)
        gene_of = np.repeat(cols, reps)
        n = len(cell_of)
        nuclear_p = np.clip(np.linspace(0.2, 0.7, n_genes) + nuclear_shift, 0, 1)
        gene_mol = pd.DataFrame({
            "x": rng.uniform(0, 500, n), "y": rng.uniform(0, 500, n),
            "gene": np.asarray(genes)[gene_of], "cell_id": np.asarray(cell_ids, dtype=object)[cell_of],
            "is_control": np.zeros(n, dtype=bool),
            "qv": np.clip(rng.normal(qv_mean, 4.0, n), 0, 40), "overlaps_nucleus": rng.random(n) < nuclear_p[gene_of],
        })
        ctrl = pd.DataFrame({
            "x": rng.uniform(0, 500, controls), "y": rng.uniform(0, 500, controls),
            "gene": [f"NegControlProbe_{k % 5}" for k in range(controls)], "cell_id": [None] * controls,
            "is_control": np.ones(controls, dtype=bool), "qv": np.clip(rng.normal(15, 4, controls), 0, 40),
            "overlaps_nucleus": np.zeros(controls, dtype=bool),
        })
        mol = pd.concat([gene_mol, ctrl], ignore_index=True)
        mol["cell_id"] = mol["cell_id"].astype("string")
    return Reference(sparse.csr_matrix(count_array), genes, cells, molecules=mol,
                     region_area_um2=region_area_um2 if molecules else None, source=source)
