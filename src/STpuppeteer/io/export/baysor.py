"""Baysor (Petukhov et al., 2022): a CSV of molecules with the nucleus prior in a column.

Format, from Baysor's documentation (``docs/src/segmentation.md``) and reader
(``src/data_loading/data.jl``, ``src/cli/main.jl``, v0.7): ``baysor run`` reads a CSV with
the columns named by ``-x -y -g`` and keeps every other column in its output; a prior
segmentation given as ``:column`` holds an integer cell per molecule with ``0`` for none (its
``unassigned_prior_label`` default), weighted by ``--prior-segmentation-confidence``. The
output ``segmentation.csv`` has one row per molecule with ``cell`` (``""`` for noise) and
``is_noise``; our ``transcript_id`` rides along.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from STpuppeteer.io.tables import write_csv

if TYPE_CHECKING:
    from STpuppeteer.io.export._molecules import ExportMolecules

__all__ = ["MOLECULES", "OUTPUT", "PRIOR", "read_baysor", "write_baysor"]

MOLECULES = "molecules.csv"
OUTPUT = "segmentation.csv"
GENE = "gene"
PRIOR = "prior_segmentation"
# Baysor's recommendation for a prior that is right where it speaks (a perfect DAPI
# segmentation says nothing about the cytoplasm): "> 0.7" for confident priors; 10x's own
# Xenium config uses 0.5. The nuclei are exact here, so the upper choice.
PRIOR_CONFIDENCE = 0.8


def write_baysor(molecules: ExportMolecules, folder: Path) -> str:
    """Write ``molecules.csv`` for ``baysor run``; return the command line.

    Columns: ``transcript_id``, ``x``, ``y`` (µm), ``gene``, ``prior_segmentation`` (the
    nucleus's ``cell_id + 1``, 0 for none: Baysor reserves 0 for "no cell"). 2D: the
    simulated section is thin, so no ``z`` column (Baysor would segment in 3D with one).

    Parameters
    ----------
    molecules
        From :func:`~STpuppeteer.io.export._molecules.export_molecules`.
    folder
        The export folder.

    Returns
    -------
    The ``baysor run`` command line (absolute paths).
    """
    trs = molecules.trs_df
    table = pd.DataFrame(
        {
            "transcript_id": trs["transcript_id"].to_numpy(),
            "x": trs["x"].to_numpy(),
            "y": trs["y"].to_numpy(),
            GENE: trs["feature_name"].to_numpy(),
            PRIOR: trs["nucleus_id"].to_numpy() + 1,
        }
    )
    write_csv(table, folder / MOLECULES)
    n_nuclei = max(len(molecules.nucleus_df), 1)
    # Baysor's -m drives several of its defaults; a quarter of the mean molecules per cell keeps
    # small cells while dropping fragments.
    min_molecules = max(3, round(0.25 * len(trs) / n_nuclei))
    folder = folder.resolve()
    return (
        f"baysor run -x x -y y -g {GENE} -m {min_molecules} -s {molecules.mean_cell_radius:.1f} "
        f"--prior-segmentation-confidence {PRIOR_CONFIDENCE} -o {folder / OUTPUT} {folder / MOLECULES} :{PRIOR}"
    )


def read_baysor(path: str | Path) -> pd.DataFrame:
    """Baysor's ``segmentation.csv`` as a molecule → cell table.

    Parameters
    ----------
    path
        ``segmentation.csv`` (or its folder).

    Returns
    -------
    ``transcript_id`` and ``cell_id`` (Baysor's cell name, missing for noise).
    """
    path = Path(path)
    if path.is_dir():
        path = path / OUTPUT
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    missing = [c for c in ("transcript_id", "cell") if c not in table]
    if missing:
        msg = f"path={str(path)!r} lacks {missing}; a Baysor segmentation.csv of an stpuppeteer export has both."
        raise ValueError(msg)
    cell = table["cell"]
    noise = cell.isna().to_numpy()
    if "is_noise" in table:
        noise |= table["is_noise"].astype(str).str.lower().eq("true").to_numpy()
    elif pd.api.types.is_numeric_dtype(cell):
        noise |= (cell == 0).to_numpy()  # Baysor < 0.6 numbered cells from 1, 0 for noise
    if pd.api.types.is_numeric_dtype(cell):
        cell_id = np.where(noise, -1, cell.fillna(-1)).astype(np.int64)
    else:
        cell_id = cell.astype(object).where(~noise, None).to_numpy()
    return pd.DataFrame({"transcript_id": table["transcript_id"].to_numpy(np.int64), "cell_id": cell_id})
