"""A simulation's counts as :class:`anndata.AnnData`, and as an ``.h5ad`` file.

``X`` holds what an instrument measures, so scanpy analyses what a real run would give:
detected gene molecules (origins ``cell``, ``leaked`` and ``ambient``; controls excluded)
counted per cell they landed in (a perfect segmentation). The layer ``true`` holds the true
counts (``count_array``: every molecule a cell made, detected or not).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from STpuppeteer.io.atomic import atomic_output_file
from STpuppeteer.io.joins import platform_id_columns
from STpuppeteer.io.observed import count_landed

if TYPE_CHECKING:
    from STpuppeteer.result import SimulationResult

__all__ = ["TRUE_LAYER", "observed_gene_counts", "result_to_anndata", "write_h5ad"]

_GENE_ORIGINS = ("cell", "leaked", "ambient")
TRUE_LAYER = "true"  # the layer of the true counts (count_array); X holds the observed counts


def observed_gene_counts(result: SimulationResult) -> sp.csr_matrix:
    """Detected gene molecules per landed cell and gene (controls excluded).

    Parameters
    ----------
    result
        The simulation result.

    Returns
    -------
    Sparse int32 matrix, cells (rows of ``cell_gdf``) × genes (rows of ``gpar_df``).
    """
    trs = result.trs_df
    return count_landed(
        trs,
        np.asarray(result.cell_gdf["cell_id"]),
        np.asarray(result.gpar_df["feature_name"], dtype=object),
        keep=trs["origin"].isin(_GENE_ORIGINS).to_numpy(),
    )


def result_to_anndata(result: SimulationResult) -> ad.AnnData:
    """Convert a result to AnnData.

    Parameters
    ----------
    result
        The simulation result.

    Returns
    -------
    AnnData with ``X`` = observed counts (sparse int32, :func:`observed_gene_counts`), layer
    ``true`` = true counts (``count_array``, int32), ``obs`` = ``cell_gdf`` without its geometry
    columns (index: cell ids as strings; the true ``celltype``) plus each platform's id of the
    cell (``xenium_cell_id``, ``merscope_cell_id``), ``var`` = ``gpar_df`` indexed by
    ``feature_name``, ``uns['stpuppeteer']`` = ``{"config": ..., "seed": ..., "config_json": ...}``
    (the dict without ``None`` entries, which h5ad cannot store; the JSON string is the exact
    config) and ``obsm['spatial']`` = cell centroids (x, y).

    Cell types keep their names in ``obs``. Stores cannot hold every name as a key, so a
    ``var`` column named after a free-text cell type or program (``"Fibroblast / CAF_mu"``) is
    renamed to letters, digits, ``_``, ``-`` and ``.`` (``"Fibroblast___CAF_mu"``; SpatialData's
    rule), the original names listed in ``uns['stpuppeteer']['var_columns']``, and a ``/`` in
    a key of the config dict becomes ``_`` (``config_json`` keeps the exact names).
    """
    import geopandas as gpd
    from shapely import Geometry

    cells = result.cell_gdf
    geo_cols = [c for c in cells.columns
                if isinstance(cells[c].dtype, gpd.array.GeometryDtype)
                or (cells[c].dtype == object and len(cells) and isinstance(cells[c].iloc[0], Geometry))]
    obs = pd.DataFrame(cells.drop(columns=geo_cols))
    obs.index = pd.Index(np.asarray(cells["cell_id"]).astype(str))
    obs = obs.drop(columns=["cell_id"]).assign(cell_id=np.asarray(cells["cell_id"]))
    for col in obs.columns:
        if obs[col].dtype == object:
            obs[col] = obs[col].astype("category")
    for col, ids in platform_id_columns(np.asarray(cells["cell_id"])).items():
        obs[col] = ids  # one per cell: kept as strings, not categories
    var = result.gpar_df.set_index("feature_name", drop=False)
    var.index = var.index.astype(str)
    var.index.name = None
    if "gene_type" in var.columns:
        var["gene_type"] = var["gene_type"].astype("category")
    uns = {"config": _h5ad_safe(result.config.to_dict()), "seed": int(result.config.seed),
           "config_json": result.config.model_dump_json()}
    safe = _safe_columns(list(var.columns))
    if safe != list(var.columns):
        uns["var_columns"] = {"name": safe, "original": [str(c) for c in var.columns]}
        var.columns = safe
    adata = ad.AnnData(
        X=observed_gene_counts(result),
        obs=obs,
        var=var,
        uns={"stpuppeteer": uns},
        layers={TRUE_LAYER: np.asarray(result.count_array).astype(np.int32, copy=False)},
        obsm={"spatial": np.column_stack([np.asarray(cells["x"], float), np.asarray(cells["y"], float)])},
    )
    return adata


def _safe_columns(names: list[str]) -> list[str]:
    """Column names a store accepts: other characters become ``_``, repeats (any case) get ``-2``, ``-3`` …."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        safe = "".join(c if c.isalnum() or c in "_-." else "_" for c in str(name)).lstrip(".") or "column"
        if safe.startswith("__"):
            safe = "x" + safe
        base, i = safe, 1
        while safe.lower() in seen:
            i += 1
            safe = f"{base}-{i}"
        seen.add(safe.lower())
        out.append(safe)
    return out


def _h5ad_safe(value: object) -> object:
    """Drop ``None`` and empty containers (h5ad cannot store them); keep the rest storable.

    A ``/`` in a key becomes ``_`` (a key that then repeats another gets ``-2``, ``-3`` …), and a
    list of mappings (``programs``) a mapping keyed
    ``"0"``, ``"1"`` … (a store holds lists of numbers or strings only).
    """
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for k, v in value.items():
            key, base, i = str(k).replace("/", "_"), str(k).replace("/", "_"), 1
            while key in out:  # "a/b" beside "a_b": both kept, the second as "a_b-2"
                i += 1
                key = f"{base}-{i}"
            out[key] = _h5ad_safe(v)
        return {k: v for k, v in out.items() if v is not None}
    if isinstance(value, list | tuple):
        if len(value) == 0:
            return None
        if any(isinstance(v, dict) for v in value):
            return _h5ad_safe({str(i): v for i, v in enumerate(value)})
        return [_h5ad_safe(v) for v in value]
    return value


def write_h5ad(result: SimulationResult, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write :func:`result_to_anndata` to an ``.h5ad`` file, atomically.

    Parameters
    ----------
    result
        The simulation result.
    path
        Target file.
    overwrite
        Replace an existing file (only once the new one is complete).

    Returns
    -------
    The path written.
    """
    adata = result_to_anndata(result)
    target = Path(path).expanduser().absolute()
    with atomic_output_file(target, overwrite=overwrite) as tmp:
        adata.write_h5ad(tmp)
    return target


#: The name :mod:`STpuppeteer.io` exports it under.
to_anndata = result_to_anndata
