"""Optics: which true molecules the instrument cannot resolve (merged or lost), and the model's expectation.

Two molecules of one gene closer than the minimum resolvable distance (an ellipsoid: ``d`` in
x, y and ``d_z`` in z) make one spot. Which spot is found follows non-maximum suppression as
spot callers do it: every molecule gets a random brightness, and a molecule is detected only
if no molecule of its group inside its ellipsoid is brighter. That is Matérn's type-II
thinning, whose retention for a Poisson pattern is known in closed form
(:func:`expected_resolved_fraction`), so the model can be tested against it. An unresolved
molecule belongs to the detection at the end of its chain of brighter neighbours (brightness
falls along the chain, so the chain ends at a detected molecule); with probability
``merge_fraction`` it is *merged* (the detection sits at the mean position of itself and its
merged molecules), otherwise *lost* (the detection keeps its own position).

Groups are (source cell, gene): merging is decided per source cell, a pure function of the
cell's molecules and its block's keyed generator, so it is the same on any thread, worker or
split of the work. What this leaves out (molecules of one gene from two different cells,
e.g. a leaked molecule next to a neighbour's) is bounded in ``docs/model_instrument.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from STpuppeteer.geometry.close_pairs import close_pairs_by_group

__all__ = ["DETECTED", "LOST", "MERGED", "Resolution", "expected_resolved_fraction", "resolve_molecules"]

#: Status codes of :attr:`Resolution.status`.
DETECTED, MERGED, LOST = 0, 1, 2


@dataclass(frozen=True)
class Resolution:
    """What the optics made of some true molecules.

    Attributes
    ----------
    status
        Per input molecule: :data:`DETECTED`, :data:`MERGED` or :data:`LOST`.
    detection
        Per input molecule, the index (into the input) of the detection it belongs to (itself
        when detected).
    keep
        Indices of the detected molecules, ascending.
    x, y, z
        Position of each detection (``keep`` order): the mean of the true positions of the
        molecule and the molecules merged into it.
    merged, lost
        Per detection, how many other true molecules were merged into it or lost to it (int32).
    """

    status: np.ndarray
    detection: np.ndarray
    keep: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    merged: np.ndarray
    lost: np.ndarray


def expected_resolved_fraction(density_per_um3: float, *, min_distance_um: float, min_distance_z_um: float) -> float:
    """Share of a Poisson pattern's molecules that are detected (Matérn type-II retention).

    With ``λ`` molecules of one group per µm³ and the exclusion ellipsoid's volume
    ``V = 4/3 π d² d_z``, a molecule away from the pattern's edges is detected with
    probability ``(1 − exp(−λV)) / (λV)``: it must be the brightest of the ``1 + Poisson(λV)``
    molecules in its ellipsoid.

    Parameters
    ----------
    density_per_um3
        Molecules of one group (source cell and gene) per µm³.
    min_distance_um, min_distance_z_um
        The ellipsoid's semi-axes in x, y and in z.

    Returns
    -------
    The expected detected fraction; the rest are merged or lost.

    Examples
    --------
    >>> round(expected_resolved_fraction(0.0, min_distance_um=0.3, min_distance_z_um=0.6), 6)
    1.0
    >>> round(expected_resolved_fraction(1.0, min_distance_um=0.5, min_distance_z_um=1.0), 4)
    0.6198
    """
    mean = float(density_per_um3) * 4.0 / 3.0 * np.pi * min_distance_um**2 * min_distance_z_um
    return 1.0 if mean <= 0 else float(-np.expm1(-mean) / mean)


def resolve_molecules(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    group: np.ndarray,
    rng: np.random.Generator,
    *,
    min_distance_um: float,
    min_distance_z_um: float,
    merge_fraction: float,
) -> Resolution:
    """Merge or lose the molecules of one group that lie within the minimum resolvable distance.

    Parameters
    ----------
    x, y, z
        True positions, µm.
    group
        Integer group of each molecule (e.g. source cell × gene): only molecules of one group
        can merge.
    rng
        Generator: one brightness per molecule, then one uniform per molecule (merged or lost).
    min_distance_um, min_distance_z_um
        Semi-axes of the exclusion ellipsoid in x, y and in z, µm (> 0).
    merge_fraction
        Probability that an unresolved molecule is merged rather than lost.

    Returns
    -------
    The :class:`Resolution`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> res = resolve_molecules(np.array([0.0, 0.1, 5.0]), np.zeros(3), np.zeros(3), np.zeros(3, int), rng,
    ...                         min_distance_um=0.5, min_distance_z_um=1.0, merge_fraction=1.0)
    >>> len(res.keep), int(res.merged.sum()), bool(res.status[2] == DETECTED)
    (2, 1, True)
    """
    n = len(x)
    brightness = rng.random(n)
    merge_draw = rng.random(n)
    status = np.zeros(n, dtype=np.int8)
    detection = np.arange(n, dtype=np.int64)
    if n > 1:
        pairs = _close_pairs(x, y, z, group, d=min_distance_um, d_z=min_distance_z_um)
        if len(pairs):
            # Both directions: (dimmer, brighter). A dimmer molecule is unresolved; its parent is
            # its brightest neighbour, which is brighter still, so following parents ends at a
            # molecule with no brighter neighbour: a detection.
            a = np.concatenate([pairs[:, 0], pairs[:, 1]])
            b = np.concatenate([pairs[:, 1], pairs[:, 0]])
            dim = brightness[a] < brightness[b]
            a, b = a[dim], b[dim]
            order = np.lexsort((-brightness[b], a))
            a, b = a[order], b[order]
            first = np.r_[True, a[1:] != a[:-1]]
            parent = np.arange(n, dtype=np.int64)
            parent[a[first]] = b[first]
            # Pointer jumping: the chains are short, and halve in length each round.
            while True:
                grand = parent[parent]
                if np.array_equal(grand, parent):
                    break
                parent = grand
            detection = parent
            unresolved = detection != np.arange(n)
            status[unresolved] = np.where(merge_draw[unresolved] < merge_fraction, MERGED, LOST)
    keep = np.flatnonzero(status == DETECTED)
    merged_mask = status == MERGED
    merged = np.bincount(detection[merged_mask], minlength=n)[keep].astype(np.int32)
    lost = np.bincount(detection[status == LOST], minlength=n)[keep].astype(np.int32)
    # Positions: each detection's own plus its merged molecules', averaged. Only the few
    # detections with merged molecules move; their sums run over the same molecules in the same
    # (ascending) order as a sum over all would, and the others come out as 0.0 + their own
    # coordinate, as such a sum gives them, so every bit is as before.
    positions = [np.asarray(coord, dtype=np.float64)[keep] for coord in (x, y, z)]
    if merged_mask.any():
        slot = np.full(n, -1, dtype=np.int64)
        moved = keep[merged > 0]
        slot[moved] = np.arange(len(moved))
        members = np.flatnonzero(merged_mask | (slot >= 0))
        bins = slot[detection[members]]
        weight = np.bincount(bins, minlength=len(moved)).astype(np.float64)
        for coord, pos in zip((x, y, z), positions, strict=True):
            pos += 0.0
            total = np.bincount(bins, weights=np.asarray(coord, dtype=np.float64)[members], minlength=len(moved))
            pos[merged > 0] = total / weight
    return Resolution(
        status=status,
        detection=detection,
        keep=keep,
        x=positions[0],
        y=positions[1],
        z=positions[2],
        merged=merged,
        lost=lost,
    )


def _close_pairs(x: np.ndarray, y: np.ndarray, z: np.ndarray, group: np.ndarray, *, d: float, d_z: float) -> np.ndarray:
    """Pairs of one group within the ellipsoid (semi-axes d, d, d_z) of each other."""
    # z scaled so the ellipsoid is a ball of radius d; the pairs' order never matters (parents
    # are chosen by brightness).
    z_scaled = np.asarray(z, dtype=np.float64) * (d / d_z)
    return close_pairs_by_group(x, y, z_scaled, group, radius=d)
