"""A config's cost is estimated before any work: impossible runs are refused up front, naming what to change."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from STpuppeteer.config import SimulationConfig
from STpuppeteer.config.budget import (
    MAX_MOLECULES_PER_CELL,
    check_memory,
    estimate_resources,
    raster_pixels,
)


def test_the_estimate_matches_the_prior_means():
    cfg = SimulationConfig(n_cells=1000, n_genes=300, n_markers=50)
    est = estimate_resources(cfg)
    # 50 own markers × 0.75 + 150 housekeeping × 0.2 + 100 other types' markers × 0.05
    assert est.molecules_per_cell == pytest.approx((72.5,) * 3)
    assert est.cell_molecules == pytest.approx(72_500)
    assert est.background_molecules == 0


def test_the_estimate_bounds_the_program_means_from_above():
    from STpuppeteer.stages.programs import ProgramArrays

    cfg = SimulationConfig.from_preset("breast_programs", n_cells=500)
    est = estimate_resources(cfg)
    exact = ProgramArrays.from_config(cfg).expected_mean().sum(axis=1)
    assert all(e >= x * (1 - 1e-9) for e, x in zip(est.molecules_per_cell, exact, strict=True))
    assert max(est.molecules_per_cell) < 3 * exact.max()


def test_too_many_molecules_in_a_cell_are_refused_naming_the_fields():
    with pytest.raises(ValidationError, match=r"molecules on average; at most 1e\+05 .* lower expression_scale"):
        SimulationConfig(expression_scale=5000.0, marker_mu=100.0)
    assert MAX_MOLECULES_PER_CELL == 1e5


def test_too_many_molecules_in_the_run_are_refused_naming_the_fields():
    with pytest.raises(ValidationError, match=r"about 3.62e\+09 molecules .* lower n_cells"):
        SimulationConfig(n_cells=10_000_000, expression_scale=5.0)
    with pytest.raises(ValidationError, match=r"background\); at most 2e\+09 .*_rate_per_um2"):
        SimulationConfig(n_cells=1_000_000, tissue={"density_per_mm2": 1000}, instrument={"ambient_rate_per_um2": 5})


def test_too_many_fields_of_view_are_refused_naming_the_field():
    with pytest.raises(ValidationError, match=r"instrument.fov_size_um=10 tiles .* fields of view"):
        SimulationConfig(n_cells=2_000_000, instrument={"fov_size_um": 10})


def test_an_in_memory_run_beyond_the_machine_is_refused_before_any_stage(monkeypatch):
    from STpuppeteer.pipeline import simulator

    cfg = SimulationConfig(n_cells=200_000)
    with pytest.raises(MemoryError, match=r"needs about .* GB in memory .* --stream"):
        check_memory(cfg, available_bytes=10**9)
    check_memory(cfg, available_bytes=10**12)

    def _no_work(*args, **kwargs):
        raise AssertionError("a stage ran before the memory check")

    monkeypatch.setattr(simulator, "generate_gene_parameters", _no_work)
    monkeypatch.setattr("STpuppeteer.config.budget.physical_memory_bytes", lambda: 10**9)
    with pytest.raises(MemoryError):
        simulator.SpotlessSimulator(cfg).run()


def test_raster_size_follows_the_tissue():
    cfg = SimulationConfig(n_cells=10_000, tissue={"density_per_mm2": 2000})
    # 5 mm² at 0.2125 µm per pixel, plus 5 % per side
    assert raster_pixels(cfg, pixel_size=0.2125) == pytest.approx(5e6 / 0.2125**2 * 1.05**2)
