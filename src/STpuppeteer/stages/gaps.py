"""Stage 2a‴: gaps in the tissue — lumens, vessels and tears cut out of the region as holes.

``tissue.gap_fraction`` of the tissue's area is taken by holes of mean radius
``gap_radius_um`` (each log-normal with CV 0.4), with gently wavy outlines (harmonics 2–4 of
relative s.d. 0.1), centred uniformly in the tissue. Overlapping holes merge, so the cut area
is a little below the nominal fraction; a hole that splits the tissue leaves its largest piece.
A tissue smaller than two holes of the mean size (a dozen cells at the defaults) keeps no gap:
one hole would take most of it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely

from STpuppeteer.stages.positions import uniform_points

if TYPE_CHECKING:
    from STpuppeteer.config.tissue import TissueConfig

__all__ = ["carve_gaps"]

_RADIUS_CV = 0.4
_WAVINESS = 0.1
_N_VERTICES = 48


def carve_gaps(region: shapely.Polygon, tissue: TissueConfig, rng: np.random.Generator) -> shapely.Polygon:
    """The region with its gaps cut out.

    Parameters
    ----------
    region
        The tissue polygon.
    tissue
        ``gap_fraction`` and ``gap_radius_um``.
    rng
        Source of randomness.

    Returns
    -------
    A valid polygon (the region itself when ``gap_fraction`` is 0, or when the region is smaller
    than two holes of the mean size).
    """
    if tissue.gap_fraction <= 0:
        return region
    mean_radius = tissue.gap_radius_um
    sigma2 = math.log1p(_RADIUS_CV**2)
    # E[r²] of the log-normal radius: the hole count that cuts the nominal fraction (before merging).
    mean_area = math.pi * mean_radius**2 * math.exp(sigma2)
    if region.area < 2.0 * mean_area:
        # At least one hole is cut whatever the fraction: in a tissue this small it would take most of it
        # (or all, leaving nothing to place cells in).
        return region
    n_holes = max(1, round(tissue.gap_fraction * region.area / mean_area))
    centres = uniform_points(region, n_holes, rng)
    radius = mean_radius * np.exp(rng.standard_normal(n_holes) * math.sqrt(sigma2) - 0.5 * sigma2)
    phi = np.linspace(0.0, 2.0 * math.pi, _N_VERTICES, endpoint=False)
    modes = np.arange(2, 5)
    amplitude = _WAVINESS * math.sqrt(2.0 / len(modes)) * rng.standard_normal((n_holes, len(modes)))
    phase = rng.uniform(0.0, 2.0 * math.pi, (n_holes, len(modes)))
    wave = np.einsum("hm,hmv->hv", amplitude, np.cos(modes[None, :, None] * phi[None, None, :] + phase[:, :, None]))
    r = radius[:, None] * np.clip(1.0 + wave, 0.5, 1.5)
    coords = np.stack([centres[:, 0, None] + r * np.cos(phi), centres[:, 1, None] + r * np.sin(phi)], axis=-1)
    holes = shapely.polygons(coords)
    carved = shapely.difference(region, shapely.union_all(holes))
    if not isinstance(carved, shapely.Polygon):
        parts = shapely.get_parts(carved)
        carved = parts[np.argmax(shapely.area(parts))]
    return shapely.make_valid(carved) if not carved.is_valid else carved
