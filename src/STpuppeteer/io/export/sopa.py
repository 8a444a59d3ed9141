"""Sopa (Blampey et al., 2024): a SpatialData store with an image, the molecules and the nuclei.

What Sopa reads, from its code (``sopa/io/standardize.py``, ``sopa/patches/factory.py``,
``sopa/cli/*.py``): a SpatialData ``.zarr`` with at least one integer image with ``c, y, x``
dimensions and string channel names (``read_zarr_standardized`` refuses anything else), the
molecules as points (gene column found from the points' feature key), and optionally a prior
segmentation as shapes named by ``--prior-shapes-key``. Its transcript-based methods write
their cells back into the store as shapes ``baysor_boundaries``, ``comseg_boundaries`` or
``proseg_boundaries``; :func:`read_sopa` assigns each molecule to the polygon holding it.

The store holds no truth: the points carry ``transcript_id``, ``x``, ``y``, ``z``,
``feature_name`` only, the shapes are the nuclei (``nucleus_boundaries``), the image is the
simulated DAPI and membrane stain (no label images, no cell polygons, no table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from STpuppeteer.io.export._molecules import ExportMolecules, polygon_of
from STpuppeteer.io.spatialdata import COORDINATE_SYSTEM, IMAGE, NUCLEUS_SHAPES, TRANSCRIPTS, result_to_spatialdata

__all__ = ["SOPA_SHAPES", "STORE", "read_sopa", "write_sopa"]

STORE = "sopa.zarr"
#: The shapes Sopa's segmentation methods add, tried in this order when reading back.
SOPA_SHAPES: tuple[str, ...] = ("baysor_boundaries", "comseg_boundaries", "proseg_boundaries", "cellpose_boundaries")


def write_sopa(molecules: ExportMolecules, folder: Path, *, result: Any) -> str:
    """Write ``sopa.zarr``; return the Sopa command lines (ComSeg inside Sopa, nuclei as prior).

    Parameters
    ----------
    molecules
        From :func:`~STpuppeteer.io.export._molecules.export_molecules`.
    folder
        The export folder.
    result
        The :class:`~STpuppeteer.result.SimulationResult` (its image is rendered from it).

    Returns
    -------
    The shell commands.
    """
    import anndata as ad
    from spatialdata import SpatialData
    from spatialdata.models import PointsModel
    from spatialdata.transformations import Identity

    full = result_to_spatialdata(result, labels=False)
    points = molecules.trs_df[["transcript_id", "x", "y", "z", "feature_name"]]
    sdata = SpatialData(
        images={IMAGE: full.images[IMAGE]},
        shapes={NUCLEUS_SHAPES: full.shapes[NUCLEUS_SHAPES]},
        points={
            TRANSCRIPTS: PointsModel.parse(
                points,
                coordinates={"x": "x", "y": "y", "z": "z"},
                feature_key="feature_name",
                transformations={COORDINATE_SYSTEM: Identity()},
            )
        },
    )
    store = folder / STORE
    with ad.settings.override(auto_shard_zarr_v3=False):
        sdata.write(store)
    store = store.resolve()
    diameter = 2 * molecules.mean_cell_radius
    config = (
        f'{{"dict_scale": {{"x": 1, "y": 1, "z": 1}}, "mean_cell_diameter": {diameter:.1f}, '
        f'"max_cell_radius": {diameter:.1f}, "alpha": 0.5, "min_rna_per_cell": 5, "gene_column": "feature_name"}}'
    )
    return (
        f"sopa patchify transcripts {store} --patch-width-microns 1000 --patch-overlap-microns 30 "
        f"--prior-shapes-key {NUCLEUS_SHAPES} --write-cells-centroids\n"
        f"sopa segmentation comseg {store} --config '{config}'"
    )


def read_sopa(path: str | Path, *, shapes_key: str | None = None) -> pd.DataFrame:
    """Sopa's cells as a molecule → cell table: each molecule goes to the polygon holding it.

    Parameters
    ----------
    path
        The ``sopa.zarr`` store after ``sopa segmentation`` (or the export folder holding it).
    shapes_key
        The shapes of Sopa's cells (default: the first of :data:`SOPA_SHAPES` in the store).

    Returns
    -------
    ``transcript_id`` and ``cell_id`` (the polygon's index in the shapes, -1 for none; where
    polygons overlap, the first).
    """
    import spatialdata

    path = Path(path)
    if path.is_dir() and (path / STORE).is_dir():
        path = path / STORE
    sdata = spatialdata.read_zarr(path)
    if shapes_key is None:
        shapes_key = next((k for k in SOPA_SHAPES if k in sdata.shapes), None)
        if shapes_key is None:
            msg = f"path={str(path)!r} holds none of the shapes {list(SOPA_SHAPES)}; run sopa segmentation first."
            raise ValueError(msg)
    elif shapes_key not in sdata.shapes:
        msg = f"shapes_key={shapes_key!r} is not in {str(path)!r}; shapes: {list(sdata.shapes)}."
        raise ValueError(msg)
    cells = sdata.shapes[shapes_key]
    trs = sdata.points[TRANSCRIPTS][["transcript_id", "x", "y"]].compute()
    geoms = np.asarray(cells.geometry.to_numpy(), dtype=object)
    ids = cells.index.to_numpy()
    row = polygon_of(trs["x"].to_numpy(float), trs["y"].to_numpy(float), geoms)
    cell_id = np.where(row >= 0, ids[np.maximum(row, 0)] if len(ids) else -1, -1)
    return pd.DataFrame({"transcript_id": trs["transcript_id"].to_numpy(np.int64), "cell_id": cell_id})
