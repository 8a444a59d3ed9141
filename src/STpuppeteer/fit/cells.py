"""Cells: how many of each type, how densely packed, how large their nuclei and cells are.

Estimators, and why:

- **Proportions**: the fraction of cells of each type (the multinomial maximum likelihood).
- **Density** = cells / area. The area is the reader's ``region_area_um2`` when it has one.
  Otherwise the convex hull H of the centroids, which misses the strip between the outermost
  cells and the tissue's edge: an outermost cell holds area up to about half a spacing
  w = ½/√ρ beyond its centroid, so the region is the hull grown by w (Steiner's formula for a
  convex set, H + P w + π w², P the hull's perimeter), ρ solved by fixed point. On simulated
  rectangles of 300 to 5,000 cells the hull alone overestimates the density by 14 % to 2.5 %,
  the grown hull is within 1.6 % to 0.4 %. The standard error is the count's Poisson error and,
  for the grown hull, half the growth (the strip's width is known to about that: between the
  simulator's hard-core margin, 0.38/√ρ, and a square lattice's 0.5/√ρ). A non-convex tissue's
  hull is larger than the tissue and its density comes out low; ``cell_cover_fraction`` (cell
  area over region area) then looks low too.
- **Hard-core distance** (``tissue.min_distance_ratio``): the 1st percentile of the nucleus
  centroids' nearest-neighbour distances (the cells' without nucleus polygons) over the
  hexagonal spacing at the density; the simulator's nucleus centres never come closer than the
  ratio times that spacing and pile up just above it. Calibrated with the nuclei below.
- **Nucleus area**: mean and coefficient of variation; per type (``morphology.celltype_shapes``)
  when some type's mean differs from the overall mean by more than Φ⁻¹(1 − 0.025/T) standard
  errors (Bonferroni over the T types).
- **Calibration by simulation** (:mod:`STpuppeteer.fit.tissue_calibration`, ``n_calibration_cells``
  cells a simulation, stream ``Block.FIT_CELLS`` of ``Stage.FIT``): the nucleus (mean, CV) and the
  hard-core ratio whose simulated tissue measures as the data (the simulator shrinks nuclei that
  do not fit), then ``morphology.max_expansion_um`` whose simulated interior mean cell area is the
  data's. The expansion's standard error adds the nucleus mean's error passed on (a disc's ring:
  δA / (2√(πA))); the density's and the ratio's errors are left out. Where the data's cells fill
  their Voronoi cells the expansion is only a lower bound: no error is given and ``missing`` says
  why. Elongation and roughness are not estimated; the calibration uses the config's defaults.
- **Confluent tissue**: when the cells cover at least :data:`CONFLUENT_COVER_FRACTION` of the
  region, the fit writes the confluent model (``morphology.cell_model="confluent"``): per-type
  mean cell areas and one CV calibrated on confluent simulations first
  (:meth:`~STpuppeteer.fit.tissue_calibration.TissueCalibration.fit_cell_areas`), then the nuclei
  and the hard-core ratio on them (the ratio from a simulated curve; at its plateau a lower
  bound). ``morphology.max_expansion_um`` is then missing. docs/fitting.md gives the figures.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from scipy import stats

from STpuppeteer._random import Block, Stage, block_rng, stage_rng
from STpuppeteer.config.tissue import MorphologyConfig
from STpuppeteer.fit.estimates import Estimates
from STpuppeteer.fit.tissue_calibration import (
    RATIO_RANGE,
    TissueCalibration,
    interior_cells,
    mean_cv,
    nn_ratio,
    nn_ratio_se,
)

if TYPE_CHECKING:
    from STpuppeteer.fit.reference import Reference

__all__ = ["CONFLUENT_COVER_FRACTION", "estimate_cells", "grown_hull_area"]

_DEFAULT_RATIO = 0.7
#: Cells covering at least this share of the region look confluent (the expanded model's default
#: covers about 65 %, the confluent model's 99.9 %).
CONFLUENT_COVER_FRACTION = 0.9


def estimate_cells(
    reference: Reference,
    codes: np.ndarray,
    celltypes: list[str],
    *,
    n_calibration_cells: int = 1500,
    seed: int = 0,
) -> Estimates:
    """Tissue and morphology fields from the cells' types, centroids and areas.

    Parameters
    ----------
    reference
        The dataset (its ``cells``: ``celltype``, ``x``, ``y``, ``nucleus_area``, ``cell_area``).
    codes
        Each cell's type code, an index into ``celltypes`` (all 0 without types).
    celltypes
        The type names.
    n_calibration_cells
        Cells of each calibration simulation.
    seed
        Seed of the calibration's stream (the same seed gives the same estimates).

    Returns
    -------
    ``n_cells``, ``tissue.proportions``, ``tissue.density_per_mm2``, ``tissue.min_distance_ratio``,
    ``morphology.nucleus_area_mean_um2``, ``morphology.nucleus_area_cv``,
    ``morphology.celltype_shapes`` and ``morphology.max_expansion_um``, as far as the cells carry
    them (the module docstring gives the estimators).
    """
    codes = np.asarray(codes, dtype=np.intp)
    cells, n = reference.cells, reference.n_cells
    out = Estimates(fields={"n_cells": n}, measured={"n_cells": float(n)})
    counts = np.bincount(codes, minlength=len(celltypes))
    proportions = counts / n
    if reference.celltypes is None:
        out.missing["tissue.proportions"] = "the data has no cell types"
    else:
        out.fields["tissue.proportions"] = [float(p) for p in proportions]
    for key in ("tissue.aspect_ratio", "tissue.mask_um"):
        out.missing[key] = "the region's shape is not estimated (a rectangle of the fitted area is assumed)"
    for key in ("morphology.elongation_mean", "morphology.elongation_cv", "morphology.roughness"):
        out.missing[key] = "nucleus shapes are not estimated (the calibration assumes the config's default)"
    xy = _finite_xy(cells)
    density = _density(xy, n, reference.region_area_um2, out)
    nucleus, has_nucleus = _nucleus_areas(cells, out)
    cell_area = _column(cells, "cell_area")
    if cell_area is not None:
        _area_summary(cell_area, nucleus, out, region_area=out.measured.get("region_area_um2"),
                      has_nucleus=has_nucleus)
    if nucleus is None:
        for key in ("morphology.nucleus_area_mean_um2", "morphology.nucleus_area_cv", "morphology.max_expansion_um"):
            out.missing[key] = "the cells have no nucleus areas"
        return out
    out.measured.update({"nucleus_area_mean_um2": float(nucleus.mean()),
                         "nucleus_area_cv": float(nucleus.std() / nucleus.mean())})
    nucleus_codes = codes[has_nucleus]
    per_type = reference.celltypes is not None and _types_differ(nucleus, nucleus_codes, len(celltypes), out)
    groups = nucleus_codes if per_type else np.zeros(len(nucleus), dtype=np.intp)
    target = mean_cv(nucleus, groups, len(celltypes) if per_type else 1)
    if density is None:
        out.fields["morphology.nucleus_area_mean_um2"] = float(nucleus.mean())
        out.fields["morphology.nucleus_area_cv"] = float(nucleus.std() / nucleus.mean())
        for key in ("morphology.max_expansion_um", "tissue.min_distance_ratio"):
            out.missing[key] = "no density: the calibration needs the cells' positions or the region's area"
        return out
    spacing = 1e3 / math.sqrt(density)
    ratio = _DEFAULT_RATIO  # the config's, when there are no positions
    points, of_nuclei = _hardcore_points(reference, xy)
    if points is None:
        out.missing["tissue.min_distance_ratio"] = "no cell positions"
    else:
        ratio = float(np.clip(nn_ratio(points, density), *RATIO_RANGE))
        out.measured["nn_distance_q01_over_hex_spacing"] = ratio
    started = time.perf_counter()
    cal = TissueCalibration(n_cells=n_calibration_cells, density=density, proportions=proportions,
                            per_type=per_type, rng=block_rng(stage_rng(seed, Stage.FIT), Block.FIT_CELLS))
    # Cell centroids move with the cell's extent: simulate them at a first guess of the expansion
    # (the ring that takes a disc of the mean nucleus area to the mean cell area).
    guess = (math.sqrt(cell_area.mean() / math.pi) - math.sqrt(nucleus.mean() / math.pi)
             if cell_area is not None else MorphologyConfig().max_expansion_um)
    confluent = cell_area is not None and out.measured.get("cell_cover_fraction", 0.0) >= CONFLUENT_COVER_FRACTION
    if confluent:
        # Cell sizes first: the hard-core and nucleus calibrations then simulate the confluent model,
        # which packs the centres by those sizes.
        inside = interior_cells(xy, spacing)
        cell_mean, cell_cv = mean_cv(cell_area[inside], codes[inside], len(celltypes))
        cal.fit_cell_areas(target, ratio, cell_mean, float(np.nansum(proportions * cell_cv)))
    params, ratio = cal.fit_nuclei(target, ratio, of_nuclei=of_nuclei, expansion=float(np.clip(guess, 0, spacing)))
    if points is not None:
        out.fields["tissue.min_distance_ratio"] = ratio
        # The data's quantile and the calibration's, each a quantile of its own cells, through the
        # curve's slope (1 for the expanded model, whose closest pairs are the ratio's).
        if cal.ratio_plateau is None:
            out.measured["min_distance_ratio_se"] = (
                nn_ratio_se(points, density) * math.sqrt(1 + n / n_calibration_cells) / cal.ratio_slope)
        else:
            out.missing["min_distance_ratio_se"] = (
                f"confluent cells: the closest centres ({out.measured['nn_distance_q01_over_hex_spacing']:.3f} "
                f"spacings) reach the packing's plateau ({cal.ratio_plateau:.3f}), which any ratio from "
                f"{ratio:.3g} on gives, so the fitted value is a lower bound")
    mean, cv = cal.overall_nucleus(params)
    (ref_mean, ref_cv), (sim_mean, sim_cv) = _relative_se(nucleus), _relative_se(cal.last_nuclei)
    out.fields.update({"morphology.nucleus_area_mean_um2": mean, "morphology.nucleus_area_cv": cv})
    out.measured.update({"nucleus_area_mean_um2_se": mean * math.hypot(ref_mean, sim_mean) / cal.slopes[0],
                         "nucleus_area_cv_se": cv * math.hypot(ref_cv, sim_cv) / cal.slopes[1]})
    if per_type:
        out.fields["morphology.celltype_shapes"] = {
            name: {"nucleus_area_mean_um2": float(m), "nucleus_area_cv": float(c)}
            for name, m, c, k in zip(celltypes, *params, counts, strict=True) if k > 0
        }
        # A type's mean: its cells' sampling error and the calibration's, through the overall's slope.
        n_sim = np.maximum(proportions * n_calibration_cells, 1)
        counts = np.bincount(nucleus_codes, minlength=len(celltypes))
        for t, name in enumerate(celltypes):
            if counts[t] > 1:
                se = params[0][t] * target[1][t] * math.sqrt(1 / counts[t] + 1 / n_sim[t]) / cal.slopes[0]
                out.measured[f"nucleus_area_mean_um2_se_{name}"] = float(se)
    if cell_area is None:
        out.missing["morphology.max_expansion_um"] = "the cells have no areas"
    elif confluent:
        _confluent_fields(cal, cell_area[inside], codes[inside], celltypes, n_calibration_cells, out)
    else:
        a = cell_area[interior_cells(xy, spacing)]
        expansion, se = cal.fit_expansion(params, ratio, a.mean(), a.std() / math.sqrt(len(a)), spacing, out)
        # A nucleus too large by δ needs an expansion smaller by δ / (2√(π A)) for the same cell (a disc's
        # ring): the nucleus mean's error passes on to the expansion.
        out.fields["morphology.max_expansion_um"] = expansion
        # The expansion is calibrated on the expanded cell model; the fitted config must use it too.
        out.fields["morphology.cell_model"] = "expanded"
        out.measured["cell_area_interior_mean_um2"] = float(a.mean())
        if math.isfinite(se):  # else a lower bound, and out.missing says why (never a NaN error)
            se = math.hypot(se, out.measured["nucleus_area_mean_um2_se"] / (2 * math.sqrt(math.pi * mean)))
            out.measured["max_expansion_um_se"] = se
    out.measured["calibration_seconds"] = time.perf_counter() - started
    return out


def _confluent_fields(cal: TissueCalibration, cell_area: np.ndarray, codes: np.ndarray, celltypes: list[str],
                      n_calibration_cells: int, out: Estimates) -> None:
    """The confluent model's fields: per-type cell area (mean, CV) as calibrated, with their errors.

    ``cell_area`` and ``codes`` are the interior cells'. A type's mean has its cells' sampling
    error and the calibration's (as the nuclei's); a CV its cells' (delta method).
    """
    assert cal.cell_params is not None
    mean, cv = cal.cell_params
    counts = np.bincount(codes, minlength=len(celltypes))
    n_sim = np.maximum(cal.proportions * n_calibration_cells, 1)
    out.fields["morphology.cell_model"] = "confluent"
    out.fields["morphology.cell_area_cv"] = float(cv[0])
    # The data's CV (delta method over every interior cell) and the calibration's, through the slope.
    rel_cv = _relative_se(cell_area)[1] * math.sqrt(1 + len(cell_area) / n_calibration_cells)
    out.measured["cell_area_cv_se"] = float(cv[0] * rel_cv / cal.cell_cv_slope)
    out.missing["morphology.max_expansion_um"] = (
        f"the cells cover {out.measured['cell_cover_fraction']:.0%} of the region: the fit writes the confluent "
        "cell model, which does not use it")
    out.notes.append(f"cells cover {out.measured['cell_cover_fraction']:.0%} of the region: confluent; the fit "
                     "calibrates and writes the confluent cell model with per-type cell areas")
    shapes = out.fields.setdefault("morphology.celltype_shapes", {}) if len(celltypes) > 1 else {}
    for t, name in enumerate(celltypes):
        if counts[t] < 2:
            continue
        rel_mean = _relative_se(cell_area[codes == t])[0]
        out.measured[f"cell_area_mean_um2_se_{name}"] = float(mean[t] * rel_mean * math.sqrt(1 + counts[t] / n_sim[t]))
        if len(celltypes) > 1:
            shapes.setdefault(name, {})["cell_area_mean_um2"] = float(mean[t])


def _relative_se(values: np.ndarray) -> tuple[float, float]:
    """Relative standard errors of the sample mean and of the sample coefficient of variation (delta method)."""
    n, m = len(values), float(values.mean())
    d = values - m
    v, mu3, mu4 = float(np.mean(d**2)), float(np.mean(d**3)), float(np.mean(d**4))
    var_cv = ((mu4 - v * v) / (4 * v * m * m) + v * v / m**4 - mu3 / m**3) / n
    return math.sqrt(v / n) / m, math.sqrt(max(var_cv, 0.0)) / (math.sqrt(v) / m)


def _column(cells: Any, name: str) -> np.ndarray | None:
    if name not in cells.columns:
        return None
    values = cells[name].to_numpy(float)
    return values if np.all(np.isfinite(values) & (values > 0)) else None


def _nucleus_areas(cells: Any, out: Estimates) -> tuple[np.ndarray | None, np.ndarray]:
    """The nucleus areas of the cells that have one, and which cells those are.

    A cell without a nucleus polygon (cut at a section's edge, a failed nucleus segmentation)
    does not say the nuclei are smaller: the statistics use the cells with one, if they are at
    least half (fewer: too few to stand for the rest, and the nucleus fields are missing).
    """
    if "nucleus_area" not in cells.columns:
        return None, np.zeros(len(cells), dtype=bool)
    values = cells["nucleus_area"].to_numpy(float)
    has = np.isfinite(values) & (values > 0)
    if has.mean() < 0.5:
        return None, has
    if not has.all():
        out.notes.append(f"nucleus sizes from the {int(has.sum())} of {len(has)} cells that have a nucleus")
    return values[has], has


def _finite_xy(cells: Any) -> np.ndarray | None:
    if not {"x", "y"} <= set(cells.columns):
        return None
    xy = cells[["x", "y"]].to_numpy(float)
    return xy if np.all(np.isfinite(xy)) and len(xy) >= 3 else None


def grown_hull_area(xy: np.ndarray) -> tuple[float, float]:
    """Area of the region holding cells at centroids ``xy``: their hull grown by half a spacing (µm²).

    Returns the area and the hull's own area (see the module docstring).

    Examples
    --------
    >>> grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), axis=-1).reshape(-1, 2)
    >>> round(grown_hull_area(grid)[0], 1), grown_hull_area(grid)[1]
    (99.8, 81.0)
    """
    hull = shapely.convex_hull(shapely.multipoints(xy))
    h, p, n = float(hull.area), float(hull.length), len(xy)
    rho = n / h
    for _ in range(50):  # fixed point of ρ = n / (H + P w + π w²), w = ½/√ρ; converges in a few steps
        w = 0.5 / math.sqrt(rho)
        rho = n / (h + p * w + math.pi * w * w)
    return n / rho, h


def _density(xy: np.ndarray | None, n: int, region_area: float | None, out: Estimates) -> float | None:
    """Cells per mm² (see the module docstring); ``None`` without an area to divide by."""
    if region_area is None and xy is None:
        out.missing["tissue.density_per_mm2"] = "neither a region area nor cell positions"
        return None
    if region_area is not None:
        area, source, strip = float(region_area), "region_area_um2", 0.0
    else:
        area, hull = grown_hull_area(xy)
        source, strip = "hull of centroids grown by half a spacing", area - hull
        out.measured["hull_area_um2"] = hull
    density = n / area * 1e6
    se = density * math.hypot(1 / math.sqrt(n), 0.5 * strip / area)
    out.fields["tissue.density_per_mm2"] = density
    out.measured.update({"region_area_um2": area, "density_per_mm2_se": se})
    out.notes.append(f"density: {n} cells over {area:.4g} µm², the {source}")
    return density


def _area_summary(cell_area: np.ndarray, nucleus: np.ndarray | None, out: Estimates, *,
                  region_area: float | None, has_nucleus: np.ndarray) -> None:
    q10, q50, q90 = np.quantile(cell_area, [0.1, 0.5, 0.9])
    out.measured.update({
        "cell_area_mean_um2": float(cell_area.mean()), "cell_area_median_um2": float(q50),
        "cell_area_cv": float(cell_area.std() / cell_area.mean()),
        "cell_area_q10_um2": float(q10), "cell_area_q90_um2": float(q90),
    })
    if region_area is not None:
        out.measured["cell_cover_fraction"] = float(cell_area.sum() / region_area)
    if nucleus is not None:
        with_nucleus = cell_area[has_nucleus]
        out.measured["nucleus_to_cell_area_mean"] = float(np.mean(nucleus / with_nucleus))
        out.measured["nucleus_to_cell_area_pooled"] = float(nucleus.sum() / with_nucleus.sum())


def _types_differ(nucleus: np.ndarray, codes: np.ndarray, n_types: int, out: Estimates) -> bool:
    """Whether some type's mean nucleus area differs from the overall one (Bonferroni z-test)."""
    n = np.bincount(codes, minlength=n_types)
    mean, cv = mean_cv(nucleus, codes, n_types)
    ok = n > 1
    z = np.abs(mean[ok] - nucleus.mean()) / (cv[ok] * mean[ok] / np.sqrt(n[ok]))
    z_crit = stats.norm.isf(0.025 / max(int(ok.sum()), 1))
    out.measured["nucleus_area_type_max_z"] = float(np.max(z, initial=0.0))
    return bool(ok.sum() > 1 and np.any(z > z_crit))


def _hardcore_points(reference: Reference, xy: np.ndarray | None) -> tuple[np.ndarray | None, bool]:
    """Nucleus centroids when every cell has a nucleus polygon, else the cell centroids; and which."""
    polygons = reference.nucleus_polygons
    if polygons is not None and not np.any(shapely.is_missing(polygons) | shapely.is_empty(polygons)):
        return shapely.get_coordinates(shapely.centroid(polygons)), True
    return xy, False
