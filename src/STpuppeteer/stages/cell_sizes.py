"""Stage 2b′: what each confluent cell should be — its target area, elongation and direction.

Areas are log-normal per type (mean and CV of its ``celltype_shapes`` or the global ones),
clipped to [0.2, 4] × the type's mean so no single cell dominates the packing, then scaled
together so they sum to the tissue's area: confluent cells fill it, so the per-type means
set the ratios and the density sets the scale. Directions come from one smooth field: the
angle of a nematic director θ = ½ atan2(g₂, g₁) of two Gaussian random fields of correlation
length ``orientation_length_um``, so neighbouring spindle cells lie nearly parallel and the
direction turns over a few hundred µm, as fibre bundles and smooth-muscle layers do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from STpuppeteer.stages.spatial_pattern import gaussian_fields

if TYPE_CHECKING:
    import shapely

    from STpuppeteer.config.tissue import MorphologyConfig

__all__ = ["CellTargets", "cell_targets", "orientation_field"]

# Clip of a cell's area draw, in multiples of its type's mean.
_AREA_CLIP = (0.2, 4.0)


@dataclass(frozen=True)
class CellTargets:
    """Per cell: target area (µm²), length over width, and long-axis angle (radians)."""

    area: np.ndarray
    aspect: np.ndarray
    theta: np.ndarray


def orientation_field(
    xy: np.ndarray, region: shapely.Polygon, rng: np.random.Generator, *, length_um: float
) -> np.ndarray:
    """Angle (radians, in (−π/2, π/2]) of a smooth random director field at the points.

    Parameters
    ----------
    xy
        ``(n, 2)`` points, µm.
    region
        The tissue polygon (its bounds lay out the field's grid).
    rng
        Source of randomness.
    length_um
        Correlation length of the two underlying fields.

    Returns
    -------
    ``(n,)`` angles. The field depends on ``rng``'s stream and the region's bounds only, so a fresh
    generator of the same stream gives the same field at other points (:mod:`.cell_stretch` reads it
    on a grid).
    """
    if len(xy) == 0:
        return np.empty(0)
    g = gaussian_fields(xy, region.bounds, rng, length_um=length_um, n_fields=2)
    return 0.5 * np.arctan2(g[:, 1], g[:, 0])


def cell_targets(
    codes: np.ndarray,
    xy: np.ndarray,
    region: shapely.Polygon,
    morphology: MorphologyConfig,
    *,
    celltype_names: list[str],
    area_rng: np.random.Generator,
    orientation_rng: np.random.Generator,
) -> CellTargets:
    """Target area, elongation and direction of every cell.

    Parameters
    ----------
    codes
        ``(n,)`` cell-type codes.
    xy
        ``(n, 2)`` centres.
    region
        The tissue polygon (its area is what the cells fill).
    morphology
        Cell area means and CVs, elongations (``cell_shape_of``), ``orientation_length_um``.
    celltype_names
        The types' names.
    area_rng, orientation_rng
        The streams of the areas and of the orientation field.

    Returns
    -------
    The targets; ``area`` sums to ``region.area``.
    """
    n = len(codes)
    per_cell = region.area / max(n, 1)
    params = np.array([morphology.cell_shape_of(name, area_per_cell_um2=per_cell) for name in celltype_names])
    mean, cv, aspect = params[codes].T if n else (np.empty(0),) * 3
    sigma2 = np.log1p(cv * cv)
    draw = mean * np.exp(area_rng.standard_normal(n) * np.sqrt(sigma2) - 0.5 * sigma2)
    draw = np.clip(draw, _AREA_CLIP[0] * mean, _AREA_CLIP[1] * mean)
    area = draw * (region.area / draw.sum()) if n else draw
    theta = orientation_field(xy, region, orientation_rng, length_um=morphology.orientation_length_um)
    return CellTargets(area=area, aspect=np.asarray(aspect, dtype=float), theta=theta)
