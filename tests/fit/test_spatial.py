"""Spatial pattern: the neighbour enrichment and the domain length, round trip through the tissue stage."""

from __future__ import annotations

import numpy as np
import pytest

from fit._reference_of import cells_reference, type_codes
from STpuppeteer.config import SimulationConfig
from STpuppeteer.fit.estimates import Estimates
from STpuppeteer.fit.spatial import estimate_spatial, neighbour_enrichment
from STpuppeteer.pipeline.simulator import SpotlessSimulator

LENGTHS = (40.0, 120.0, 400.0)


def _fit(pattern: str, length: float, *, seed: int) -> Estimates:
    config = SimulationConfig(seed=seed, n_cells=1500, n_genes=30, n_markers=5,
                              tissue={"pattern": pattern, "domain_length_um": length})
    reference = cells_reference(SpotlessSimulator(config).generate_cells())
    return estimate_spatial(reference, *type_codes(reference))


@pytest.fixture(scope="module")
def fits() -> dict[str, Estimates]:
    out = {"mixed": _fit("mixed", 150.0, seed=21)}
    for i, length in enumerate(LENGTHS):
        out[f"domains_{length:.0f}"] = _fit("domains", length, seed=22 + i)
    return out


def test_mixed_is_mixed(fits):
    fit = fits["mixed"]
    assert fit.fields["tissue.pattern"] == "mixed"
    assert abs(fit.measured["neighbour_enrichment"] - 1) <= 3 * fit.measured["neighbour_enrichment_null_se"]
    assert "tissue.domain_length_um" in fit.missing


def test_domain_lengths_come_out_in_order(fits):
    domains = [fits[f"domains_{length:.0f}"] for length in LENGTHS]
    assert all(fit.fields["tissue.pattern"] == "domains" for fit in domains)
    enrichment = [fit.measured["neighbour_enrichment"] for fit in domains]
    length = [fit.fields["tissue.domain_length_um"] for fit in domains]
    assert enrichment[0] > fits["mixed"].measured["neighbour_enrichment"]
    assert np.all(np.diff(enrichment) > 0)
    assert np.all(np.diff(length) > 0)


def test_calibration_is_cheap_and_monotone(fits):
    fit = fits["domains_120"]
    curve = [v for k, v in fit.measured.items() if k.startswith("enrichment_at_")]
    assert curve[-1] > curve[0]
    assert fit.measured["pattern_calibration_seconds"] < 3


def test_without_types_the_pattern_is_missing():
    config = SimulationConfig(seed=1, n_cells=300, n_genes=30, n_markers=5)
    reference = cells_reference(SpotlessSimulator(config).generate_cells(), with_types=False)
    fit = estimate_spatial(reference, *type_codes(reference))
    assert set(fit.missing) >= {"tissue.pattern", "tissue.domain_length_um"}
    assert not fit.fields


def test_enrichment_of_pure_and_random_labels(rng):
    xy = rng.uniform(0, 1000, (2000, 2))
    halves = (xy[:, 0] > 500).astype(np.intp)
    same, expected = neighbour_enrichment(xy, halves)
    assert expected == pytest.approx(0.5, abs=1e-3)
    assert same > 0.9
    same, expected = neighbour_enrichment(xy, rng.permutation(halves))
    # Under random labels the mean same-type fraction is E, with s.d. about √(E(1 − E)/(n k)) (the
    # neighbourhoods overlap, so this understates it by up to √2).
    assert abs(same - expected) <= 3 * np.sqrt(2 * expected * (1 - expected) / (2000 * 10))
