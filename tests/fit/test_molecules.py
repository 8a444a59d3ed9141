"""Molecules: controls, quality scores, nuclear fractions, ambient RNA and leakage recovered from a simulation.

One simulation (expanded cells, with free tissue between them) with every estimated knob switched
on; each estimate is checked against the truth within three of the standard errors the estimator
reports (fixed seed).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fit._reference_of import reference_of, type_codes
from STpuppeteer.config import SimulationConfig
from STpuppeteer.fit.estimates import Estimates
from STpuppeteer.fit.molecules import estimate_molecules, names_in_use
from STpuppeteer.fit.quality import fit_qv
from STpuppeteer.pipeline.simulator import simulate

Z = 3.0
NUCLEAR_GENES = {f"ct_0_mkr_{i}": 0.7 for i in range(5)}
INSTRUMENT = {
    "ambient_rate_per_um2": 0.002, "neg_control_probe_rate_per_um2": 0.001,
    "neg_control_codeword_rate_per_um2": 0.0005, "unassigned_codeword_rate_per_um2": 0.0003,
    "qv_mean": 30.0, "qv_sd": 5.0, "qv_background_mean": 18.0, "qv_background_sd": 8.0,
}
LEAKAGE = {"ct_1": 0.2}


def _config(cell_model: str) -> SimulationConfig:
    return SimulationConfig(
        seed=3, n_cells=1500, n_genes=100, n_markers=20, leakage_by_celltype=LEAKAGE,
        transcripts={"nuclear_fraction_by_gene": NUCLEAR_GENES}, instrument=INSTRUMENT,
        morphology={"cell_model": cell_model},
    )


@pytest.fixture(scope="module")
def result() -> object:
    # Expanded cells leave free tissue between them, where the ambient rate is counted.
    return simulate(_config("expanded"))


@pytest.fixture(scope="module")
def fit(result) -> Estimates:
    reference = reference_of(result)
    return estimate_molecules(reference, *type_codes(reference))


def _close(fit: Estimates, field: str, truth: float, se_key: str) -> None:
    value, se = fit.fields[field], fit.measured[se_key]
    assert abs(value - truth) <= Z * se, f"{field}: {value:.5g} vs {truth} (s.e. {se:.3g})"


@pytest.mark.parametrize("kind", ["neg_control_probe", "neg_control_codeword", "unassigned_codeword"])
def test_control_rates_within_their_standard_errors(fit, kind):
    _close(fit, f"instrument.{kind}_rate_per_um2", INSTRUMENT[f"{kind}_rate_per_um2"], f"{kind}_rate_per_um2_se")


def test_control_name_counts(fit):
    defaults = {"n_neg_control_probes": 20, "n_neg_control_codewords": 41, "n_unassigned_codewords": 100}
    for key, truth in defaults.items():
        # Unseen names are corrected for (names_in_use): 175 unassigned molecules over 100 names show ~83.
        # Kinds with many molecules per name show every name (s.e. ~0): the count is exact then.
        assert abs(fit.fields[f"instrument.{key}"] - truth) <= max(Z * fit.measured[f"{key}_se"], 0.5)
    assert fit.measured["n_unassigned_codewords_seen"] < 100


@pytest.mark.parametrize("key", ["qv_mean", "qv_sd", "qv_background_mean", "qv_background_sd"])
def test_quality_scores_within_their_standard_errors(fit, key):
    _close(fit, f"instrument.{key}", INSTRUMENT[key], f"{key}_se")


def test_nuclear_fractions(fit):
    fitted = fit.fields["transcripts.nuclear_fraction_by_gene"]
    for gene, truth in NUCLEAR_GENES.items():
        assert abs(fitted[gene] - truth) <= Z * fit.measured[f"nuclear_fraction_se_{gene}"], gene
    # Bonferroni keeps the chance of any other gene getting its own fraction at 5 %; two would be < 0.2 %.
    assert len(set(fitted) - set(NUCLEAR_GENES)) <= 1
    assert "transcripts.nuclear_fraction" in fit.missing  # the other genes follow the default (uniform) rule


def test_ambient_rate_within_its_standard_error(fit):
    # The estimator's reported s.e. is too small: over seeds 3-19 of this config its z had an RMS of
    # 1.55 (on the model before issue 17, whose ambient genes followed the drawn totals: 1.05 over
    # seeds 3-19 less 9, 10), likely the noise of choosing its clean genes by a threshold. Three
    # times that spread, until the estimator accounts for it.
    value, se = fit.fields["instrument.ambient_rate_per_um2"], fit.measured["ambient_rate_per_um2_se"]
    assert abs(value - INSTRUMENT["ambient_rate_per_um2"]) <= Z * 1.55 * se, (value, se)
    assert fit.fields["instrument.ambient_genes"] == "expression"


def test_confluent_cells_leave_the_ambient_rate_missing_not_zero():
    # Confluent cells cover the region: no molecules outside them gave an ambient rate of 0 ± 0.
    reference = reference_of(simulate(_config("confluent")))
    fit = estimate_molecules(reference, *type_codes(reference))
    assert "instrument.ambient_rate_per_um2" not in fit.fields and "ambient_rate_per_um2_se" not in fit.measured
    assert "confluent" in fit.missing["instrument.ambient_rate_per_um2"]
    assert "instrument.qv_mean" in fit.fields and "leakage_by_celltype" in fit.fields


def test_leakage_of_the_leaking_type_only(fit):
    assert set(fit.fields["leakage_by_celltype"]) == set(LEAKAGE)
    for name, truth in LEAKAGE.items():
        assert abs(fit.fields["leakage_by_celltype"][name] - truth) <= Z * fit.measured[f"leakage_{name}_se"]
    for name in ("ct_0", "ct_2"):
        assert fit.measured[f"leakage_{name}"] <= Z * fit.measured[f"leakage_{name}_se"]


def test_per_cell_summaries(fit, result):
    in_cells = result.trs_df[(result.trs_df["landed_cell_id"] >= 0) & (result.trs_df["origin"] != "control")]
    assert fit.measured["molecules_per_cell_mean"] == pytest.approx(len(in_cells) / len(result.cell_gdf))


def test_without_types_leakage_is_missing(result):
    reference = reference_of(result, with_types=False)
    fit = estimate_molecules(reference, *type_codes(reference))
    assert "leakage_by_celltype" in fit.missing
    assert "instrument.qv_mean" in fit.fields


def test_without_molecules_everything_is_missing(result):
    reference = dataclasses.replace(reference_of(result), molecules=None)
    fit = estimate_molecules(reference, *type_codes(reference))
    assert not fit.fields
    assert {"instrument.ambient_rate_per_um2", "leakage_by_celltype", "instrument.qv_mean"} <= set(fit.missing)


def test_censored_normal_recovers_the_unclipped_one(rng):
    x = np.clip(rng.normal(35.0, 5.0, 20_000), 0.0, 40.0)
    qv = fit_qv(x)
    assert abs(qv.mean - 35.0) <= Z * qv.mean_se and abs(qv.sd - 5.0) <= Z * qv.sd_se
    # The clipped mean is far off (0.4 below), beyond the fit's error (wider with the cap share free).
    assert abs(x.mean() - 35.0) > 4 * qv.mean_se


def test_mass_at_the_cap_is_told_from_the_normal(rng):
    # The simulator's mixture: half the scores at the cap, the rest a normal clipped at 40.
    x = np.clip(rng.normal(30.0, 5.0, 20_000), 0.0, 40.0)
    x[rng.random(len(x)) < 0.5] = 40.0
    qv = fit_qv(x)
    assert abs(qv.cap_fraction - 0.5) <= Z * qv.cap_fraction_se
    assert abs(qv.mean - 30.0) <= Z * qv.mean_se and abs(qv.sd - 5.0) <= Z * qv.sd_se
    # Without a cap the normal's own draws above 40 are not mistaken for one.
    assert fit_qv(np.clip(rng.normal(35.0, 5.0, 20_000), 0.0, 40.0)).cap_fraction < 0.01


def test_names_in_use():
    assert names_in_use(20, 20) == 20  # every molecule its own name: at least that many
    assert names_in_use(41, 10_000) == 41
    assert names_in_use(63, 100) == pytest.approx(100, abs=2)  # 100 names seen by 100 molecules: 1 − e⁻¹ of them


def test_a_little_background_in_cells_widens_the_mean_error_instead_of_zeroing_it(rng):
    # The xenium preset's scores: genes 85 % at the cap, else N(23, 8); background 30 %, else N(18, 8);
    # background (ambient and mis-called molecules) is under 1 % of the scores in cells. Its weight is then
    # at or near 0 and, being nearly confounded with the genes' mean, must widen the mean's error: a logit
    # of the weight ran off to −∞ and gave the mean an error of 0 and a 4-s.e. miss.
    def scores(n, mean, cap):
        x = np.clip(rng.normal(mean, 8.0, n), 0.0, 40.0)
        x[rng.random(n) < cap] = 40.0
        return x

    background = fit_qv(scores(900, 18.0, 0.3))
    qv = fit_qv(np.concatenate([scores(100_000, 23.0, 0.85), scores(800, 18.0, 0.3)]), background=background)
    assert 0 < qv.mean_se < 2 and 0 <= qv.background_fraction <= 0.5
    assert abs(qv.mean - 23.0) <= Z * qv.mean_se and abs(qv.cap_fraction - 0.85) <= Z * qv.cap_fraction_se
