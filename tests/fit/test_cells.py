"""Cells: proportions, density, nuclei and the cell-size knob recovered from simulated tissues.

Each round trip simulates the tissue stage with known parameters and checks the estimate against
the truth within three of the standard errors the estimator reports (fixed seeds). The tissues
use the expanded cell model (the fit writes it when cells leave free tissue between them); a
confluent tissue is fitted with the confluent model.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fit._reference_of import cells_reference, type_codes
from STpuppeteer.config import SimulationConfig
from STpuppeteer.fit.cells import estimate_cells, grown_hull_area
from STpuppeteer.fit.estimates import Estimates
from STpuppeteer.pipeline.simulator import SpotlessSimulator

#: (density per mm², mean nucleus area µm², max_expansion_um) of the round trips.
TRUTHS = {"sparse_big_nuclei": (1500.0, 80.0, 8.0), "dense_small_nuclei": (3000.0, 40.0, 4.0)}
PROPORTIONS = [0.5, 0.3, 0.2]
Z = 3.0


def _tissue(density: float, nucleus: float, expansion: float, *, seed: int, **morphology: object) -> object:
    config = SimulationConfig(
        seed=seed, n_cells=1500, n_genes=30, n_markers=5,
        tissue={"density_per_mm2": density, "proportions": PROPORTIONS},
        morphology={"nucleus_area_mean_um2": nucleus, "max_expansion_um": expansion, "cell_model": "expanded",
                    **morphology},
    )
    return SpotlessSimulator(config).generate_cells()


def _within(value: float, truth: float, se: float) -> bool:
    """``value`` within Z standard errors of ``truth``; a NaN or non-positive error is a failure, not a pass."""
    assert math.isfinite(se) and se > 0, f"standard error {se}"
    return abs(value - truth) <= Z * se


@pytest.fixture(scope="module")
def fits() -> dict[str, tuple[tuple[float, float, float], object, Estimates]]:
    out = {}
    for seed, (name, truth) in enumerate(TRUTHS.items(), start=11):
        cell_gdf = _tissue(*truth, seed=seed)
        reference = cells_reference(cell_gdf)
        out[name] = (truth, cell_gdf, estimate_cells(reference, *type_codes(reference)))
    return out


@pytest.mark.parametrize("name", list(TRUTHS))
def test_density_within_its_standard_error(fits, name):
    (density, _, _), _, fit = fits[name]
    assert abs(fit.fields["tissue.density_per_mm2"] - density) <= Z * fit.measured["density_per_mm2_se"]
    assert any("hull of centroids" in note for note in fit.notes)


def test_density_of_a_known_region_is_cells_over_its_area(fits):
    (density, _, _), cell_gdf, _ = fits["sparse_big_nuclei"]
    area = len(cell_gdf) / density * 1e6
    fit = estimate_cells(cells_reference(cell_gdf, region_area_um2=area), *type_codes(cells_reference(cell_gdf)))
    assert fit.fields["tissue.density_per_mm2"] == pytest.approx(density, rel=1e-12)


def test_densities_are_told_apart(fits):
    sparse_fit, dense_fit = fits["sparse_big_nuclei"][2], fits["dense_small_nuclei"][2]
    assert dense_fit.fields["tissue.density_per_mm2"] > 1.8 * sparse_fit.fields["tissue.density_per_mm2"]


@pytest.mark.parametrize("name", list(TRUTHS))
def test_nucleus_area_mean_and_cv_within_their_standard_errors(fits, name):
    (_, nucleus, _), _, fit = fits[name]
    assert _within(fit.fields["morphology.nucleus_area_mean_um2"], nucleus, fit.measured["nucleus_area_mean_um2_se"])
    assert _within(fit.fields["morphology.nucleus_area_cv"], 0.3, fit.measured["nucleus_area_cv_se"])
    assert "morphology.celltype_shapes" not in fit.fields  # one nucleus size for every type


@pytest.mark.parametrize("name", list(TRUTHS))
def test_max_expansion_by_calibration_within_its_standard_error(fits, name):
    (_, _, expansion), _, fit = fits[name]
    assert _within(fit.fields["morphology.max_expansion_um"], expansion, fit.measured["max_expansion_um_se"])
    assert fit.fields["morphology.cell_model"] == "expanded"
    assert fit.measured["calibration_seconds"] < 10  # ~1.5 s; a regression guard, not a benchmark


@pytest.mark.parametrize("name", list(TRUTHS))
def test_proportions_and_measured_areas(fits, name):
    _, cell_gdf, fit = fits[name]
    assert fit.fields["n_cells"] == 1500
    assert fit.fields["tissue.proportions"] == pytest.approx(PROPORTIONS)
    ratio = cell_gdf["nucleus_area"] / cell_gdf["cell_area"]
    assert fit.measured["nucleus_to_cell_area_mean"] == pytest.approx(ratio.mean())
    assert fit.measured["cell_area_median_um2"] == pytest.approx(cell_gdf["cell_area"].median())


def test_hard_core_ratio_within_its_standard_error(fits):
    for _, _, fit in fits.values():
        assert _within(fit.fields["tissue.min_distance_ratio"], 0.7, fit.measured["min_distance_ratio_se"])


def test_nucleus_sizes_per_type():
    shapes = {"ct_0": {"nucleus_area_mean_um2": 35.0}, "ct_2": {"nucleus_area_mean_um2": 70.0}}
    cell_gdf = _tissue(2200.0, 50.0, 6.0, seed=5, celltype_shapes=shapes)
    reference = cells_reference(cell_gdf)
    fit = estimate_cells(reference, *type_codes(reference))
    fitted = fit.fields["morphology.celltype_shapes"]
    for name, true in (("ct_0", 35.0), ("ct_1", 50.0), ("ct_2", 70.0)):
        se = fit.measured[f"nucleus_area_mean_um2_se_{name}"]
        assert _within(fitted[name]["nucleus_area_mean_um2"], true, se)


def test_without_types_or_positions():
    cell_gdf = _tissue(2200.0, 50.0, 6.0, seed=2)
    reference = cells_reference(cell_gdf, with_types=False)
    fit = estimate_cells(reference, *type_codes(reference))
    assert "tissue.proportions" in fit.missing
    assert "morphology.celltype_shapes" not in fit.fields
    assert _within(fit.fields["morphology.max_expansion_um"], 6.0, fit.measured["max_expansion_um_se"])
    bare = cells_reference(cell_gdf.drop(columns=["x", "y"]).assign(x=np.nan, y=np.nan), with_types=False)
    fit = estimate_cells(bare, *type_codes(bare))
    assert "tissue.density_per_mm2" in fit.missing and "morphology.max_expansion_um" in fit.missing


#: Confluent round trip: relative cell area per type, and the cell-weighted CV of the types' CVs.
CONFLUENT_SHAPES = {"ct_0": {"cell_area_mean_um2": 300.0, "cell_area_cv": 0.3}, "ct_1": {"cell_area_mean_um2": 700.0},
                    "ct_2": {"cell_area_mean_um2": 250.0, "cell_area_cv": 0.6}}
CONFLUENT_CV = 0.5 * 0.3 + 0.3 * 0.45 + 0.2 * 0.6


@pytest.mark.parametrize("seed", [4, 5])
def test_confluent_cells_fit_the_confluent_model_with_per_type_areas(seed):
    # Cells that fill the tissue are fitted with the model that makes them: per-type mean areas
    # (their ratios; the density sets the scale), one CV, and the nuclei and hard-core distance
    # calibrated on confluent simulations.
    cell_gdf = _tissue(2200.0, 50.0, 6.0, seed=seed, cell_model="confluent", celltype_shapes=CONFLUENT_SHAPES)
    reference = cells_reference(cell_gdf)
    fit = estimate_cells(reference, *type_codes(reference))
    assert fit.measured["cell_cover_fraction"] >= 0.9
    assert fit.fields["morphology.cell_model"] == "confluent"
    assert "confluent" in fit.missing["morphology.max_expansion_um"]
    assert any("confluent" in note for note in fit.notes)
    shapes, se = fit.fields["morphology.celltype_shapes"], fit.measured
    base, base_se = shapes["ct_0"]["cell_area_mean_um2"], se["cell_area_mean_um2_se_ct_0"]
    for name in ("ct_1", "ct_2"):
        mean, mean_se = shapes[name]["cell_area_mean_um2"], se[f"cell_area_mean_um2_se_{name}"]
        truth = CONFLUENT_SHAPES[name]["cell_area_mean_um2"] / CONFLUENT_SHAPES["ct_0"]["cell_area_mean_um2"]
        assert _within(mean / base, truth, mean / base * math.hypot(mean_se / mean, base_se / base))
    assert _within(fit.fields["morphology.cell_area_cv"], CONFLUENT_CV, se["cell_area_cv_se"])
    assert _within(fit.fields["morphology.nucleus_area_mean_um2"], 50.0, se["nucleus_area_mean_um2_se"])
    # The packing keeps the closest centres apart whatever the ratio beyond ~0.7: a lower bound.
    assert 0.5 <= fit.fields["tissue.min_distance_ratio"] <= 0.7
    assert "lower bound" in fit.missing["min_distance_ratio_se"]
    assert all(math.isfinite(v) for v in fit.measured.values())
    SimulationConfig(n_cells=50, tissue={"proportions": PROPORTIONS}, morphology={
        k.removeprefix("morphology."): v for k, v in fit.fields.items() if k.startswith("morphology.")})


def test_same_seed_same_estimates(fits):
    _, cell_gdf, fit = fits["dense_small_nuclei"]
    reference = cells_reference(cell_gdf)
    again = estimate_cells(reference, *type_codes(reference))
    assert again.fields == fit.fields


def test_grown_hull_of_a_lattice_is_its_region():
    # A 20 × 20 lattice of unit spacing fills a 20 × 20 square; its hull is 19 × 19.
    grid = np.stack(np.meshgrid(np.arange(20.0), np.arange(20.0)), axis=-1).reshape(-1, 2)
    area, hull = grown_hull_area(grid)
    assert hull == pytest.approx(361.0)
    assert area == pytest.approx(400.0, rel=0.5 / math.sqrt(400))  # within the strip's half-width error
