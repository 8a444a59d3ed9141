"""A :class:`~STpuppeteer.fit.reference.Reference` from an :class:`anndata.AnnData` of raw counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from STpuppeteer.fit import read_names as rn
from STpuppeteer.fit.read_cells import celltype_column
from STpuppeteer.fit.reference import Reference, is_control_name

if TYPE_CHECKING:
    import anndata as ad

__all__ = ["anndata_parts", "integer_counts", "reference_from_anndata"]

# 10x's var column naming a feature's kind; anything but gene expression is not a gene.
_FEATURE_TYPES = "feature_types"
_GENE_EXPRESSION = "Gene Expression"


def integer_counts(matrix: object, *, what: str, cells: pd.Index, genes: pd.Index) -> sparse.csr_matrix:
    """The matrix as CSR ``int64``, refused unless every value is a finite non-negative integer.

    Parameters
    ----------
    matrix
        Dense or sparse, cells × genes.
    what
        Where it came from (e.g. ``"layer 'counts'"``), for the message.
    cells, genes
        Row and column names, for the message.
    """
    if sparse.issparse(matrix):
        csr = sparse.csr_matrix(matrix)
        values = csr.data
    else:
        dense = np.asarray(matrix)
        if dense.ndim != 2:
            msg = f"{what} has {dense.ndim} dimension(s); the counts must be a cells × genes matrix."
            raise ValueError(msg)
        csr, values = None, dense.ravel()
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        msg = f"{what} holds {values.dtype} values; the counts must be numbers (raw counts)."
        raise ValueError(msg)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    else:
        bad = values < 0
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        if csr is not None:
            row, col = int(np.searchsorted(csr.indptr, k, side="right") - 1), int(csr.indices[k])
        else:
            row, col = divmod(k, dense.shape[1])
        msg = (f"{what} holds {values[k].item()!r} at row {row} (cell {cells[row]!r}), column {col} "
               f"(gene {genes[col]!r}) ({int(bad.sum())} such value(s)); the counts must be non-negative integers: "
               "give raw counts (a layer or .raw holding them), not normalised, log-transformed or scaled values.")
        raise ValueError(msg)
    out = (csr if csr is not None else sparse.csr_matrix(dense)).astype(np.int64)
    out.eliminate_zeros()
    out.sum_duplicates()
    return out


def _cell_columns(adata: ad.AnnData, *, spatial_key: str) -> tuple[pd.DataFrame, list[str]]:
    """Centroids (``obsm[spatial_key]``, else centroid columns of ``obs``) and areas (µm², from ``obs``)."""
    obs = adata.obs
    cells = pd.DataFrame(index=pd.Index(adata.obs_names.astype(str), name="cell_id"))
    notes = []
    if spatial_key in adata.obsm:
        xy = np.asarray(adata.obsm[spatial_key], dtype=float)
        cells["x"], cells["y"] = xy[:, 0], xy[:, 1]
    elif (x := rn.pick_column(obs.columns, rn.CELL_X_COLUMNS)) and (y := rn.pick_column(obs.columns,
                                                                                        rn.CELL_Y_COLUMNS)):
        cells["x"], cells["y"] = obs[x].to_numpy(float), obs[y].to_numpy(float)
    else:
        notes.append(f"cells have no position (no obsm[{spatial_key!r}], no centroid columns in obs).")
    for column, candidates in (("cell_area", rn.CELL_AREA_COLUMNS), ("nucleus_area", rn.NUCLEUS_AREA_COLUMNS)):
        if (name := rn.pick_column(obs.columns, candidates)) is not None:
            cells[column] = pd.to_numeric(obs[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return cells, notes


def reference_from_anndata(
    adata: ad.AnnData,
    *,
    celltype_key: str | None = None,
    layer: str | None = None,
    spatial_key: str = "spatial",
) -> Reference:
    """Build a :class:`~STpuppeteer.fit.reference.Reference` from an AnnData of raw counts.

    Parameters
    ----------
    adata
        Cells × features. Control features (names matched by
        :func:`~STpuppeteer.fit.reference.is_control_name`, or a 10x ``var['feature_types']``
        other than ``'Gene Expression'``) are dropped, and the notes say so.
    celltype_key
        Column of ``obs`` holding each cell's type, or ``None`` for no types.
    layer
        Layer holding the raw counts; ``None`` reads ``X``. Every value must be a
        non-negative integer (``2.0`` is one, ``2.5`` and ``-1`` are refused), dense or sparse.
    spatial_key
        Key of ``obsm`` holding the centroids (µm); when absent, ``obs`` columns ``x``/``y``,
        ``x_centroid``/``y_centroid`` (Xenium) or ``center_x``/``center_y`` (MERSCOPE).

    Returns
    -------
    The reference, without molecules or polygons; ``cells`` carries ``celltype``, ``x``,
    ``y``, and ``cell_area``/``nucleus_area`` from ``obs`` columns of those names (Xenium's,
    ``area`` for the cell) where present.

    Examples
    --------
    >>> import anndata as ad, numpy as np, pandas as pd
    >>> adata = ad.AnnData(np.array([[1, 0], [2, 3]]), obs=pd.DataFrame({"type": ["a", "b"]}, index=["c0", "c1"]))
    >>> reference_from_anndata(adata, celltype_key="type").counts.sum()
    np.int64(6)
    """
    counts, genes, cells, notes = anndata_parts(adata, celltype_key=celltype_key, layer=layer,
                                                spatial_key=spatial_key)
    return Reference(counts=counts, genes=genes, cells=cells, source=f"AnnData {adata.n_obs} × {adata.n_vars}",
                     notes=notes + rn.unit_notes(cells, what="the cells"))


def anndata_parts(
    adata: ad.AnnData, *, celltype_key: str | None, layer: str | None, spatial_key: str
) -> tuple[sparse.csr_matrix, list[str], pd.DataFrame, list[str]]:
    """Counts (controls dropped), genes, cells and notes of :func:`reference_from_anndata`, in the AnnData's units."""
    if layer is None:
        matrix, what = adata.X, "adata.X"
    elif layer in adata.layers:
        matrix, what = adata.layers[layer], f"adata.layers[{layer!r}]"
    else:
        msg = f"layer={layer!r} is not a layer of the AnnData; allowed are None (X) or one of {list(adata.layers)}."
        raise ValueError(msg)
    if matrix is None:
        msg = f"layer={layer!r}: the AnnData has no X; pass the layer holding the raw counts."
        raise ValueError(msg)
    if celltype_key is not None and celltype_key not in adata.obs.columns:
        msg = (f"celltype_key={celltype_key!r} is not a column of adata.obs; allowed are None or one of "
               f"{[str(c) for c in adata.obs.columns]}.")
        raise ValueError(msg)
    if adata.n_obs == 0 or adata.n_vars == 0:
        msg = f"adata is empty ({adata.n_obs} cells × {adata.n_vars} features); nothing to fit."
        raise ValueError(msg)
    names = pd.Index(adata.var_names.astype(str))
    if names.duplicated().any():
        msg = (f"adata.var_names holds {names[names.duplicated()][0]!r} more than once; gene names must be unique "
               "(adata.var_names_make_unique()).")
        raise ValueError(msg)
    counts = integer_counts(matrix, what=what, cells=pd.Index(adata.obs_names), genes=names)
    control = is_control_name(names)
    if _FEATURE_TYPES in adata.var.columns:
        control |= (adata.var[_FEATURE_TYPES].astype(str) != _GENE_EXPRESSION).to_numpy()
    notes = []
    if control.any():
        shown = ", ".join(map(repr, names[control][:5])) + (", …" if control.sum() > 5 else "")
        notes.append(f"dropped {int(control.sum())} control feature(s) from the counts ({shown}).")
    cells, cell_notes = _cell_columns(adata, spatial_key=spatial_key)
    if celltype_key is not None:
        cells["celltype"] = celltype_column(adata.obs[celltype_key])
    return counts[:, np.flatnonzero(~control)].tocsr(), list(names[~control]), cells, notes + cell_notes
