"""A real (or simulated) dataset in the one shape every estimator and the realism report read.

:class:`Reference` holds what a dataset can tell about itself: a count matrix of cells × genes,
the cells (type, position, areas), and, for imaging data, the molecules and the polygons.
Readers (:mod:`STpuppeteer.fit.read`) build it from an AnnData, a molecule table or an
instrument bundle; estimators never look at the input's own format.

Units: coordinates in µm, areas in µm². Cell ids are strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["CONTROL_PREFIXES", "MOLECULE_COLUMNS", "Reference", "is_control_name"]

#: Feature names that are not genes: negative-control probes and codewords, blank barcodes,
#: unassigned codewords (Xenium's, MERSCOPE's ``Blank-``, CosMx's ``NegPrb``/``SystemControl``,
#: MERFISH's ``notarget``/``BLANK``), matched case-insensitively at the start of the name.
CONTROL_PREFIXES = (
    "negcontrolprobe", "negcontrolcodeword", "unassignedcodeword", "deprecatedcodeword", "genomiccontrol",
    "intergenic", "antisense", "blank", "notarget", "negprb", "systemcontrol", "falsecode", "negative",
)

#: Columns of :attr:`Reference.molecules`: required, then optional (absent when the input lacks them).
MOLECULE_COLUMNS = {"required": ("x", "y", "gene", "cell_id", "is_control"),
                    "optional": ("z", "qv", "overlaps_nucleus")}


def is_control_name(names: Sequence[str] | np.ndarray | pd.Index) -> np.ndarray:
    """Whether each feature name is a control (see :data:`CONTROL_PREFIXES`), as a bool array."""
    lowered = pd.Index(names).astype(str).str.lower()
    return np.asarray(lowered.str.startswith(CONTROL_PREFIXES), dtype=bool)


@dataclass(frozen=True)
class Reference:
    """A dataset reduced to what the estimators need.

    Parameters
    ----------
    counts
        Cells × genes, non-negative integers (CSR, ``int64``), controls excluded. Rows follow
        ``cells``, columns follow ``genes``.
    genes
        The panel's gene names, in column order.
    cells
        One row per cell, indexed by cell id (``str``). Optional columns: ``celltype``
        (categorical), ``x``, ``y`` (centroid, µm), ``cell_area``, ``nucleus_area`` (µm²).
    molecules
        One row per detected molecule, or ``None`` for a count matrix alone. Columns
        :data:`MOLECULE_COLUMNS`: ``x``, ``y`` (µm), ``gene`` (str), ``cell_id`` (str; ``<NA>``
        outside every cell), ``is_control`` (bool), and when the input has them ``z`` (µm),
        ``qv``, ``overlaps_nucleus`` (bool).
    cell_polygons, nucleus_polygons
        Shapely polygons aligned with ``cells`` (``None`` where a cell has no nucleus), or ``None``.
    region_area_um2
        Area the molecules and cells were observed on (µm²), or ``None`` when unknown; rates
        per µm² of tissue divide by it.
    source
        What was read, for reports (e.g. ``"xenium bundle /data/run1"``).
    notes
        What the reader had to assume (units, a missing column), repeated in the fit's report.
    """

    counts: sparse.csr_matrix
    genes: list[str]
    cells: pd.DataFrame
    molecules: pd.DataFrame | None = None
    cell_polygons: np.ndarray | None = None
    nucleus_polygons: np.ndarray | None = None
    region_area_um2: float | None = None
    source: str = "reference"
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n_cells, n_genes = self.counts.shape
        if n_cells != len(self.cells) or n_genes != len(self.genes):
            msg = (f"{self.source}: counts are {n_cells} × {n_genes} but there are {len(self.cells)} cells and "
                   f"{len(self.genes)} genes; rows must follow the cells and columns the genes.")
            raise ValueError(msg)
        if n_cells == 0 or n_genes == 0:
            msg = f"{self.source}: the reference is empty ({n_cells} cells × {n_genes} genes); nothing to fit."
            raise ValueError(msg)
        if self.molecules is not None:
            missing = [c for c in MOLECULE_COLUMNS["required"] if c not in self.molecules.columns]
            if missing:
                msg = f"{self.source}: the molecule table lacks columns {missing}."
                raise ValueError(msg)

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return self.counts.shape[0]

    @property
    def celltypes(self) -> pd.Series | None:
        """Each cell's type (categorical), or ``None`` when the input gave none."""
        return self.cells["celltype"] if "celltype" in self.cells.columns else None

    def has(self, column: str) -> bool:
        """Whether the cells or the molecules carry ``column`` with at least one finite / non-null value."""
        for table in (self.cells, self.molecules):
            if table is not None and column in table.columns and table[column].notna().any():
                return True
        return False
