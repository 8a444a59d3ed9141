"""One Xenium bundle being written: its cells, its features and a method per file.

Both drivers write through :class:`XeniumBundle`: :func:`~STpuppeteer.io.xenium.write_xenium`
(a whole result in memory) and the block-streamed
:func:`~STpuppeteer.pipeline.streamed.simulate_to_xenium`, so a change to a file of the
bundle is made once.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from STpuppeteer._version import __version__
from STpuppeteer.io.archive import zip_folder
from STpuppeteer.io.cell_ids import DATASET_SUFFIX, encode_cell_ids
from STpuppeteer.io.parquet import write_parquet
from STpuppeteer.io.xenium import _constants as xc
from STpuppeteer.io.xenium.features import cell_totals
from STpuppeteer.io.xenium.images import write_morphology
from STpuppeteer.io.xenium.matrix import FeatureMatrixH5
from STpuppeteer.io.xenium.polygons import write_boundaries

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    import pandas as pd
    from scipy import sparse

    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.io.xenium.polygons import CellPolygons

__all__ = ["XeniumBundle"]

_C = xc.XeniumCellColumns
_F = xc.XeniumFiles


@dataclass(frozen=True)
class XeniumBundle:
    """The files of one Xenium output folder (XOA 2.x layout), written one method each.

    Attributes
    ----------
    folder
        The (temporary) folder being filled.
    config
        The config of the run (seed, morphology) the files describe.
    cell_ids
        The true cell ids, in ``cell_gdf`` order.
    cell_xy
        ``(n, 2)`` cell centres (``cell_gdf`` ``x``, ``y``).
    polygons
        The cells' and nuclei's polygons and measures.
    features
        Xenium's feature table (:func:`~STpuppeteer.io.xenium.features.feature_table`).
    n_genes
        Genes of the panel (the features before the controls).
    """

    folder: Path
    config: SimulationConfig
    cell_ids: np.ndarray
    cell_xy: np.ndarray
    polygons: CellPolygons
    features: pd.DataFrame
    n_genes: int

    @property
    def cell_codes(self) -> np.ndarray:
        """Xenium's cell ids (``"aaaaaaaa-1"`` …) of the cells, in order."""
        return encode_cell_ids(self.cell_ids)

    def __len__(self) -> int:
        return len(self.cell_ids)

    def write_specs(self, n_transcripts: int) -> None:
        """``experiment.xenium`` (``n_transcripts``: molecules in ``transcripts.parquet``)."""
        n_cells = len(self)
        specs = {
            "major_version": xc.MAJOR_VERSION,
            "minor_version": xc.MINOR_VERSION,
            "run_name": f"STpuppeteer simulation (seed {self.config.seed})",
            "region_name": "simulated_tile",
            "preservation_method": "simulated",
            "num_cells": n_cells,
            "transcripts_per_cell": round(n_transcripts / max(n_cells, 1)),
            "panel_name": "STpuppeteer simulated panel",
            "panel_organism": "simulated",
            "panel_num_targets_predesigned": self.n_genes,
            "panel_num_targets_custom": 0,
            "pixel_size": self.config.images.xenium_pixel_size_um,
            "instrument_sw_version": f"STpuppeteer {__version__}",
            "analysis_sw_version": xc.ANALYSIS_SW_VERSION,
            "images": {
                "morphology_focus_filepath": f"{_F.MORPHOLOGY_FOCUS_DIR}/{_F.MORPHOLOGY_FOCUS_IMAGE.format(0)}",
            },
            "simulated": True,
        }
        (self.folder / _F.SPECS).write_text(json.dumps(specs, indent=2))

    def write_transcripts(self, table: pa.Table) -> None:
        """``transcripts.parquet`` at once (its string columns as dictionaries that read back as strings)."""
        write_parquet(table, self.folder / _F.TRANSCRIPTS, store_schema=False)

    def write_feature_matrix(self, ranges: Iterable[sparse.csr_matrix]) -> dict[str, np.ndarray]:
        """``cell_feature_matrix.h5`` from consecutive ranges of cells (CSR rows, cells × features).

        Returns
        -------
        The count columns of ``cells.parquet`` (:func:`~STpuppeteer.io.xenium.features.cell_totals`)
        of every cell, gathered while the ranges pass.
        """
        totals: dict[str, list[np.ndarray]] = {}
        with FeatureMatrixH5(self.folder / _F.CELL_FEATURE_MATRIX, self.cell_codes, self.features) as h5:
            for rows in ranges:
                h5.append(rows)
                for column, values in cell_totals(rows, self.features).items():
                    totals.setdefault(column, []).append(values)
        return {k: np.concatenate(v)[: len(self)] for k, v in totals.items()}

    def write_cells_table(self, totals: dict[str, np.ndarray]) -> None:
        """``cells.parquet`` (``totals``: its count columns, from :meth:`write_feature_matrix`)."""
        n = len(self)
        columns = {
            _C.CELL_ID: pa.array(self.cell_codes, type=pa.string()),
            _C.X: pa.array(np.asarray(self.cell_xy[:, 0], dtype=np.float64)),
            _C.Y: pa.array(np.asarray(self.cell_xy[:, 1], dtype=np.float64)),
        }
        for column in (*xc.COUNT_COLUMN_OF_TYPE.values(), _C.TOTAL_COUNTS):
            columns[column] = pa.array(totals[column])
        columns[_C.CELL_AREA] = pa.array(self.polygons.cell_area)
        columns[_C.NUCLEUS_AREA] = pa.array(self.polygons.nucleus_area)
        columns[_C.NUCLEUS_COUNT] = pa.array(np.ones(n, dtype=np.int64))
        method = f"Simulated cell boundaries (STpuppeteer, max expansion {self.config.morphology.max_expansion_um} µm)"
        columns[_C.SEGMENTATION_METHOD] = pa.array([method] * n, type=pa.string())
        write_parquet(pa.table(columns), self.folder / _F.CELLS)

    def write_boundaries(self) -> None:
        """``cell_boundaries.parquet`` and ``nucleus_boundaries.parquet``, a slice of cells at a time."""
        codes = self.cell_codes
        write_boundaries(self.folder / _F.CELL_BOUNDARIES, self.polygons.cell_rings, len(self), codes)
        write_boundaries(self.folder / _F.NUCLEUS_BOUNDARIES, self.polygons.nucleus_rings, len(self), codes)

    def write_cells_zarr(self, nucleus_mask: np.ndarray, cell_mask: np.ndarray) -> None:
        """``cells.zarr.zip`` (zarr v2 in a zip): cell ids, a per-cell summary and the label masks.

        Labels are the cell's row + 1 in both masks; one nucleus per cell, so both
        ``polygon_sets/*/cell_index`` are ``0 … n-1``.
        """
        import numcodecs
        import zarr

        polygons = self.polygons
        n = len(self)
        ids = np.asarray(self.cell_ids).astype(np.uint32)
        summary = np.column_stack(
            [
                polygons.cell_centroid,
                polygons.cell_area,
                polygons.nucleus_centroid,
                polygons.nucleus_area,
                np.zeros(n),  # z level
                np.ones(n),  # nuclei per cell
            ]
        )
        chunks = (min(4096, nucleus_mask.shape[0]), min(4096, nucleus_mask.shape[1]))
        # Written as a folder, then zipped with fixed time stamps: the same cells give the same bytes.
        staging = self.folder / f"_{_F.CELLS_ZARR}.staging"
        try:
            root = zarr.open_group(zarr.storage.LocalStore(staging), mode="w", zarr_format=2)
            root.create_array(
                xc.ZARR_CELL_ID, data=np.column_stack([ids, np.full(n, DATASET_SUFFIX, dtype=np.uint32)])
            )
            root.create_array(
                xc.ZARR_CELL_SUMMARY, data=summary, attributes={"column_names": list(xc.CELL_SUMMARY_COLUMNS)}
            )
            masks = root.create_group(xc.ZARR_MASKS)
            # Blosc as zarr v2's default, with Zstandard inside instead of LZ4: label masks are long runs,
            # which it packs 3-7 times smaller in half the time (30 Mpx: 3.4 MB in 0.8 s -> 1.1 MB in 0.4 s).
            packed = numcodecs.Blosc(cname="zstd", clevel=1, shuffle=numcodecs.Blosc.SHUFFLE)
            masks.create_array(xc.ZARR_NUCLEUS_MASK, data=nucleus_mask, chunks=chunks, compressors=packed)
            masks.create_array(xc.ZARR_CELL_MASK, data=cell_mask, chunks=chunks, compressors=packed)
            polygon_sets = root.create_group(xc.ZARR_POLYGON_SETS)
            for key in (xc.ZARR_NUCLEUS_MASK, xc.ZARR_CELL_MASK):
                polygon_sets.create_group(key).create_array("cell_index", data=np.arange(n, dtype=np.uint32))
            zip_folder(staging, self.folder / _F.CELLS_ZARR)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def write_morphology(
        self, image: np.ndarray, *, channel_names: tuple[str, ...], rng: np.random.Generator
    ) -> None:
        """``morphology_focus/``: one OME-TIFF per channel of ``image`` (channels × rows × columns)."""
        images = self.config.images
        write_morphology(
            self.folder,
            image,
            channel_names,
            rng=rng,
            pixel_size=images.xenium_pixel_size_um,
            levels=images.xenium_pyramid_levels,
        )
