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
    trs_df: pd.DataFrame, cell_gdf: pd.DataFrame, gpar_df: pd.DataFrame | None, rng: np.random.Generator
) -> np.ndarray:
    """Decide for each molecule whether it leaks out of its cell: one Bernoulli each.

    p = 1 − (1 − p_type)(1 − p_gene), p_type the ``leakage_percentage`` of the molecule's
    ``cell_id`` in ``cell_gdf``, p_gene the ``gene_leakage`` of its ``feature_name`` in
    ``gpar_df``. Molecules with no source cell (``cell_id`` negative, ``"-1"``, empty or
    missing) never leak.

    Parameters
    ----------
    trs_df
        Molecules with ``cell_id`` and ``feature_name`` (e.g. from :func:`counts_to_transcript_df`).
    cell_gdf
        Cells with ``cell_id`` (integers or strings, matched as given, else by their text) and
        ``leakage_percentage`` (absent: 0). No geometry is needed.
    gpar_df
        Genes with ``feature_name`` and ``gene_leakage`` (absent: 0); genes it does not list
        (controls) have p_gene = 0. ``None``: no gene term.
    rng
        Generator (or seed); one uniform per molecule, in ``trs_df`` order.

    Returns
    -------
    A 1-D bool array, position ``i`` for row ``i`` of ``trs_df``.

    Raises
    ------
    ValueError
        If a molecule's ``cell_id`` is not in ``cell_gdf`` (naming a few), or ``cell_gdf`` has
        an id twice.

    Examples
    --------
    >>> from STpuppeteer.stages.transcripts.from_counts import counts_to_transcript_df
    >>> trs = counts_to_transcript_df(np.array([[3, 1]]), ["cell_a"], ["a", "b"])
    >>> cells = pd.DataFrame({"cell_id": ["cell_a"], "leakage_percentage": [1.0]})
    >>> classify_leakage(trs, cells, None, np.random.default_rng(0)).tolist()
    [True, True, True, True]
    """
    rng = np.random.default_rng(rng)
    n = len(trs_df)
    p_type = np.zeros(n)
    ids = pd.Index(np.asarray(cell_gdf["cell_id"]))
    if ids.has_duplicates:
        twice = list(ids[ids.duplicated()].unique()[:5])
        msg = f"cell_gdf['cell_id'] has ids more than once ({twice}); each cell needs its own id."
        raise ValueError(msg)
    mol = np.asarray(trs_df["cell_id"])
    if mol.dtype.kind in "iuf":
        no_cell = ~(mol >= 0)  # -1, or NaN
    else:
        no_cell = pd.isna(mol) | np.isin(mol.astype(str), ["-1", ""])
    row = ids.get_indexer(mol)
    lost = (row < 0) & ~no_cell
    if lost.any():  # e.g. integer ids on one side and their text on the other
        row[lost] = pd.Index(ids.astype(str)).get_indexer(mol[lost].astype(str))
        lost = (row < 0) & ~no_cell
    if lost.any():
        unknown = list(dict.fromkeys(mol[lost][:1000]))[:5]
        msg = f"trs_df has cell_id values {unknown} that are not in cell_gdf['cell_id'] ({lost.sum()} molecules)."
        raise ValueError(msg)
    if "leakage_percentage" in cell_gdf.columns:
        leak = np.asarray(cell_gdf["leakage_percentage"], dtype=float)
        has = row >= 0
        p_type[has] = leak[row[has]]
    p_gene = np.zeros(n)
    if gpar_df is not None and "gene_leakage" in gpar_df.columns:
        genes = pd.Index(np.asarray(gpar_df["feature_name"], dtype=object))
        col = genes.get_indexer(np.asarray(trs_df["feature_name"], dtype=object))
        gene_leak = np.asarray(gpar_df["gene_leakage"], dtype=float)
        p_gene[col >= 0] = gene_leak[col[col >= 0]]
    p = np.where(no_cell, 0.0, leak_probability(p_type, p_gene))
    if np.any(~np.isfinite(p) | (p < 0) | (p > 1)):
        msg = "leakage_percentage and gene_leakage must be probabilities in [0, 1]."
        raise ValueError(msg)
    return draw_leaks(p, rng)


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
