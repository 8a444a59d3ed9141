"""Every file, column and value name of the CosMx-like folder, in one place.

Names follow NanoString/Bruker CosMx SMI "flat file" exports (AtoMx) and the keys
``spatialdata_io`` reads (``spatialdata_io._constants._constants.CosmxKeys``).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

__all__ = [
    "CELL_COMPARTMENT",
    "DATASET_ID",
    "FOV_SIZE_PX",
    "MIN_CELLS_PER_FOV",
    "NEG_PROBE_PREFIX",
    "PIXEL_SIZE",
    "SIM_NEG_PROBE_PREFIX",
    "SLIDE",
    "SYSTEM_CONTROL_PREFIX",
    "Z_SLICE_UM",
    "CosmxCellColumns",
    "CosmxFiles",
    "CosmxFovColumns",
    "CosmxTranscriptColumns",
    "cell_names",
    "composite_name",
    "labels_name",
]

PIXEL_SIZE = 0.12028  # µm per pixel of the CosMx camera
FOV_SIZE_PX = 4256  # a field of view is 4256 × 4256 pixels, 0.51 mm wide
Z_SLICE_UM = 0.8  # the tx file's ``z`` is the index of the z-slice, 0.8 µm apart
DATASET_ID = "STpuppeteer"
SLIDE = 1
# spatialdata_io.cosmx fits each field of view's local -> global pixel affine to its cells'
# centres; fewer than three cells do not determine it.
MIN_CELLS_PER_FOV = 3
NEG_PROBE_PREFIX = "NegPrb"
SYSTEM_CONTROL_PREFIX = "SystemControl"
SIM_NEG_PROBE_PREFIX = "NegControlProbe_"  # simulated controls renamed NegPrb*, the others SystemControl*
# trs_df compartment -> the tx file's CellComp
CELL_COMPARTMENT = {"nucleus": "Nuclear", "cytoplasm": "Cytoplasm", "extracellular": "None"}


class CosmxFiles(StrEnum):
    """File-name suffixes (after ``{dataset_id}_``) and folder names."""

    COUNTS = "exprMat_file.csv"
    METADATA = "metadata_file.csv"
    FOV_POSITIONS = "fov_positions_file.csv"
    TRANSCRIPTS = "tx_file.csv"
    IMAGES_DIR = "CellComposite"
    LABELS_DIR = "CellLabels"


def composite_name(fov: int) -> str:
    """File name of one field of view's composite image."""
    return f"CellComposite_F{fov:03d}.jpg"


def labels_name(fov: int) -> str:
    """File name of one field of view's cell label raster."""
    return f"CellLabels_F{fov:03d}.tif"


def cell_names(fov: np.ndarray, cell_id: np.ndarray, *, slide: int = SLIDE) -> np.ndarray:
    """CosMx's unique cell names, ``c_{slide}_{fov}_{cell_ID}``."""
    fov_str = pd.Series(np.asarray(fov)).astype(str)
    return (f"c_{slide}_" + fov_str + "_" + pd.Series(np.asarray(cell_id)).astype(str)).to_numpy(dtype=object)


class CosmxTranscriptColumns(StrEnum):
    """Columns of the tx file."""

    FOV = "fov"
    CELL_ID = "cell_ID"
    CELL = "cell"
    X_LOCAL = "x_local_px"
    Y_LOCAL = "y_local_px"
    X_GLOBAL = "x_global_px"
    Y_GLOBAL = "y_global_px"
    Z = "z"
    TARGET = "target"
    CELL_COMP = "CellComp"
    TRANSCRIPT_ID = "transcript_id"


class CosmxCellColumns(StrEnum):
    """Columns of the metadata file (``FOV``, ``CELL_ID`` also start the exprMat file)."""

    FOV = "fov"
    CELL_ID = "cell_ID"
    CELL = "cell"
    AREA = "Area"
    ASPECT_RATIO = "AspectRatio"
    X_LOCAL = "CenterX_local_px"
    Y_LOCAL = "CenterY_local_px"
    X_GLOBAL = "CenterX_global_px"
    Y_GLOBAL = "CenterY_global_px"
    WIDTH = "Width"
    HEIGHT = "Height"
    N_COUNT = "nCount_RNA"
    N_FEATURE = "nFeature_RNA"


class CosmxFovColumns(StrEnum):
    """Columns of the fov positions file."""

    FOV = "fov"
    X_GLOBAL = "x_global_px"
    Y_GLOBAL = "y_global_px"
