"""The outcome of a simulation: every intermediate and the config that made it.

The writing methods are conveniences over :mod:`STpuppeteer.io`, the layer above this one.
They load it by name when called (as pandas loads its plotting backend): the writers need
the optional ``io`` dependencies, a result must be usable without them, and the layers
keep importing downwards only.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from STpuppeteer._random import Stage, stage_rng

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

    import anndata as ad
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from STpuppeteer.config import SimulationConfig


__all__ = ["SimulationResult"]

_IO_LAYER = "STpuppeteer.io"


def _io() -> ModuleType:
    """The io layer (imported on first use)."""
    return importlib.import_module(_IO_LAYER)


@dataclass
class SimulationResult:
    """Everything a simulation produced, and the config that produced it.

    Attributes
    ----------
    config
        The validated config, seed included.
    gpar_df
        Gene parameters (stage 1).
    cell_gdf
        Cells with their polygons and nuclei (stage 2).
    count_array
        True counts, cells × genes (stage 3).
    trs_df
        Detected molecules with their ground truth (stage 4).
    """

    config: SimulationConfig
    gpar_df: pd.DataFrame
    cell_gdf: gpd.GeoDataFrame
    count_array: np.ndarray
    trs_df: pd.DataFrame

    def stage_rng(self, stage: Stage) -> np.random.Generator:
        """A fresh generator of ``stage`` for this result's seed (the writers' images draw from it)."""
        return stage_rng(self.config.seed, stage)

    def to_anndata(self) -> ad.AnnData:
        """Counts as AnnData: observed counts in ``X``, true counts in ``layers['true']``, cells in ``obs``."""
        return _io().to_anndata(self)

    def to_spatialdata(self, **options: Any):  # noqa: ANN201 - spatialdata is an optional dependency
        """Points, shapes, table and image as a :class:`spatialdata.SpatialData`.

        ``options`` go to :func:`STpuppeteer.io.spatialdata.result_to_spatialdata` (``image=``, ``labels=``).
        """
        return _io().to_spatialdata(self, **options)

    def write_xenium(self, path: str | Path, *, overwrite: bool = False, **options: Any) -> Path:
        """Write a Xenium-like bundle that ``spatialdata_io.xenium`` reads.

        ``options`` go to :func:`STpuppeteer.io.xenium.write_xenium` (e.g. ``multimodal=True``).
        """
        return _io().write_xenium(self, path, overwrite=overwrite, **options)

    def write_merscope(self, path: str | Path, *, overwrite: bool = False, **options: Any) -> Path:
        """Write a MERSCOPE-like folder that ``spatialdata_io.merscope`` reads.

        ``options`` go to :func:`STpuppeteer.io.merscope.write_merscope` (e.g. ``mosaic_images=False``).
        """
        return _io().write_merscope(self, path, overwrite=overwrite, **options)

    def write_cosmx(self, path: str | Path, *, overwrite: bool = False, **options: Any) -> Path:
        """Write a CosMx-like folder that ``spatialdata_io.cosmx`` reads.

        ``options`` go to :func:`STpuppeteer.io.cosmx.write_cosmx` (e.g. ``composite_images=False``).
        """
        return _io().write_cosmx(self, path, overwrite=overwrite, **options)

    def write_h5ad(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write :meth:`to_anndata` to an ``.h5ad`` file."""
        return _io().write_h5ad(self, path, overwrite=overwrite)

    def write_spatialdata(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write :meth:`to_spatialdata` to a ``.zarr`` store."""
        return _io().write_spatialdata(self, path, overwrite=overwrite)
