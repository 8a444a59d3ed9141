"""Proseg (Jones et al., 2025): a transcript table with the nucleus prior as cell id and compartment.

Format, from Proseg's README and argument parser (``src/main.rs``, ``src/schemas.rs``):
``proseg`` reads a CSV(.gz)/Parquet table whose columns are named by ``--gene-column``,
``--transcript-id-column``, ``-x -y -z``, ``--cell-id-column`` (the prior cell,
``--cell-id-unassigned`` for none) and ``--compartment-column`` (``--compartment-nuclear``
marks a molecule in the nucleus: the molecules Proseg starts its cells from). Its
``--output-transcript-metadata`` table has ``transcript_id`` and ``assignment`` (Proseg's
cell index, empty for none; older versions wrote 4294967295) and ``background``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from STpuppeteer.io.export._molecules import ExportMolecules

__all__ = ["MOLECULES", "OUTPUT", "read_proseg", "write_proseg"]

MOLECULES = "transcripts.csv.gz"
OUTPUT_DIR = "proseg"
OUTPUT = "transcript-metadata.csv.gz"
PRIOR = "nucleus_id"
COMPARTMENT = "overlaps_nucleus"
# Proseg's own "no cell" in u32 (BACKGROUND_CELL): what versions before 2 wrote for unassigned.
_U32_NONE = 4294967295


def write_proseg(molecules: ExportMolecules, folder: Path) -> str:
    """Write ``transcripts.csv.gz`` for ``proseg``; return the command line.

    Columns: ``transcript_id``, ``x``, ``y``, ``z`` (µm), ``feature_name``, ``nucleus_id``
    (the containing nucleus's ``cell_id``, -1 for none) and ``overlaps_nucleus`` (1/0).

    Parameters
    ----------
    molecules
        From :func:`~STpuppeteer.io.export._molecules.export_molecules`.
    folder
        The export folder.

    Returns
    -------
    The ``proseg`` command line (absolute paths; outputs in ``DIR/proseg/``).
    """
    trs = molecules.trs_df
    table = trs[["transcript_id", "x", "y", "z", "feature_name", PRIOR]].copy()
    table[COMPARTMENT] = (trs[PRIOR].to_numpy() >= 0).astype(np.int8)
    # gzip through pandas: Proseg reads .csv.gz by name
    table.to_csv(folder / MOLECULES, index=False, float_format="%.4f", compression="gzip")
    (folder / OUTPUT_DIR).mkdir()
    folder = folder.resolve()
    return (
        "proseg --gene-column feature_name --transcript-id-column transcript_id -x x -y y -z z "
        f"--cell-id-column {PRIOR} --cell-id-unassigned -1 --compartment-column {COMPARTMENT} "
        f"--compartment-nuclear 1 --voxel-layers 1 --output-path {folder / OUTPUT_DIR} "
        f"--output-transcript-metadata {OUTPUT} {folder / MOLECULES}"
    )


def read_proseg(path: str | Path) -> pd.DataFrame:
    """Proseg's transcript metadata as a molecule → cell table.

    Parameters
    ----------
    path
        ``transcript-metadata.csv.gz`` / ``.parquet`` (or the folder holding the first).

    Returns
    -------
    ``transcript_id`` and ``cell_id`` (Proseg's ``assignment``, -1 for none). As Proseg's own
    conversion to Baysor's format does, a molecule keeps its assignment when Proseg also calls
    it ``background``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / OUTPUT
    table = pd.read_parquet(path) if path.name.endswith((".parquet", ".pq")) else pd.read_csv(path)
    missing = [c for c in ("transcript_id", "assignment") if c not in table]
    if missing:
        msg = f"path={str(path)!r} lacks {missing}; pass Proseg's --output-transcript-metadata table."
        raise ValueError(msg)
    # as float: Parquet gives a nullable UInt32 that cannot hold -1
    assignment = pd.to_numeric(table["assignment"], errors="coerce").astype("float64").to_numpy()
    none = np.isnan(assignment) | (assignment == _U32_NONE)
    cell_id = np.where(none, -1, np.nan_to_num(assignment, nan=-1)).astype(np.int64)
    return pd.DataFrame({"transcript_id": table["transcript_id"].to_numpy(np.int64), "cell_id": cell_id})
