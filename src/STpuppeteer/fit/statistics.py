"""The statistics of one dataset that a realism report compares (simulated or real, the same shape).

:func:`realism_statistics` reduces a :class:`~STpuppeteer.fit.reference.Reference` to a
:class:`RealismStatistics`: per-gene mean, variance and zero fraction, per-cell totals, genes
detected and areas, and, from the molecule table, the per-gene nuclear fraction, a qv histogram
(bins of :data:`QV_BIN_WIDTH`, so memory stays bounded for 10⁸ molecules) and the control rate.
A statistic the reference cannot give is ``None`` and named in ``missing``.
:mod:`STpuppeteer.fit.compare` turns two of them into distances and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from STpuppeteer.fit.reference import Reference

__all__ = ["MIN_IN_CELL_MOLECULES", "QV_BIN_WIDTH", "RealismStatistics", "realism_statistics"]

#: Genes with fewer in-cell molecules have no nuclear fraction (its s.e. would exceed ~0.1).
MIN_IN_CELL_MOLECULES = 20
#: Width of the qv histogram's bins, in qv units.
QV_BIN_WIDTH = 0.25


@dataclass(frozen=True)
class RealismStatistics:
    """What a dataset shows of itself, reduced for a realism report.

    Per-cell arrays follow the reference's cells (cells without a value left out); per-gene
    series are indexed by gene name. A field is ``None`` when the reference does not carry
    what it needs, and :attr:`missing` then says why, under the field's name.

    Attributes
    ----------
    source
        The reference's :attr:`~STpuppeteer.fit.reference.Reference.source`.
    n_cells, n_genes
        Size of the count matrix.
    gene_mean, gene_variance, gene_zero_fraction
        Per gene over cells: mean count, sample variance (ddof 1), fraction of cells with count 0.
    totals_per_cell, genes_per_cell
        Counts per cell, genes with count > 0 per cell.
    cell_area, nucleus_area
        µm², finite and positive values only.
    molecules_per_um2
        Counts per µm² of cell (total / cell area), for cells with an area.
    nuclear_fraction
        Per gene, the fraction of its in-cell molecules over the nucleus (genes with at least
        :data:`MIN_IN_CELL_MOLECULES` in-cell molecules with a known ``overlaps_nucleus``).
    qv_histogram
        Gene molecules (controls excluded) per qv bin, indexed by the bin's left edge
        (bins :data:`QV_BIN_WIDTH` wide), sorted.
    n_control_molecules
        Control molecules in the molecule table.
    control_per_um2, control_per_cell
        Control molecules per µm² of region (needs ``region_area_um2``) and per cell.
    missing
        Field name → why it is ``None``.
    """

    source: str
    n_cells: int
    n_genes: int
    gene_mean: pd.Series
    gene_variance: pd.Series
    gene_zero_fraction: pd.Series
    totals_per_cell: np.ndarray
    genes_per_cell: np.ndarray
    cell_area: np.ndarray | None = None
    nucleus_area: np.ndarray | None = None
    molecules_per_um2: np.ndarray | None = None
    nuclear_fraction: pd.Series | None = None
    qv_histogram: pd.Series | None = None
    n_control_molecules: int | None = None
    control_per_um2: float | None = None
    control_per_cell: float | None = None
    missing: dict[str, str] = field(default_factory=dict)


def _area(cells: pd.DataFrame, column: str) -> tuple[np.ndarray | None, str | None]:
    if column not in cells.columns:
        return None, f"the cells table has no {column} column"
    values = pd.to_numeric(cells[column], errors="coerce").to_numpy(dtype=float)
    good = np.isfinite(values) & (values > 0)
    if not good.any():
        return None, f"the cells table has no finite, positive {column}"
    return values, None


def _qv_histogram(qv: np.ndarray) -> pd.Series:
    edges = np.floor(qv / QV_BIN_WIDTH).astype(np.int64)
    codes, counts = np.unique(edges, return_counts=True)
    return pd.Series(counts.astype(np.int64), index=pd.Index(codes * QV_BIN_WIDTH, name="qv_left_edge"),
                     name="molecules")


def _molecule_statistics(ref: Reference, n_cells: int) -> tuple[dict[str, Any], dict[str, str]]:
    found: dict[str, Any] = {}
    missing: dict[str, str] = {}
    mol = ref.molecules
    if mol is None:
        for name in ("nuclear_fraction", "qv_histogram", "n_control_molecules", "control_per_um2",
                     "control_per_cell"):
            missing[name] = "no molecule table"
        return found, missing
    is_control = mol["is_control"].to_numpy(dtype=bool)
    genes_only = ~is_control

    if "overlaps_nucleus" in mol.columns:
        in_cell = genes_only & mol["cell_id"].notna().to_numpy() & mol["overlaps_nucleus"].notna().to_numpy()
        table = pd.DataFrame({"gene": mol["gene"].to_numpy()[in_cell],
                              "nuclear": mol["overlaps_nucleus"].to_numpy()[in_cell].astype(bool)})
        grouped = table.groupby("gene", observed=True, sort=True)["nuclear"].agg(["size", "mean"])
        kept = grouped[grouped["size"] >= MIN_IN_CELL_MOLECULES]["mean"].astype(float)
        if len(kept):
            kept.index = kept.index.astype(str)
            found["nuclear_fraction"] = kept.rename("nuclear_fraction")
        else:
            missing["nuclear_fraction"] = (f"no gene has {MIN_IN_CELL_MOLECULES} in-cell molecules with a "
                                           "known overlaps_nucleus")
    else:
        missing["nuclear_fraction"] = "the molecule table has no overlaps_nucleus column"

    if "qv" in mol.columns:
        qv = pd.to_numeric(mol["qv"], errors="coerce").to_numpy(dtype=float)[genes_only]
        qv = qv[np.isfinite(qv)]
        if len(qv):
            found["qv_histogram"] = _qv_histogram(qv)
        else:
            missing["qv_histogram"] = "no gene molecule has a finite qv"
    else:
        missing["qv_histogram"] = "the molecule table has no qv column"

    n_control = int(is_control.sum())
    if n_control:
        found["n_control_molecules"] = n_control
        found["control_per_cell"] = n_control / n_cells
        if ref.region_area_um2 is not None and ref.region_area_um2 > 0:
            found["control_per_um2"] = n_control / float(ref.region_area_um2)
        else:
            missing["control_per_um2"] = "no region area (region_area_um2)"
    else:
        why = "no control molecule in the molecule table (the panel has none, or the reader dropped them)"
        for name in ("n_control_molecules", "control_per_um2", "control_per_cell"):
            missing[name] = why
    return found, missing


def realism_statistics(ref: Reference) -> RealismStatistics:
    """The statistics a realism report compares, from a reference (simulated or real).

    Parameters
    ----------
    ref
        The dataset.

    Returns
    -------
    The statistics; those the reference cannot give are ``None`` and named in ``missing``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scipy import sparse
    >>> from STpuppeteer.fit.reference import Reference
    >>> counts = sparse.csr_matrix(np.array([[0, 2], [1, 3], [0, 1]], dtype=np.int64))
    >>> ref = Reference(counts, ["a", "b"], pd.DataFrame(index=["c0", "c1", "c2"]))
    >>> st = realism_statistics(ref)
    >>> st.gene_mean.round(3).tolist(), st.totals_per_cell.tolist(), st.missing["cell_area"]
    ([0.333, 2.0], [2, 4, 1], 'the cells table has no cell_area column')
    """
    counts = ref.counts.tocsr()
    n_cells, n_genes = counts.shape
    genes = pd.Index([str(g) for g in ref.genes], name="gene")
    sums = np.asarray(counts.sum(axis=0), dtype=float).ravel()
    squares = np.asarray(counts.multiply(counts).sum(axis=0), dtype=float).ravel()
    detected = counts > 0
    mean = sums / n_cells
    # Sample variance (ddof 1) from the two sums; a single cell has variance 0.
    variance = np.maximum(squares - n_cells * mean**2, 0.0) / max(n_cells - 1, 1)
    zero_fraction = 1.0 - np.asarray(detected.sum(axis=0), dtype=float).ravel() / n_cells
    totals = np.asarray(counts.sum(axis=1)).ravel()
    genes_per_cell = np.asarray(detected.sum(axis=1)).ravel()

    missing: dict[str, str] = {}
    cell_area, why = _area(ref.cells, "cell_area")
    if why:
        missing["cell_area"] = missing["molecules_per_um2"] = why
    nucleus_area, why = _area(ref.cells, "nucleus_area")
    if why:
        missing["nucleus_area"] = why
    per_um2 = None
    if cell_area is not None:
        good = np.isfinite(cell_area) & (cell_area > 0)
        per_um2 = totals[good] / cell_area[good]
        cell_area = cell_area[good]
    if nucleus_area is not None:
        nucleus_area = nucleus_area[np.isfinite(nucleus_area) & (nucleus_area > 0)]
    found, missing_molecules = _molecule_statistics(ref, n_cells)
    missing.update(missing_molecules)
    return RealismStatistics(
        source=ref.source, n_cells=n_cells, n_genes=n_genes,
        gene_mean=pd.Series(mean, index=genes, name="mean"),
        gene_variance=pd.Series(variance, index=genes, name="variance"),
        gene_zero_fraction=pd.Series(zero_fraction, index=genes, name="zero_fraction"),
        totals_per_cell=totals, genes_per_cell=genes_per_cell, cell_area=cell_area,
        nucleus_area=nucleus_area, molecules_per_um2=per_um2, missing=dict(sorted(missing.items())),
        **found,
    )
