"""A simulation seen as a reader of its Xenium bundle would see it: a Reference without the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from STpuppeteer.fit.reference import Reference, is_control_name
from STpuppeteer.result import SimulationResult


def cells_of(cell_gdf: pd.DataFrame, *, with_types: bool = True) -> pd.DataFrame:
    """The cells as a reader sees them: centroid, areas and (optionally) type, indexed by id."""
    cells = pd.DataFrame(
        {"x": cell_gdf["x"].to_numpy(float), "y": cell_gdf["y"].to_numpy(float),
         "cell_area": cell_gdf["cell_area"].to_numpy(float), "nucleus_area": cell_gdf["nucleus_area"].to_numpy(float)},
        index=pd.Index(cell_gdf["cell_id"].astype(str).to_numpy(), name="cell_id"),
    )
    if with_types:
        cells.insert(0, "celltype", pd.Categorical(cell_gdf["celltype"].astype(str)))
    return cells


def cells_reference(cell_gdf: pd.DataFrame, *, with_types: bool = True,
                    region_area_um2: float | None = None) -> Reference:
    """A Reference of the tissue stage alone: cells and polygons, no molecules (one gene, no counts)."""
    cells = cells_of(cell_gdf, with_types=with_types)
    return Reference(counts=sparse.csr_matrix((len(cells), 1), dtype=np.int64), genes=["none"], cells=cells,
                     cell_polygons=np.asarray(cell_gdf.geometry.values, dtype=object),
                     nucleus_polygons=np.asarray(cell_gdf["nucleus"].values, dtype=object),
                     region_area_um2=region_area_um2, source="simulated tissue")


def reference_of(result: SimulationResult, *, region_area_um2: float | None = None,
                 with_types: bool = True) -> Reference:
    """The observed dataset of ``result``.

    Molecules keep their recorded position, reported gene, ``qv`` and ``overlaps_nucleus``; their
    cell is the one they landed in (``landed_cell_id``, ``<NA>`` outside every cell), as a
    segmentation assigns them; controls are told by their names. Counts are the gene molecules
    per landed cell. The true source, origin and gene are dropped.
    """
    cells_gdf = result.cell_gdf
    cells = cells_of(cells_gdf, with_types=with_types)
    trs = result.trs_df
    gene = trs["feature_name"].astype(str).to_numpy()
    landed = trs["landed_cell_id"].to_numpy()
    molecules = pd.DataFrame({
        "x": trs["x"].to_numpy(float), "y": trs["y"].to_numpy(float),
        "gene": gene,
        "cell_id": pd.array(np.where(landed >= 0, landed.astype(str), None), dtype="string"),
        "is_control": is_control_name(gene),
        "z": trs["z"].to_numpy(float), "qv": trs["qv"].to_numpy(float),
        "overlaps_nucleus": trs["overlaps_nucleus"].to_numpy(bool),
    })
    genes = [str(g) for g in result.gpar_df["feature_name"]]
    column = pd.Index(genes).get_indexer(gene)
    counted = (landed >= 0) & (column >= 0) & ~molecules["is_control"].to_numpy()
    counts = sparse.csr_matrix(
        (np.ones(int(counted.sum()), dtype=np.int64), (landed[counted], column[counted])),
        shape=(len(cells), len(genes)),
    )
    counts.sum_duplicates()
    return Reference(counts=counts, genes=genes, cells=cells, molecules=molecules,
                     cell_polygons=np.asarray(cells_gdf.geometry.values, dtype=object),
                     nucleus_polygons=np.asarray(cells_gdf["nucleus"].values, dtype=object),
                     region_area_um2=region_area_um2, source="simulation")


def type_codes(reference: Reference) -> tuple[np.ndarray, list[str]]:
    """Each cell's type code and the type names (one type ``"all"`` without types)."""
    types = reference.celltypes
    if types is None:
        return np.zeros(reference.n_cells, dtype=np.intp), ["all"]
    cat = pd.Categorical(types)
    return cat.codes.astype(np.intp), [str(c) for c in cat.categories]
