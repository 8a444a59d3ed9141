"""The in-memory driver: the :class:`SpotlessSimulator` facade and :func:`simulate`.

The facade is thin: each ``generate_*`` method calls one pure stage function with the
config, the previous stages' results and that stage's own random generator, and keeps the
result as an attribute (``gpar_df``, ``cell_gdf``, ``count_array``, ``trs_df``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from STpuppeteer._random import Stage, gene_rng, stage_rng
from STpuppeteer.config import SimulationConfig, as_config
from STpuppeteer.config.budget import check_memory
from STpuppeteer.result import SimulationResult
from STpuppeteer.stages.counts import CountModel, generate_counts
from STpuppeteer.stages.genes import generate_gene_parameters
from STpuppeteer.stages.tissue import generate_cells
from STpuppeteer.stages.transcripts import generate_transcripts

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from dask.distributed import Client

__all__ = ["SpotlessSimulator", "simulate"]


class SpotlessSimulator:
    """Run the simulation stage by stage, keeping every intermediate.

    Parameters
    ----------
    config
        A :class:`SimulationConfig`, a dict of its fields, or the path of a YAML file.

    Examples
    --------
    >>> sim = SpotlessSimulator(SimulationConfig(seed=42, n_cells=200, n_genes=300))
    >>> sim.generate_gene_parameters().shape
    (300, 9)
    """

    def __init__(self, config: SimulationConfig | dict[str, Any] | str | Path) -> None:
        self.config = as_config(config)
        self.gpar_df: pd.DataFrame | None = None
        self.cell_gdf: gpd.GeoDataFrame | None = None
        self.count_array: np.ndarray | None = None
        self.trs_df: pd.DataFrame | None = None

    def __repr__(self) -> str:
        done = [n for n in ("gpar_df", "cell_gdf", "count_array", "trs_df") if getattr(self, n) is not None]
        return f"SpotlessSimulator(seed={self.config.seed}, n_cells={self.config.n_cells}, done={done})"

    def generate_gene_parameters(self) -> pd.DataFrame:
        """Stage 1: draw μ and θ per gene and cell type; sets and returns ``gpar_df``."""
        self.gpar_df = generate_gene_parameters(self.config, gene_rng(self.config.seed))
        return self.gpar_df

    def generate_cells(self) -> gpd.GeoDataFrame:
        """Stage 2: tissue, cell positions, types, nuclei and cell polygons; sets ``cell_gdf``."""
        self.cell_gdf = generate_cells(self.config, stage_rng(self.config.seed, Stage.CELLS))
        return self.cell_gdf

    def generate_counts(self, *, client: Client | None = None) -> np.ndarray:
        """Stage 3: true counts per cell and gene; sets ``count_array``.

        Runs stages 1–2 first if they have not been run. With a ``dask.distributed``
        ``client`` the blocks of cells run as its tasks; the counts are the same.
        """
        if self.gpar_df is None:
            self.generate_gene_parameters()
        if self.cell_gdf is None:
            self.generate_cells()
        self.count_array = generate_counts(
            self.gpar_df, self.cell_gdf, stage_rng(self.config.seed, Stage.COUNTS), config=self.config, client=client
        )
        return self.count_array

    def generate_transcripts(self, *, client: Client | None = None) -> pd.DataFrame:
        """Stage 4: every detected molecule with its ground truth; sets ``trs_df``.

        Runs stages 1–3 first if they have not been run. With a ``dask.distributed``
        ``client`` the blocks of cells run as its tasks; the molecules are the same.
        """
        if self.count_array is None:
            self.generate_counts(client=client)
        self.trs_df = generate_transcripts(
            self.count_array,
            self.cell_gdf,
            self.gpar_df,
            stage_rng(self.config.seed, Stage.TRANSCRIPTS),
            config=self.config,
            client=client,
            # Ambient molecules follow the model's expected gene totals, as in the streamed writer.
            ambient_totals=CountModel.build(self.gpar_df, self.cell_gdf, config=self.config).expected_gene_totals(),
        )
        return self.trs_df

    def run(self, *, client: Client | None = None) -> SimulationResult:
        """Run every stage not yet run and return the :class:`SimulationResult`.

        Parameters
        ----------
        client
            A ``dask.distributed.Client`` (optional dependency): stages 3–4 run their fixed
            blocks of cells as its tasks. The result is identical to a run without one.

        Returns
        -------
        The :class:`SimulationResult`.

        Raises
        ------
        MemoryError
            Before any stage runs, if the run would need more memory than the machine has
            (:func:`~STpuppeteer.config.budget.check_memory`; the streamed driver
            :func:`~STpuppeteer.simulate_to_xenium` holds only blocks).
        """
        if self.gpar_df is None:
            check_memory(self.config)
        if self.trs_df is None:
            self.generate_transcripts(client=client)
        return SimulationResult(
            config=self.config,
            gpar_df=self.gpar_df,
            cell_gdf=self.cell_gdf,
            count_array=self.count_array,
            trs_df=self.trs_df,
        )


def simulate(
    config: SimulationConfig | dict[str, Any] | str | Path | None = None, **overrides: Any
) -> SimulationResult:
    """Run a whole simulation in one call.

    Parameters
    ----------
    config
        A config (object, dict or YAML path); ``None`` uses the defaults.
    **overrides
        Top-level fields replacing the config's, e.g. ``seed=1, n_cells=500``.

    Returns
    -------
    The :class:`SimulationResult`.
    """
    base = SimulationConfig() if config is None else as_config(config)
    if overrides:
        base = SimulationConfig.model_validate({**base.model_dump(), **overrides})
    return SpotlessSimulator(base).run()
