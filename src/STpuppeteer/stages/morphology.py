"""Stage 2c: nucleus shapes — star-convex polygons from a perturbed ellipse.

A nucleus is described by its radius at ``n_vertices`` equally spaced angles around its
centre. The radius of an ellipse (area A, axis ratio e, orientation ω) is multiplied by
``1 + Σ_m a_m cos(m φ + ψ_m)`` over harmonics m = 2 … ``n_harmonics`` (amplitudes ∝ 1/m,
total relative s.d. = ``roughness``, clipped to ±50 % so radii stay positive), then the
radii are rescaled so the polygon's area is exactly A. A polygon whose vertices are
positive radii at increasing angles is always simple and star-convex, hence valid.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely

from STpuppeteer.config.morphology import MAX_RELATIVE_PERTURBATION

if TYPE_CHECKING:
    from STpuppeteer.config.tissue import MorphologyConfig

__all__ = ["draw_nucleus_radii", "fit_radii", "star_area", "star_polygons"]


def _gamma(mean: np.ndarray, cv: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # One draw per cell whatever the CV, so CV = 0 does not shift later draws.
    shape = np.where(cv > 0, 1.0 / np.maximum(cv, 1e-12) ** 2, 1.0)
    draw = rng.gamma(shape, mean / shape)
    return np.where(cv > 0, draw, mean)


def draw_nucleus_radii(
    codes: np.ndarray,
    morphology: MorphologyConfig,
    rng: np.random.Generator,
    *,
    celltype_names: list[str],
    orientation: np.ndarray | None = None,
) -> np.ndarray:
    """Radii of star-convex nuclei at ``n_vertices`` equally spaced angles.

    Parameters
    ----------
    codes
        ``(n,)`` cell-type code of each cell (index into ``celltype_names``).
    morphology
        Area, elongation, roughness (with per-cell-type overrides) and vertex count.
    rng
        Source of randomness.
    celltype_names
        ``ct_0`` …
    orientation
        ``(n,)`` angle of each nucleus' long axis (radians), NaN for a uniform random one
        (the default for all); the draws are the same either way.

    Returns
    -------
    ``(n, n_vertices)`` radii in µm; vertex v lies at angle ``2π v / n_vertices``.

    Examples
    --------
    >>> from STpuppeteer.config import MorphologyConfig
    >>> codes, rng = np.zeros(5, dtype=int), np.random.default_rng(0)
    >>> radii = draw_nucleus_radii(codes, MorphologyConfig(), rng, celltype_names=["ct_0"])
    >>> radii.shape
    (5, 32)
    """
    params = np.array([morphology.shape_of(name) for name in celltype_names], dtype=float)
    area_mean, area_cv, elong_mean, roughness = params[codes].T
    n, n_vertices = len(codes), morphology.n_vertices
    area = _gamma(area_mean, area_cv, rng)
    elongation = 1.0 + _gamma(elong_mean - 1.0, np.full(n, morphology.elongation_cv), rng)
    drawn = rng.uniform(0.0, math.pi, n)
    # Spindle cells carry spindle nuclei along their axis (a little scatter keeps them natural).
    orientation = drawn if orientation is None else np.where(np.isnan(orientation), drawn, orientation)

    phi = np.linspace(0.0, 2.0 * math.pi, n_vertices, endpoint=False)
    semi_major = np.sqrt(area * elongation / math.pi)[:, None]
    semi_minor = np.sqrt(area / (elongation * math.pi))[:, None]
    rel = phi[None, :] - orientation[:, None]
    radii = semi_major * semi_minor / np.hypot(semi_minor * np.cos(rel), semi_major * np.sin(rel))

    modes = np.arange(2, morphology.n_harmonics + 1)
    weights = (1.0 / modes) / np.sqrt(np.sum(1.0 / modes**2))
    # A cosine of random phase has variance a²/2, hence the √2.
    amplitude = math.sqrt(2.0) * roughness[:, None] * weights[None, :] * rng.standard_normal((n, len(modes)))
    phase = rng.uniform(0.0, 2.0 * math.pi, (n, len(modes)))
    perturbation = np.zeros_like(radii)
    for j, m in enumerate(modes):
        perturbation += amplitude[:, j, None] * np.cos(m * phi[None, :] + phase[:, j, None])
    np.clip(perturbation, -MAX_RELATIVE_PERTURBATION, MAX_RELATIVE_PERTURBATION, out=perturbation)
    radii *= 1.0 + perturbation
    radii *= np.sqrt(area / star_area(radii))[:, None]
    return radii


def star_area(radii: np.ndarray) -> np.ndarray:
    """Area of star polygons given by radii at equally spaced angles (shoelace in polar form).

    Parameters
    ----------
    radii
        ``(n, n_vertices)`` radii.

    Returns
    -------
    ``(n,)`` areas.
    """
    n_vertices = radii.shape[1]
    return 0.5 * math.sin(2.0 * math.pi / n_vertices) * np.sum(radii * np.roll(radii, -1, axis=1), axis=1)


def fit_radii(radii: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Shrink (uniformly) each star whose largest radius exceeds its limit.

    Parameters
    ----------
    radii
        ``(n, n_vertices)`` radii.
    limit
        ``(n,)`` largest radius allowed for each star.

    Returns
    -------
    New radii, every row's maximum ≤ its limit; rows already within it are unchanged.
    """
    factor = np.minimum(1.0, limit / radii.max(axis=1))
    return radii * factor[:, None]


def star_polygons(centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Shapely polygons of star shapes around centres.

    Parameters
    ----------
    centres
        ``(n, 2)`` centres, µm.
    radii
        ``(n, n_vertices)`` radii at angles ``2π v / n_vertices``.

    Returns
    -------
    ``(n,)`` object array of valid, counter-clockwise :class:`shapely.Polygon`.
    """
    n, n_vertices = radii.shape
    phi = np.linspace(0.0, 2.0 * math.pi, n_vertices, endpoint=False)
    coords = np.empty((n, n_vertices + 1, 2))
    coords[:, :-1, 0] = centres[:, 0, None] + radii * np.cos(phi)
    coords[:, :-1, 1] = centres[:, 1, None] + radii * np.sin(phi)
    coords[:, -1] = coords[:, 0]
    offsets = (np.arange(n + 1) * (n_vertices + 1), np.arange(n + 1))
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords.reshape(-1, 2), offsets)
