"""Every file, column and value name of the MERSCOPE-like folder, in one place.

Names follow Vizgen's MERSCOPE output (``region_N/`` of a MERSCOPE run, with the newer
Parquet cell boundaries) and the keys ``spatialdata_io`` reads
(``spatialdata_io._constants._constants.MerscopeKeys``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "BLANK_PREFIX",
    "BOUNDARY_TYPE",
    "FOV_SIZE_PX",
    "MOSAIC_PIXEL_SIZE",
    "MOSAIC_Z",
    "N_Z_PLANES",
    "UNASSIGNED_CELL",
    "Z_PLANE_SPACING_UM",
    "MerscopeBoundaryColumns",
    "MerscopeCellColumns",
    "MerscopeFiles",
    "MerscopeStains",
    "MerscopeTranscriptColumns",
    "mosaic_name",
]

# µm per camera pixel (the fields of view, the transcripts' x, y); the instrument's mosaics have it too,
# the simulated ones the config's images.merscope_pixel_size_um (binned: see config/images.py).
MOSAIC_PIXEL_SIZE = 0.108
FOV_SIZE_PX = 2048  # a field of view is 2048 × 2048 camera pixels of MOSAIC_PIXEL_SIZE
N_Z_PLANES = 7  # images and boundaries at 7 focal planes ...
Z_PLANE_SPACING_UM = 1.5  # ... 1.5 µm apart; global_z is the plane index
# Only the middle plane's mosaic is rendered (the one spatialdata_io.merscope reads by default):
# seven identical renders would multiply the folder's size for no information.
MOSAIC_Z = 3
UNASSIGNED_CELL = -1  # cell_id of a transcript outside every cell
# Columns whose name contains "blank" are MERSCOPE's negative controls; the reader moves them
# out of X into obsm["blank"].
BLANK_PREFIX = "Blank-"
BOUNDARY_TYPE = "cell"


class MerscopeFiles(StrEnum):
    """File and folder names."""

    IMAGES_DIR = "images"
    TRANSFORM = "micron_to_mosaic_pixel_transform.csv"
    TRANSCRIPTS = "detected_transcripts.csv"
    COUNTS = "cell_by_gene.csv"
    CELL_METADATA = "cell_metadata.csv"
    BOUNDARIES = "cell_boundaries.parquet"


def mosaic_name(stain: str, z: int) -> str:
    """File name of one stain's mosaic at focal plane ``z``."""
    return f"mosaic_{stain}_z{z}.tif"


class MerscopeStains(StrEnum):
    """Stains of the mosaic images."""

    DAPI = "DAPI"
    CELLBOUND = "Cellbound1"


class MerscopeTranscriptColumns(StrEnum):
    """Columns of ``detected_transcripts.csv`` (after its unnamed row-number column)."""

    BARCODE_ID = "barcode_id"
    GLOBAL_X = "global_x"
    GLOBAL_Y = "global_y"
    GLOBAL_Z = "global_z"
    X = "x"
    Y = "y"
    FOV = "fov"
    GENE = "gene"
    TRANSCRIPT_ID = "transcript_id"
    CELL_ID = "cell_id"


class MerscopeCellColumns(StrEnum):
    """Index names and columns of ``cell_metadata.csv`` and ``cell_by_gene.csv``."""

    ENTITY_ID = "EntityID"
    COUNTS_CELL = "cell"
    FOV = "fov"
    VOLUME = "volume"
    CENTER_X = "center_x"
    CENTER_Y = "center_y"
    MIN_X = "min_x"
    MAX_X = "max_x"
    MIN_Y = "min_y"
    MAX_Y = "max_y"
    ANISOTROPY = "anisotropy"
    TRANSCRIPT_COUNT = "transcript_count"
    PERIMETER_AREA_RATIO = "perimeter_area_ratio"
    SOLIDITY = "solidity"


class MerscopeBoundaryColumns(StrEnum):
    """Columns of ``cell_boundaries.parquet`` (VPT's micron-space boundaries)."""

    ID = "ID"
    ENTITY_ID = "EntityID"
    Z_INDEX = "ZIndex"
    GEOMETRY = "Geometry"
    TYPE = "Type"
    Z_LEVEL = "ZLevel"
    NAME = "Name"
    PARENT_ID = "ParentID"
    PARENT_TYPE = "ParentType"
