"""The count fit recovers the simulator's μ and θ, and the seed priors and programs built from it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats

from STpuppeteer.config import SimulationConfig
from STpuppeteer.fit.counts import _log_phi_variance, fit_counts
from STpuppeteer.fit.genes import classify_genes, seed_priors
from STpuppeteer.fit.programs import fit_programs
from STpuppeteer.fit.reference import Reference
from STpuppeteer.pipeline.simulator import SpotlessSimulator


def reference_of(result, *, areas: bool = True) -> tuple[Reference, np.ndarray, list[str]]:
    cells = result.cell_gdf
    table = pd.DataFrame({"celltype": cells["celltype"].astype(str).to_numpy()}, index=cells["cell_id"].astype(str))
    if areas:
        table["nucleus_area"] = cells["nucleus_area"].to_numpy()
    ref = Reference(counts=sparse.csr_matrix(result.count_array), genes=list(result.gpar_df["feature_name"]),
                    cells=table)
    types = list(result.config.celltype_names)
    return ref, pd.Categorical(table["celltype"], categories=types).codes.astype(int), types


@pytest.fixture(scope="module")
def prior_run():
    # 3 types × 4,000 cells (cells and counts only: the molecules add nothing here); μ from the seed's
    # priors, θ ~ Gamma(4, 1) per type and gene. Size factors from the nucleus areas, which the
    # estimators read (the confluent default's come from drawn areas and a level the data do not show).
    cfg = SimulationConfig(seed=11, n_cells=12_000, n_celltype=3, n_genes=150, n_markers=20, n_silence=10,
                           marker_mu=8.0, hk_mu=3.0, theta_alpha=4.0, size_factor="nucleus_area")
    sim = SpotlessSimulator(cfg)
    sim.generate_gene_parameters()
    sim.generate_cells()
    sim.generate_counts()
    result = SimpleNamespace(config=cfg, gpar_df=sim.gpar_df, cell_gdf=sim.cell_gdf, count_array=sim.count_array)
    ref, codes, types = reference_of(result)
    return result, fit_counts(ref, codes, types)


def _truth(result, name: str) -> np.ndarray:
    return np.stack([result.gpar_df[f"{ct}_{name}"].to_numpy(float) for ct in result.config.celltype_names])


def test_means_are_within_their_standard_errors_and_5_percent_where_precise(prior_run):
    result, fit = prior_run
    mu = _truth(result, "mu")
    z = (fit.mu - mu) / fit.mu_se
    # |z| > 3.29 has probability 0.1 % per (type, gene); 450 pairs: expect 0.45, allow 4 (P < 1e-3).
    assert np.sum(np.abs(z) > 3.29) <= 4, np.sort(np.abs(z).ravel())[-5:]
    precise = (mu >= 1) & (fit.mu_se / mu < 0.0125)  # a 5 % error is 4 standard errors
    assert precise.sum() > 50
    assert np.all(np.abs(fit.mu[precise] / mu[precise] - 1) < 0.05)


def test_dispersions_are_within_their_sampling_error_and_shrinkage_helps_genes_with_few_counts(prior_run):
    result, fit = prior_run
    theta, mu = _truth(result, "theta"), _truth(result, "mu")
    n = fit.n_cells[:, None]
    v = _log_phi_variance(mu, 1 / theta, n)
    measured = (mu >= 1) & np.isfinite(fit.theta_raw)
    z = np.log(fit.theta_raw[measured] / theta[measured]) / np.sqrt(v[measured])
    assert np.mean(np.abs(z) < 3) > 0.95 and abs(np.median(z)) < 0.3
    low = mu < 0.3
    raw_err = np.log(np.where(np.isfinite(fit.theta_raw), fit.theta_raw, 1e6) / theta)
    assert np.sqrt(np.mean(np.log(fit.theta / theta)[low] ** 2)) < 0.5 * np.sqrt(np.mean(raw_err[low] ** 2))
    high = mu >= 1
    assert np.sqrt(np.mean(np.log(fit.theta / theta)[high] ** 2)) < 1.1 * np.sqrt(np.mean(raw_err[high] ** 2))


def test_library_size_factors_without_areas_recover_means_within_ten_percent(prior_run):
    result, _ = prior_run
    ref, codes, types = reference_of(result, areas=False)
    fit = fit_counts(ref, codes, types)
    mu = _truth(result, "mu")
    assert fit.size_factor == "library_size"
    ratio = fit.mu[mu >= 1] / mu[mu >= 1]
    assert abs(np.median(ratio) - 1) < 0.05 and np.quantile(np.abs(ratio - 1), 0.9) < 0.1


def test_gene_classes_and_seed_priors_match_the_simulated_panel(prior_run):
    result, fit = prior_run
    classes = classify_genes(fit.mu)
    gtype = result.gpar_df["gene_type"].to_numpy()
    truth = np.where(np.char.endswith(gtype.astype(str), "_mkr"), "marker",
                     np.where(gtype == "silence", "silent", "housekeeping"))
    # Marker and hk priors overlap (Gamma tails), so a few genes change class; most must not.
    assert np.mean(classes.gene_class == truth) > 0.85
    priors = seed_priors(fit, classes)
    cfg = result.config
    # The fitted marker mean is that of the genes classified as markers: within 3 s.e. of the prior mean
    # (s.e. of a mean of ~60 Gamma draws of CV 0.6), the hk one likewise.
    for name, n_genes in (("marker", 60), ("hk", 3 * 80)):
        prior_mean, cv = getattr(cfg, f"{name}_mu"), getattr(cfg, f"{name}_cv")
        assert abs(priors[f"{name}_mu"] - prior_mean) < 3 * prior_mean * cv / np.sqrt(n_genes) + 0.1 * prior_mean
    assert abs(priors["n_markers"] - cfg.n_markers) <= 3


def test_programs_reconstruct_the_type_means(prior_run):
    result, fit = prior_run
    est = fit_programs(fit)
    cfg = SimulationConfig.model_validate({**est.fields, "n_cells": 100})
    from STpuppeteer.stages.programs import ProgramArrays

    arrays = ProgramArrays.from_config(cfg)
    means = pd.DataFrame(arrays.mean_at_activation(), index=cfg.celltype_names,
                         columns=cfg.resolve_gene_names())[fit.genes].to_numpy()
    rel = np.linalg.norm(means - fit.mu) / np.linalg.norm(fit.mu)
    assert rel < 0.06 and est.measured["programs_relative_error"] <= 0.05
    assert cfg.celltype_names == fit.celltypes


def test_one_cell_type_gives_no_markers_and_positive_parameters():
    rng = np.random.default_rng(0)
    y = rng.negative_binomial(2, 2 / (2 + 3.0), size=(500, 20))
    ref = Reference(counts=sparse.csr_matrix(y), genes=[f"g{i}" for i in range(20)],
                    cells=pd.DataFrame(index=[str(i) for i in range(500)]))
    fit = fit_counts(ref, np.zeros(500, dtype=int), ["cell"])
    assert (classify_genes(fit.mu).gene_class != "marker").all()
    assert np.all(np.abs(np.log(fit.theta / 2.0)) < 4 * np.sqrt(2 / 499) * (1 + 2 / 3.0))
    assert stats.ttest_1samp(fit.mu.ravel(), 3.0).pvalue > 1e-3
