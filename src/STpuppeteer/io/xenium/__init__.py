"""The Xenium bundle (XOA 2.x layout) that ``spatialdata_io.xenium`` reads.

:func:`write_xenium` writes a result held in memory; :class:`XeniumBundle` is the one
writer of the bundle's files, which the block-streamed driver shares through
:class:`XeniumStream`. Every file, column and value name is in :mod:`._constants`.
"""

from __future__ import annotations

from STpuppeteer.io.xenium.bundle import XeniumBundle
from STpuppeteer.io.xenium.features import (
    cell_totals,
    check_ascii_genes,
    feature_table,
    xenium_features,
    xenium_observed_counts,
)
from STpuppeteer.io.xenium.images import xenium_grid
from STpuppeteer.io.xenium.matrix import FeatureMatrixH5
from STpuppeteer.io.xenium.polygons import CellPolygons
from STpuppeteer.io.xenium.stream import EncodedRows, MoleculeRows, StreamSchemas, XeniumStream, encode_rows, tabulate
from STpuppeteer.io.xenium.transcripts import transcripts_table
from STpuppeteer.io.xenium.write import write_xenium

__all__ = [
    "CellPolygons",
    "EncodedRows",
    "FeatureMatrixH5",
    "MoleculeRows",
    "StreamSchemas",
    "XeniumBundle",
    "XeniumStream",
    "cell_totals",
    "check_ascii_genes",
    "encode_rows",
    "feature_table",
    "tabulate",
    "transcripts_table",
    "write_xenium",
    "xenium_features",
    "xenium_grid",
    "xenium_observed_counts",
]
