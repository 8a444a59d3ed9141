"""Stage 3: true counts per cell and gene (a Gamma–Poisson, i.e. negative binomial, per cell).

For cell c of type t and gene g::

    λ_cg ~ Gamma(shape θ_gt, scale s_c · μ_gt · expression_scale / θ_gt)
    Y_cg ~ Poisson(λ_cg)

so E[Y_cg] = s_c μ_gt E and Var[Y_cg] = m + m²/θ_gt with m = s_c μ_gt E (E is the config's
``expression_scale``, the overall expression-level knob; s_c the cell's ``scale``).
With the program model the counts come from the programs instead
(:mod:`STpuppeteer.stages.programs`). Either way :class:`CountModel` holds what the blocks
share: draws are made block by block of cells, each block from its own generator keyed by
the block's index, so any split of the cells over workers gives the same counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from STpuppeteer._parallel import map_blocks
from STpuppeteer._random import block_rng
from STpuppeteer.stages.block_size import resolve_block_size
from STpuppeteer.stages.programs import ProgramArrays, draw_program_counts, program_celltype_codes

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from dask.distributed import Client

    from STpuppeteer.config import SimulationConfig

__all__ = ["CountModel", "PriorCountModel", "ProgramCountModel", "celltype_codes", "generate_counts", "nb_parameters"]


def celltype_codes(cell_gdf: pd.DataFrame, gpar_df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Index of each cell's type among the cell types of ``gpar_df``.

    Parameters
    ----------
    cell_gdf
        Cells with a ``celltype`` column (``ct_0`` …).
    gpar_df
        Gene parameters with ``ct_{k}_mu`` / ``ct_{k}_theta`` columns.

    Returns
    -------
    The integer code of every cell, and the cell type names in code order.
    """
    names = [c.removesuffix("_mu") for c in gpar_df.columns if c.endswith("_mu")]
    lookup = {n: i for i, n in enumerate(names)}
    values = np.asarray(cell_gdf["celltype"], dtype=object)
    uniq, inverse = np.unique(values.astype(str), return_inverse=True)
    unknown = [u for u in uniq if u not in lookup]
    if unknown:
        msg = f"cell_gdf['celltype'] has types {unknown} with no '{{type}}_mu' column in gpar_df; known: {names}."
        raise ValueError(msg)
    codes = np.array([lookup[u] for u in uniq], dtype=np.intp)[inverse]
    return codes, names


def nb_parameters(
    gpar_df: pd.DataFrame, cell_gdf: pd.DataFrame, *, expression_scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell-type θ and μ matrices and each cell's type code.

    Parameters
    ----------
    gpar_df
        Gene parameters.
    cell_gdf
        Cells (``celltype`` column).
    expression_scale
        Multiplies every μ.

    Returns
    -------
    ``theta`` and ``mu`` (cell types × genes) and the type code of every cell.
    """
    codes, names = celltype_codes(cell_gdf, gpar_df)
    theta = np.stack([gpar_df[f"{n}_theta"].to_numpy(float) for n in names])
    mu = np.stack([gpar_df[f"{n}_mu"].to_numpy(float) for n in names]) * expression_scale
    return theta, mu, codes


def _scale(cell_gdf: pd.DataFrame) -> np.ndarray:
    scale = np.asarray(cell_gdf["scale"], dtype=float)
    if np.any(~np.isfinite(scale) | (scale < 0)):
        msg = "cell_gdf['scale'] has negative or non-finite values; size factors must be finite and ≥ 0."
        raise ValueError(msg)
    return scale


@dataclass(frozen=True)
class CountModel:
    """What every block of cells needs to draw its counts: each cell's type code and size factor.

    :meth:`build` gives the variant of the config's expression model, :class:`PriorCountModel`
    or :class:`ProgramCountModel`; both draw a block of cells with :meth:`block`.
    """

    codes: np.ndarray
    scale: np.ndarray

    @classmethod
    def build(cls, gpar_df: pd.DataFrame, cell_gdf: pd.DataFrame, *, config: SimulationConfig) -> CountModel:
        """From the gene parameters, the cells (``celltype``, ``scale``) and the config."""
        if config.expression_model == "programs":
            arrays = ProgramArrays.from_config(config, gpar_df)
            codes = program_celltype_codes(cell_gdf, arrays.celltypes)
            return ProgramCountModel(codes=codes, scale=_scale(cell_gdf), arrays=arrays)
        theta, mu, codes = nb_parameters(gpar_df, cell_gdf, expression_scale=config.expression_scale)
        return PriorCountModel(codes=codes, scale=_scale(cell_gdf), theta=theta, mu=mu)

    @property
    def n_genes(self) -> int:
        """Genes per cell (columns of a block)."""
        raise NotImplementedError

    def block(self, start: int, stop: int, rng: np.random.Generator) -> np.ndarray:
        """Counts of cells ``start:stop`` (int32, cells × genes) from the block's own generator."""
        raise NotImplementedError

    def type_means(self) -> np.ndarray:
        """E[Y] of every gene in a cell of each type with size factor 1 (types × genes)."""
        raise NotImplementedError

    def expected_gene_totals(self) -> np.ndarray:
        """E[Σ_c Y_cg]: every gene's expected total count over all cells (float64).

        Each cell's expected count is its size factor times its type's mean, so the total is
        the size factors summed per type times the types' means; no count is drawn. The
        ambient molecules' genes follow these totals (``stages/transcripts/background.py``).

        Examples
        --------
        >>> import pandas as pd
        >>> from STpuppeteer.config import SimulationConfig
        >>> gpar = pd.DataFrame({"feature_name": ["a", "b"], "ct_0_theta": [2.0, 2.0], "ct_0_mu": [1.0, 5.0]})
        >>> cells = pd.DataFrame({"celltype": ["ct_0"] * 3, "scale": [1.0, 1.0, 2.0]})
        >>> CountModel.build(gpar, cells, config=SimulationConfig(expression_scale=1.0)).expected_gene_totals()
        array([ 4., 20.])
        """
        means = self.type_means()
        scale_per_type = np.bincount(self.codes, weights=self.scale, minlength=means.shape[0])
        return scale_per_type @ means


@dataclass(frozen=True)
class PriorCountModel(CountModel):
    """The prior model's blocks: θ and μ per type (a negative binomial per cell and gene)."""

    theta: np.ndarray
    mu: np.ndarray

    @property
    def n_genes(self) -> int:
        """Genes per cell."""
        return self.mu.shape[1]

    def block(self, start: int, stop: int, rng: np.random.Generator) -> np.ndarray:
        """Counts of cells ``start:stop`` (int32, cells × genes) from the block's own generator."""
        # In place (the same numbers as λ = Gamma(θ) · (μ·s/θ)): two cells × genes arrays live, not four.
        th = self.theta[self.codes[start:stop]]
        ratio = self.mu[self.codes[start:stop]]
        ratio *= self.scale[start:stop, None]
        ratio /= th
        lam = rng.standard_gamma(th, out=th)
        lam *= ratio
        return rng.poisson(lam).astype(np.int32, copy=False)

    def type_means(self) -> np.ndarray:
        """E[Y] of every gene in a cell of each type with size factor 1: μ (the Gamma's mean)."""
        return self.mu


@dataclass(frozen=True)
class ProgramCountModel(CountModel):
    """The program model's blocks: loadings and activations (see ``stages.programs.draw_program_counts``)."""

    arrays: ProgramArrays

    @property
    def n_genes(self) -> int:
        """Genes per cell."""
        return self.arrays.loadings.shape[0]

    def block(self, start: int, stop: int, rng: np.random.Generator) -> np.ndarray:
        """Counts of cells ``start:stop`` (int32, cells × genes) from the block's own generator."""
        counts = draw_program_counts(self.arrays, self.codes[start:stop], self.scale[start:stop], rng)
        return counts.astype(np.int32, copy=False)

    def type_means(self) -> np.ndarray:
        """E[Y] of every gene in a cell of each type with size factor 1 (the clipped mean over the activations)."""
        return self.arrays.expected_mean()


def _count_block_task(model: CountModel, item: tuple[int, int, np.random.Generator]) -> np.ndarray:
    start, stop, rng = item
    return model.block(start, stop, rng)


def generate_counts(
    gpar_df: pd.DataFrame,
    cell_gdf: gpd.GeoDataFrame,
    rng: np.random.Generator,
    *,
    config: SimulationConfig,
    client: Client | None = None,
    blocks_per_task: int = 1,
) -> np.ndarray:
    """Draw the true count of every gene in every cell.

    Parameters
    ----------
    gpar_df
        Gene parameters (stage 1): ``ct_{k}_theta`` and ``ct_{k}_mu`` columns (program model:
        the baseline and the loadings, :func:`~STpuppeteer.stages.programs.build_program_gpar_df`).
    cell_gdf
        Cells (stage 2): ``celltype`` and ``scale`` columns, rows in ``cell_id`` order.
    rng
        The stage's generator; each block of ``config.transcripts.block_size`` cells (``"auto"``:
        :func:`~STpuppeteer.stages.block_size.resolve_block_size`) draws from ``block_rng(rng, block)``.
    config
        The simulation config (``expression_scale``, ``transcripts.block_size``).
    client
        A ``dask.distributed.Client`` to draw the blocks on (same counts as without one).
    blocks_per_task
        Blocks per Dask task (only with ``client``); never changes the counts.

    Returns
    -------
    ``count_array``: int32 array, cells × genes.

    Examples
    --------
    >>> import pandas as pd
    >>> from STpuppeteer.config import SimulationConfig
    >>> gpar = pd.DataFrame({"feature_name": ["a", "b"], "ct_0_theta": [2.0, 2.0], "ct_0_mu": [1.0, 5.0]})
    >>> cells = pd.DataFrame({"celltype": ["ct_0"] * 3, "scale": [1.0, 1.0, 2.0]})
    >>> generate_counts(gpar, cells, np.random.default_rng(0), config=SimulationConfig()).shape
    (3, 2)
    """
    model = CountModel.build(gpar_df, cell_gdf, config=config)
    n_cells, n_genes = len(model.codes), model.n_genes
    counts = np.empty((n_cells, n_genes), dtype=np.int32)
    size = resolve_block_size(config.transcripts.block_size, gene_totals=model.expected_gene_totals(), n_cells=n_cells)
    items = [(start, min(start + size, n_cells), block_rng(rng, b)) for b, start in enumerate(range(0, n_cells, size))]
    if client is None:
        blocks = (_count_block_task(model, item) for item in items)
    else:
        blocks = map_blocks(_count_block_task, items, shared=model, client=client, blocks_per_task=blocks_per_task)
    for (start, stop, _), block in zip(items, blocks, strict=True):
        counts[start:stop] = block
    return counts
