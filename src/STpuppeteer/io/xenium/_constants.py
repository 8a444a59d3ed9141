"""Every file, column and value name of the Xenium bundle, in one place.

Names follow 10x's XOA 2.x output ("Xenium Onboard Analysis output at a glance") and the
keys ``spatialdata_io`` reads (``spatialdata_io._constants._constants.XeniumKeys``).
"""

from __future__ import annotations

from enum import StrEnum

from STpuppeteer.stages.image import XENIUM_PIXEL_SIZE
from STpuppeteer.stages.instrument import CONTROL_PREFIXES

__all__ = [
    "ANALYSIS_SW_VERSION",
    "CELL_SUMMARY_COLUMNS",
    "CONTROL_FEATURE_TYPES",
    "COUNT_COLUMN_OF_TYPE",
    "GENE_CODEWORD_CATEGORY",
    "GENE_EXPRESSION",
    "MAJOR_VERSION",
    "MINOR_VERSION",
    "MORPHOLOGY_CHANNEL_NAMES",
    "MULTIMODAL_CHANNEL_NAMES",
    "PIXEL_SIZE",
    "QV_THRESHOLD",
    "XeniumCellColumns",
    "XeniumFiles",
    "XeniumTranscriptColumns",
]

# experiment.xenium: the reader parses "xenium-X.Y.Z.W"; 2.x uses morphology_focus/ and polygon_sets.
ANALYSIS_SW_VERSION = "xenium-2.0.0.10"
MAJOR_VERSION = 5
MINOR_VERSION = 0
PIXEL_SIZE = XENIUM_PIXEL_SIZE  # µm per pixel of the morphology images and label masks (one value, the image stage's)
# Xenium counts a molecule in the cell-feature matrix only when its quality score is at least 20.
QV_THRESHOLD = 20.0

GENE_EXPRESSION = "Gene Expression"
_PROBE, _CODEWORD, _UNASSIGNED = CONTROL_PREFIXES
# feature_name prefix -> (10x feature_type, transcripts.parquet codeword_category); the
# simulated controls' prefixes are the instrument stage's, the last two only occur in real data.
CONTROL_FEATURE_TYPES = {
    _PROBE: ("Negative Control Probe", "negative_control_probe"),
    _CODEWORD: ("Negative Control Codeword", "negative_control_codeword"),
    _UNASSIGNED: ("Unassigned Codeword", "unassigned_codeword"),
    "DeprecatedCodeword_": ("Deprecated Codeword", "deprecated_codeword"),
    "GenomicControl_": ("Genomic Control", "genomic_control"),
}
GENE_CODEWORD_CATEGORY = "predesigned_gene"


class XeniumFiles(StrEnum):
    """File and folder names of the bundle."""

    SPECS = "experiment.xenium"
    TRANSCRIPTS = "transcripts.parquet"
    CELLS = "cells.parquet"
    CELL_BOUNDARIES = "cell_boundaries.parquet"
    NUCLEUS_BOUNDARIES = "nucleus_boundaries.parquet"
    CELL_FEATURE_MATRIX = "cell_feature_matrix.h5"
    CELLS_ZARR = "cells.zarr.zip"
    MORPHOLOGY_FOCUS_DIR = "morphology_focus"
    MORPHOLOGY_FOCUS_IMAGE = "morphology_focus_{:04}.ome.tif"  # one file per channel


class XeniumTranscriptColumns(StrEnum):
    """Columns of ``transcripts.parquet``."""

    TRANSCRIPT_ID = "transcript_id"
    CELL_ID = "cell_id"
    OVERLAPS_NUCLEUS = "overlaps_nucleus"
    FEATURE_NAME = "feature_name"
    X = "x_location"
    Y = "y_location"
    Z = "z_location"
    QV = "qv"
    FOV_NAME = "fov_name"
    NUCLEUS_DISTANCE = "nucleus_distance"
    CODEWORD_INDEX = "codeword_index"
    CODEWORD_CATEGORY = "codeword_category"
    IS_GENE = "is_gene"


class XeniumCellColumns(StrEnum):
    """Columns of ``cells.parquet`` and of the boundary files."""

    CELL_ID = "cell_id"
    X = "x_centroid"
    Y = "y_centroid"
    TRANSCRIPT_COUNTS = "transcript_counts"
    CONTROL_PROBE_COUNTS = "control_probe_counts"
    GENOMIC_CONTROL_COUNTS = "genomic_control_counts"
    CONTROL_CODEWORD_COUNTS = "control_codeword_counts"
    UNASSIGNED_CODEWORD_COUNTS = "unassigned_codeword_counts"
    DEPRECATED_CODEWORD_COUNTS = "deprecated_codeword_counts"
    TOTAL_COUNTS = "total_counts"
    CELL_AREA = "cell_area"
    NUCLEUS_AREA = "nucleus_area"
    NUCLEUS_COUNT = "nucleus_count"
    SEGMENTATION_METHOD = "segmentation_method"
    VERTEX_X = "vertex_x"
    VERTEX_Y = "vertex_y"
    LABEL_ID = "label_id"


# feature_type -> cells.parquet count column
COUNT_COLUMN_OF_TYPE = {
    GENE_EXPRESSION: XeniumCellColumns.TRANSCRIPT_COUNTS,
    "Negative Control Probe": XeniumCellColumns.CONTROL_PROBE_COUNTS,
    "Genomic Control": XeniumCellColumns.GENOMIC_CONTROL_COUNTS,
    "Negative Control Codeword": XeniumCellColumns.CONTROL_CODEWORD_COUNTS,
    "Unassigned Codeword": XeniumCellColumns.UNASSIGNED_CODEWORD_COUNTS,
    "Deprecated Codeword": XeniumCellColumns.DEPRECATED_CODEWORD_COUNTS,
}

# cells.zarr.zip: arrays, and the cell_summary columns in XOA 2.x order.
ZARR_CELL_ID = "cell_id"
ZARR_CELL_SUMMARY = "cell_summary"
ZARR_MASKS = "masks"
ZARR_POLYGON_SETS = "polygon_sets"
ZARR_NUCLEUS_MASK = "0"
ZARR_CELL_MASK = "1"
CELL_SUMMARY_COLUMNS = (
    "cell_centroid_x",
    "cell_centroid_y",
    "cell_area",
    "nucleus_centroid_x",
    "nucleus_centroid_y",
    "nucleus_area",
    "z_level",
    "nucleus_count",
)
# Channels of morphology_focus/: DAPI alone, or the four stains of the multimodal segmentation kit.
MORPHOLOGY_CHANNEL_NAMES = ("DAPI",)
MULTIMODAL_CHANNEL_NAMES = ("DAPI", "ATP1A1/CD45/E-Cadherin", "18S", "AlphaSMA/Vimentin")
