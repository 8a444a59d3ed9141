"""Calibration of the tissue stage by simulation: the nucleus, hard-core and cell-size knobs.

The simulator shrinks nuclei that do not fit between their neighbours (docs/model_tissue.md §3)
and makes a cell its Voronoi cell ∩ its nucleus grown by ``max_expansion_um`` (§4); neither has a
closed form. :class:`TissueCalibration` simulates the tissue stage (``n_cells`` cells at a fitted
density and proportions, all from one fixed generator: the stage draws only keyed children of it,
so every simulation sees the same random numbers) and finds the knobs whose simulation measures as
the data:

- :meth:`~TissueCalibration.fit_nuclei`: the hard-core ratio, then fixed-point steps on the
  nucleus (mean, CV) per group: simulate, multiply by measured / simulated;
- :meth:`~TissueCalibration.fit_expansion`: simulate on a grid of expansions from 0 to one spacing
  (:data:`EXPANSION_GRID`); with common random numbers the mean cell area rises monotonically with
  the expansion, and the data's mean is interpolated on it. Means are over interior cells
  (:func:`interior_cells`), in the data and the simulation alike, since the tissue's edge cuts the
  cells at it. The standard error is the two means' errors over the curve's slope. At the curve's
  plateau (cells fill their Voronoi cells) the smallest expansion reaching it is given.

- :meth:`~TissueCalibration.fit_cell_areas` (confluent data): per-type mean cell areas and one CV
  by fixed-point steps on confluent simulations; once set, every later simulation is confluent
  and the hard-core ratio comes from a simulated curve (the packing flattens it).

Elongation and roughness keep the config's defaults.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from scipy.spatial import cKDTree

from STpuppeteer.config import SimulationConfig
from STpuppeteer.config.tissue import MorphologyConfig
from STpuppeteer.stages.tissue import generate_cells

if TYPE_CHECKING:
    from STpuppeteer.fit.estimates import Estimates

__all__ = [
    "EXPANSION_GRID", "NUCLEUS_STEPS", "RATIO_RANGE", "TissueCalibration", "interior_cells", "mean_cv", "nn_ratio",
    "nn_ratio_se",
]

#: Expansions of the calibration grid, in spacings 1/√ρ (cells fill their Voronoi cells by about 0.75).
EXPANSION_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.55, 0.75, 1.0)
#: Hard-core ratios the fit gives (the config's upper bound; below 0.05 the process is Poisson-like).
RATIO_RANGE = (0.05, 0.85)
#: Hard-core ratios at which the confluent model's nearest-neighbour curve is simulated.
CONFLUENT_RATIO_GRID = (0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.85)
#: Share of the confluent curve's last value that counts as its plateau: the percentile of one
#: simulation scatters by ~2 % (its order statistics), so a tighter share would call noise a slope.
PLATEAU_SHARE = 0.97
#: Fixed-point steps of the nucleus calibration.
NUCLEUS_STEPS = 3
_MIN_INTERIOR = 30
_NN_QUANTILE = 0.01


def mean_cv(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """``(2, n_groups)``: mean and coefficient of variation per group (NaN for empty groups)."""
    n = np.bincount(groups, minlength=n_groups).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(groups, values, n_groups) / n
        var = np.bincount(groups, values**2, n_groups) / n - mean**2
        return np.array([mean, np.sqrt(np.maximum(var, 0.0)) / mean])


def nn_ratio(xy: np.ndarray, density: float) -> float:
    """1st percentile of nearest-neighbour distances over the hexagonal spacing at ``density``."""
    nearest = cKDTree(xy).query(xy, k=2)[0][:, 1]
    hex_spacing = math.sqrt(2.0 / (math.sqrt(3.0) * density * 1e-6))
    return float(np.quantile(nearest, _NN_QUANTILE) / hex_spacing)


def nn_ratio_se(xy: np.ndarray, density: float) -> float:
    """Standard error of :func:`nn_ratio`: half the spread of the order statistics one binomial s.d. around it."""
    nearest = np.sort(cKDTree(xy).query(xy, k=2)[0][:, 1])
    n = len(nearest)
    centre, spread = n * _NN_QUANTILE, math.sqrt(n * _NN_QUANTILE * (1 - _NN_QUANTILE))
    lo, hi = max(math.floor(centre - spread), 0), min(math.ceil(centre + spread), n - 1)
    hex_spacing = math.sqrt(2.0 / (math.sqrt(3.0) * density * 1e-6))
    return float((nearest[hi] - nearest[lo]) / 2 / hex_spacing)


def interior_cells(xy: np.ndarray | None, spacing: float) -> np.ndarray | slice:
    """Cells whose centroid lies at least ``spacing`` inside the centroids' hull (all if too few)."""
    if xy is None:
        return slice(None)
    hull = shapely.convex_hull(shapely.multipoints(xy))
    inside = shapely.distance(hull.exterior, shapely.points(xy)) >= spacing
    return inside if inside.sum() >= _MIN_INTERIOR else slice(None)


class TissueCalibration:
    """Tissue simulations at the fitted density and proportions, all from one fixed generator."""

    def __init__(self, *, n_cells: int, density: float, proportions: np.ndarray, per_type: bool,
                 rng: np.random.Generator) -> None:
        self.n_cells, self.density, self.per_type, self.rng = n_cells, density, per_type, rng
        self.proportions = proportions
        self.names = [f"ct_{k}" for k in range(len(proportions))]
        self.spacing = 1e3 / math.sqrt(density)
        self.last_nuclei = np.ones(1)
        self.slopes = np.ones(2)
        self._nuclei = np.ones(1)
        #: ``(2, n_types)`` cell area (mean, CV) per type of the confluent model; ``None`` = expanded cells.
        self.cell_params: np.ndarray | None = None
        #: d(simulated nn_ratio)/d(ratio) at the confluent fit's ratio (1 where the ratio is proportional).
        self.ratio_slope = 1.0
        #: The simulated nn_ratio's plateau when the data's reaches it (the fitted ratio is a lower bound).
        self.ratio_plateau: float | None = None
        #: d(simulated cell area CV)/d(CV) at the confluent fit's CV.
        self.cell_cv_slope = 1.0

    def simulate(self, params: np.ndarray, ratio: float, expansion: float) -> Any:
        """The tissue of the calibration with nuclei ``params`` (mean, CV per group).

        Expanded cells grown by ``expansion``, or, once :attr:`cell_params` is set, confluent
        cells of those per-type areas (``expansion`` is then unused).
        """
        mean, cv = params[0], params[1]
        overall = self.overall_nucleus(params)
        shapes: dict[str, dict[str, float]] = {name: {} for name in self.names}
        if self.per_type:
            for name, m, c in zip(self.names, mean, cv, strict=True):
                if np.isfinite(m):
                    shapes[name] |= {"nucleus_area_mean_um2": float(m), "nucleus_area_cv": float(c)}
        morphology: dict[str, Any] = {"nucleus_area_mean_um2": overall[0], "nucleus_area_cv": overall[1],
                                      "max_expansion_um": expansion, "cell_model": "expanded"}
        if self.cell_params is not None:
            morphology["cell_model"] = "confluent"
            for name, m, c in zip(self.names, *self.cell_params, strict=True):
                if np.isfinite(m) and np.isfinite(c):
                    shapes[name] |= {"cell_area_mean_um2": float(m), "cell_area_cv": float(c)}
        config = SimulationConfig(
            n_cells=self.n_cells, n_celltype=len(self.names), n_genes=1, n_markers=0,
            tissue={"density_per_mm2": self.density, "min_distance_ratio": ratio,
                    "proportions": [float(p) for p in self.proportions]},
            morphology=morphology | {"celltype_shapes": {k: v for k, v in shapes.items() if v}},
        )
        # The stage draws only from keyed children of the generator (block_rng), so every call sees
        # the same random numbers: common random numbers across the calibration.
        return generate_cells(config, self.rng)

    def overall_nucleus(self, params: np.ndarray) -> tuple[float, float]:
        """The overall (mean, CV) of a mixture of the groups in their proportions."""
        mean, cv = np.nan_to_num(params[0]), np.nan_to_num(params[1])
        w = self.proportions if self.per_type else np.ones(1)
        m = float(np.sum(w * mean))
        second = float(np.sum(w * mean**2 * (1 + cv**2)))
        return m, math.sqrt(max(second - m * m, 0.0)) / m

    def _groups(self, cell_gdf: Any) -> np.ndarray:
        """The nucleus groups: each cell's type when nuclei differ by type, else one group."""
        if not self.per_type:
            return np.zeros(len(cell_gdf), dtype=np.intp)
        return self._type_codes(cell_gdf)

    def _type_codes(self, cell_gdf: Any) -> np.ndarray:
        return cell_gdf["celltype"].map({name: k for k, name in enumerate(self.names)}).to_numpy(np.intp)

    def fit_nuclei(self, target: np.ndarray, ratio: float, *, of_nuclei: bool,
                   expansion: float) -> tuple[np.ndarray, float]:
        """Nucleus (mean, CV) per group and the hard-core ratio whose simulation measures as the data.

        The ratio first: one simulation at the data's values, the ratio multiplied by measured /
        simulated (its centroids' spacing is proportional to it); it is measured on nucleus
        centroids (``of_nuclei``) or cell centroids, as in the data. Then, at that ratio,
        :data:`NUCLEUS_STEPS` fixed-point steps p ← p T / m(p) (T the data's values, m the
        simulation's; shrinking makes m(p) < p and flatter than p, and the steps contract by about
        1 − p m'/m, a quarter at worst). Last, the slopes dm/dp of the overall mean and CV at the
        answer, from simulations at a mean 3 % and a CV 5 % larger, are kept in ``slopes``: a
        measured error δ is an error δ / slope in the answer.
        """
        params, ratio = self._feasible(target, ratio)
        if self.cell_params is None:
            simulated = self._nn_ratio(params, ratio, expansion, of_nuclei=of_nuclei)
            ratio = float(np.clip(ratio * ratio / simulated, *RATIO_RANGE))
        else:
            ratio = self._ratio_on_grid(params, ratio, expansion, of_nuclei=of_nuclei)
        for _ in range(NUCLEUS_STEPS):
            params, ratio = self._feasible(params, ratio)
            measured = self._measure(params, ratio, expansion)
            with np.errstate(invalid="ignore", divide="ignore"):
                params = np.where(measured > 0, params * target / measured, params)
        params, ratio = self._feasible(params, ratio)
        base = self._overall(params, ratio, expansion)
        self.last_nuclei = self._nuclei
        slopes = []
        for row, factor in ((0, 1.03), (1, 1.05)):
            moved = params.copy()
            moved[row] *= factor
            slopes.append((self._overall(moved, ratio, expansion)[row] - base[row])
                          / (self.overall_nucleus(moved)[row] - self.overall_nucleus(params)[row]))
        self.slopes = np.clip(np.nan_to_num(np.array(slopes), nan=1.0), 0.2, 2.0)
        return params, ratio

    def _nn_ratio(self, params: np.ndarray, ratio: float, expansion: float, *, of_nuclei: bool) -> float:
        """:func:`nn_ratio` of one simulation, on nucleus or cell centroids as in the data."""
        cell_gdf = self.simulate(params, ratio, expansion)
        points = (shapely.get_coordinates(shapely.centroid(cell_gdf["nucleus"].to_numpy())) if of_nuclei
                  else cell_gdf[["x", "y"]].to_numpy(float))
        return nn_ratio(points, self.density)

    def _ratio_on_grid(self, params: np.ndarray, target: float, expansion: float, *, of_nuclei: bool) -> float:
        """Confluent model: the ratio whose simulated :func:`nn_ratio` is the data's ``target``.

        The packing moves the centres by their cells' sizes, so the closest pairs are no longer
        the ratio times the spacing: with per-type areas 300/700/250 µm² the 1st percentile rises
        only ~0.1 spacing from ratio 0.5 to 0.8. Not proportional, so not one multiplicative step:
        the curve is simulated on :data:`CONFLUENT_RATIO_GRID` (common random numbers, made
        monotone) and the data's value interpolated; :attr:`ratio_slope` keeps its local slope (an
        error δ in the measured percentile is an error δ / slope in the ratio). At the curve's
        plateau (the packing, not the ratio, keeps the closest centres apart) the smallest ratio
        reaching it is a lower bound, and :attr:`ratio_plateau` is set.
        """
        grid = np.array(CONFLUENT_RATIO_GRID)
        curve = np.array([self._nn_ratio(*self._feasible(params, float(r)), expansion, of_nuclei=of_nuclei)
                          for r in grid])
        curve = np.maximum.accumulate(curve)
        reach = PLATEAU_SHARE * curve[-1]
        self.ratio_plateau = float(curve[-1]) if target >= reach else None
        if self.ratio_plateau is not None:
            # Packed cells keep their neighbours apart whatever the ratio beyond this: a lower bound.
            return float(grid[int(np.argmax(curve >= reach))])
        ratio = float(np.interp(target, curve, grid))
        j = int(np.clip(np.searchsorted(curve, target), 1, len(grid) - 1))
        self.ratio_slope = float(max((curve[j] - curve[j - 1]) / (grid[j] - grid[j - 1]), 0.05))
        return ratio

    def _measure(self, params: np.ndarray, ratio: float, expansion: float) -> np.ndarray:
        """Simulated nucleus (mean, CV) per group."""
        cell_gdf = self.simulate(params, ratio, expansion)
        self._nuclei = cell_gdf["nucleus_area"].to_numpy(float)
        return mean_cv(self._nuclei, self._groups(cell_gdf), params.shape[1])

    def _overall(self, params: np.ndarray, ratio: float, expansion: float) -> np.ndarray:
        """Simulated nucleus (mean, CV) over every cell."""
        self._measure(params, ratio, expansion)
        return mean_cv(self._nuclei, np.zeros(len(self._nuclei), dtype=np.intp), 1).ravel()

    def _feasible(self, params: np.ndarray, ratio: float) -> tuple[np.ndarray, float]:
        """Raise the ratio (then cap the nuclei) until the config's nucleus check passes."""
        shape = MorphologyConfig()
        reach = np.sqrt(np.nan_to_num(params[0]) * shape.elongation_mean / math.pi) * (1 + 2 * shape.roughness)
        hex_spacing = math.sqrt(2.0 / (math.sqrt(3.0) * self.density * 1e-6))
        ratio = float(min(max(ratio, 1.02 * 2 * reach.max() / hex_spacing), RATIO_RANGE[1]))
        cap = math.pi * (0.5 * ratio * hex_spacing / 1.02 / (1 + 2 * shape.roughness)) ** 2 / shape.elongation_mean
        capped = params.copy()
        capped[0] = np.minimum(capped[0], cap)
        return capped, ratio

    def fit_cell_areas(self, params: np.ndarray, ratio: float, target_mean: np.ndarray, target_cv: float,
                       ) -> np.ndarray:
        """Confluent model: per-type mean cell areas and one CV whose simulation measures as the data's.

        Sets :attr:`cell_params` (``(2, n_types)``, the CV row constant) and returns it. Power
        cells only approximate their target areas (neighbours of other sizes pull them towards
        the overall mean; the tiling adds its own scatter, so the realised CV moves about half as
        much as the asked one), so :data:`NUCLEUS_STEPS` fixed-point steps p ← p T / m(p) follow
        the data: per type for the means, and for the CV on the cell-weighted mean of the types'
        CVs (one value: a small type's own CV, through a slope of ~½, is too noisy to fit).
        Means are over interior cells (:func:`interior_cells`), as in the data; types without a
        target take the overall mean. :attr:`cell_cv_slope` keeps the CV's slope.
        """
        target_mean = np.where(np.isfinite(target_mean), target_mean, np.nanmean(target_mean))
        weights = self.proportions / self.proportions.sum()
        mean, cv = target_mean.copy(), float(target_cv)
        params, ratio = self._feasible(params, ratio)
        measured_cv = cv
        for _ in range(NUCLEUS_STEPS):
            measured_mean, measured_cv = self._cell_areas(params, ratio, mean, cv, weights)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(measured_mean > 0, mean * target_mean / measured_mean, mean)
            cv = float(np.clip(cv * target_cv / measured_cv, 0.0, 1.5)) if measured_cv > 0 else cv
        mean = np.clip(mean, 1.0, 100_000.0)
        base = self._cell_areas(params, ratio, mean, cv, weights)[1]
        moved = self._cell_areas(params, ratio, mean, cv * 1.1, weights)[1]
        self.cell_cv_slope = float(np.clip((moved - base) / (0.1 * cv), 0.05, 2.0)) if cv > 0 else 1.0
        self.cell_params = np.array([mean, np.full(len(mean), cv)])
        return self.cell_params

    def _cell_areas(self, params: np.ndarray, ratio: float, mean: np.ndarray, cv: float,
                    weights: np.ndarray) -> tuple[np.ndarray, float]:
        """Simulated interior per-type mean cell areas and their cell-weighted mean CV."""
        self.cell_params = np.array([mean, np.full(len(mean), cv)])
        cell_gdf = self.simulate(params, ratio, 0.0)
        inside = interior_cells(cell_gdf[["x", "y"]].to_numpy(float), self.spacing)
        measured = mean_cv(cell_gdf["cell_area"].to_numpy(float)[inside], self._type_codes(cell_gdf)[inside],
                           len(mean))
        return measured[0], float(np.nansum(weights * measured[1]))

    def fit_expansion(self, params: np.ndarray, ratio: float, target: float, target_se: float, spacing: float,
                      out: Estimates) -> tuple[float, float]:
        """``max_expansion_um`` whose simulated interior mean cell area is ``target``, and its s.e.

        The s.e. is NaN only at the curve's plateau (cells fill their Voronoi cells), where the
        expansion is a lower bound; ``out.missing["max_expansion_um_se"]`` then says so.
        """
        grid = np.array(EXPANSION_GRID) * spacing
        mean, se = np.empty(len(grid)), np.empty(len(grid))
        for i, expansion in enumerate(grid):
            cell_gdf = self.simulate(params, ratio, float(expansion))
            a = cell_gdf["cell_area"].to_numpy(float)[interior_cells(cell_gdf[["x", "y"]].to_numpy(float), spacing)]
            mean[i], se[i] = a.mean(), a.std() / math.sqrt(len(a))
        mean = np.maximum.accumulate(mean)  # monotone by construction (common random numbers); guards rounding
        out.measured.update({"expansion_plateau_cell_area_um2": float(mean[-1]),
                             "expansion_zero_cell_area_um2": float(mean[0])})
        if target >= mean[-1]:
            # Every expansion from the plateau on makes the same cells: a lower bound, without an error.
            i = int(np.argmax(mean >= 0.99 * mean[-1]))
            out.missing["max_expansion_um_se"] = (
                f"cells as large as their Voronoi cells (interior mean {target:.0f} µm² ≥ {mean[-1]:.0f}): any "
                f"expansion from {grid[i]:.3g} µm on makes the same cells, so the fitted value is a lower bound")
            return float(grid[i]), float("nan")
        if target <= mean[0]:
            # At the grid's end the estimate is 0; its error is one-sided, through the first step's slope.
            slope = (mean[1] - mean[0]) / (grid[1] - grid[0])
            return 0.0, float(math.hypot(target_se, se[0]) / slope) if slope > 0 else float("nan")
        top = int(np.argmax(mean >= mean[-1]))
        expansion = float(np.interp(target, mean[: top + 1], grid[: top + 1]))
        j = int(np.clip(np.searchsorted(mean[: top + 1], target), 1, top))
        slope = (mean[j] - mean[j - 1]) / (grid[j] - grid[j - 1])
        return expansion, float(math.hypot(target_se, se[j]) / slope)
