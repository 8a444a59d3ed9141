"""Power weights of the confluent model: cells sized by their discs, each centre inside its own cell.

A weight is ``_WEIGHT_GAIN`` × the squared radius of the centre's packed disc, lowered
until no weight exceeds a neighbour's by more than ``_WEIGHT_STEP`` × their squared
distance; then each centre lies inside its power cell, and the returned gap bounds how far
(the nucleus' room). Used in the tissue's plane (:mod:`.power_layout`) and in the stretched
plane (:mod:`.stretched_cells`).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from STpuppeteer.geometry.power import lower_gap_bounds

__all__ = ["power_weights"]

# Power weights are this multiple of the packed discs' squared radii (more than the radical
# tessellation's 1: measured to bring a domain's mean cell area to its target, docs/model_tissue.md).
_WEIGHT_GAIN = 2.0
# A weight may exceed a neighbour's by at most this fraction of their squared distance, which keeps
# each centre at least a quarter of the way to its neighbour inside its own cell.
_WEIGHT_STEP = 0.5
_WEIGHT_SWEEPS = 200
# Pairs whose power bisector is computed exactly, in multiples of the typical spacing; farther ones
# are bounded (see power_weights).
_PAIR_RANGE = 2.2


def power_weights(centres: np.ndarray, radius: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Power weights that give each centre a cell of about its disc's area, with the centre inside.

    Parameters
    ----------
    centres
        ``(n, 2)`` the cells' centres (the power diagram's sites).
    radius
        ``(n,)`` radii of the discs they were packed as.
    spacing
        Typical distance between neighbouring centres (the range of exact pairs scales with it).

    Returns
    -------
    ``(weights, gap)``: ``(n,)`` weights (squared units of ``centres``; the least is 0) and
    ``(n,)`` a lower bound on each centre's distance from its power cell's edges.
    """
    # Weights gain × r², lowered where one would exceed a neighbour's by more than _WEIGHT_STEP × d²;
    # then every centre lies inside its own power cell, at a distance (the returned bound) from
    # every bisector. Pairs beyond the range are bounded through the largest weight difference.
    weights = _WEIGHT_GAIN * radius**2
    pair_range = _PAIR_RANGE * spacing
    pairs = cKDTree(centres).query_pairs(pair_range, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    d2 = np.sum((centres[i] - centres[j]) ** 2, axis=1)
    for _ in range(_WEIGHT_SWEEPS):
        i_big = weights[i] >= weights[j]
        big, small = np.where(i_big, i, j), np.where(i_big, j, i)
        allowed = weights[small] + _WEIGHT_STEP * d2
        too_big = weights[big] > allowed
        if not too_big.any():
            break
        ceiling = np.full(len(weights), np.inf)
        np.minimum.at(ceiling, big[too_big], allowed[too_big])
        weights = np.minimum(weights, ceiling)
    else:
        # Lowering one weight can push a smaller neighbour over its step in turn: if the cascade has
        # not settled, equal weights (a Voronoi diagram) are always valid.
        weights = np.zeros_like(weights)
    weights -= weights.min()
    # Far pairs (d ≥ range): the bisector is at least (range² − Δw) / (2 range) away.
    spread = float(weights.max())
    if spread > 0.8 * pair_range**2:
        weights *= 0.8 * pair_range**2 / spread
        spread = float(weights.max())
    gap = np.full(len(weights), (pair_range**2 - spread) / (2.0 * pair_range))
    lower_gap_bounds(centres, weights, i, j, gap)
    return weights, gap
