"""Leakage of molecules out of their cell: who leaks (the union rule) and how far."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

__all__ = ["LEAK_REACH_SCALES", "classify_leakage", "draw_leaks", "leak_distances", "leak_probability", "leak_reach"]

#: −ln(0.03) ≈ 3.5066: the reach of the leak halo in units of the exponential's scale, so that
#: 97 % of leaked molecules land within the reach (``leak_dist_factor`` × the equivalent radius).
LEAK_REACH_SCALES = -math.log(0.03)


def leak_probability(cell_leakage: np.ndarray, gene_leakage: np.ndarray) -> np.ndarray:
    """Union rule: p = 1 − (1 − p_cell)(1 − p_gene), elementwise.

    Examples
    --------
    >>> float(leak_probability(0.2, 0.5))
    0.6
    """
    return 1.0 - (1.0 - np.asarray(cell_leakage, float)) * (1.0 - np.asarray(gene_leakage, float))


def draw_leaks(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One Bernoulli(p) per molecule: whether it leaks (one uniform each)."""
    return rng.random(len(p)) < p


def classify_leakage(
    trs_df: pd.DataFrame, cell_gdf: pd.DataFrame, gpar_df: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Decide for each molecule whether it leaks out of its cell (one Bernoulli each).

    p = 1 − (1 − ``leakage_percentage`` of its cell)(1 − ``gene_leakage`` of its gene);
    molecules with no source cell (``cell_id`` -1) never leak.

    Parameters
    ----------
    trs_df
        Molecules with ``cell_id`` and ``feature_name`` (e.g. from :func:`counts_to_transcript_df`).
    cell_gdf
        Cells with ``cell_id`` and ``leakage_percentage``.
    gpar_df
        Genes with ``feature_name`` and ``gene_leakage``.
    rng
        Generator; one uniform per molecule.

    Returns
    -------
    A copy of ``trs_df`` with a boolean ``leaked`` column.

    Examples
    --------
    >>> trs = counts_to_transcript_df(np.array([[3, 1]]), [0], ["a", "b"])
    >>> cells = pd.DataFrame({"cell_id": [0], "leakage_percentage": [1.0]})
    >>> genes = pd.DataFrame({"feature_name": ["a", "b"], "gene_leakage": [0.0, 0.0]})
    >>> classify_leakage(trs, cells, genes, np.random.default_rng(0))["leaked"].all()
    np.True_
    """
    cell_leak = pd.Series(np.asarray(cell_gdf["leakage_percentage"], float), index=np.asarray(cell_gdf["cell_id"]))
    gene_leak = pd.Series(np.asarray(gpar_df["gene_leakage"], float), index=np.asarray(gpar_df["feature_name"]))
    has_cell = np.asarray(trs_df["cell_id"]) >= 0
    p_cell = cell_leak.reindex(np.asarray(trs_df["cell_id"])).fillna(0.0).to_numpy()
    p_gene = gene_leak.reindex(np.asarray(trs_df["feature_name"], dtype=object)).fillna(0.0).to_numpy()
    p = np.where(has_cell, leak_probability(p_cell, p_gene), 0.0)
    out = trs_df.copy()
    out["leaked"] = draw_leaks(p, rng)
    return out


def leak_distances(radius: np.ndarray, u: np.ndarray, *, config: SimulationConfig) -> np.ndarray:
    """Distance beyond the boundary of each leaked molecule (µm), from one uniform each.

    The halo reaches R = ``leak_dist_factor`` × the cell's equivalent radius; distances are
    exponential with scale R / −ln(0.03) (so 97 % land within R), truncated at
    ``transcripts.leak_max_factor`` × R (inverse CDF; the default 3 cuts off a mass of
    0.03³ ≈ 2.7·10⁻⁵), and at least 1e-6 µm so a leaked molecule is never on its cell's boundary.
    """
    scale = config.leak_dist_factor * radius / LEAK_REACH_SCALES
    cut = config.transcripts.leak_max_factor * LEAK_REACH_SCALES
    return np.maximum(-scale * np.log1p(-u * -np.expm1(-cut)), 1e-6)


def leak_reach(cell_area: np.ndarray, *, config: SimulationConfig) -> np.ndarray:
    """Farthest a leaked molecule of each cell lands from the cell (µm), with a margin.

    That is the truncation, ``transcripts.leak_max_factor`` reaches of ``leak_dist_factor`` ×
    the equivalent radius, plus 1 % and 1 µm. A block whose geometry holds every cell within
    this reach of its own cells gets the same molecules as with the whole tissue's geometry.
    """
    radius = np.sqrt(cell_area / np.pi)
    return 1.01 * config.leak_dist_factor * config.transcripts.leak_max_factor * radius + 1.0
