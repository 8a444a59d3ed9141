import numpy as np
import pandas as pd
import pytest

from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator
from STpuppeteer.stages.genes import gene_layout, generate_gene_parameters, marker_celltypes

# The table printed in the seed tutorial (01_gene_expression_tutorial.txt), 6 decimals.
TUTORIAL_HEAD = pd.DataFrame(
    {
        "ct_0_theta": [2.091817, 2.835346, 1.837216, 1.645070],
        "ct_0_mu": [0.306475, 0.475299, 0.617711, 0.414340],
        "ct_1_theta": [0.705229, 0.164149, 2.841613, 0.077426],
        "ct_1_mu": [0.039907, 0.009448, 0.236585, 0.032049],
        "ct_2_theta": [1.209854, 0.934799, 3.179418, 4.852572],
        "ct_2_mu": [0.056850, 0.084951, 0.025210, 0.023355],
        "gene_leakage": [0.0, 0.0, 0.0, 0.0],
    }
)
TUTORIAL_CONFIG = {
    "seed": 42, "n_cells": 200, "n_celltype": 3, "n_genes": 300, "n_markers": 50,
    "marker_mu": 0.75, "marker_cv": 0.6, "silence_mu": 0.05, "silence_cv": 1.0,
    "theta_alpha": 2.0, "theta_rate": 1.0,
}


def _gpar(**fields):
    sim = SpotlessSimulator(SimulationConfig(**fields))
    return sim.generate_gene_parameters()


def test_tutorial_table_is_reproduced_to_six_decimals():
    gpar_df = _gpar(**TUTORIAL_CONFIG)
    assert gpar_df.shape == (300, 9)
    assert list(gpar_df.columns[:2]) == ["feature_name", "gene_type"]
    head = gpar_df.head(4)[TUTORIAL_HEAD.columns].round(6)
    pd.testing.assert_frame_equal(head, TUTORIAL_HEAD, check_exact=False, atol=5e-7, rtol=0)


def test_panel_order_and_names():
    gpar_df = _gpar(n_genes=20, n_celltype=2, n_markers=3, n_silence=4,
                    shared_markers=[{"celltypes": ["ct_0", "ct_1"], "n_genes": 2}])
    assert list(gpar_df["feature_name"]) == (
        [f"ct_0_mkr_{i}" for i in range(3)] + [f"ct_1_mkr_{i}" for i in range(3)]
        + ["ct_0_ct_1_mkr_0", "ct_0_ct_1_mkr_1"] + [f"hk_{i}" for i in range(8)]
        + [f"silence_{i}" for i in range(4)]
    )
    assert marker_celltypes(gpar_df)["ct_0_ct_1_mkr_1"] == ["ct_0", "ct_1"]
    assert marker_celltypes(gpar_df)["ct_1_mkr_0"] == ["ct_1"]
    assert "hk_0" not in marker_celltypes(gpar_df)


def test_same_seed_same_table_and_other_seed_differs():
    a = _gpar(seed=3, n_genes=100, n_markers=10)
    b = _gpar(seed=3, n_genes=100, n_markers=10)
    c = _gpar(seed=4, n_genes=100, n_markers=10)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["ct_0_mu"], c["ct_0_mu"])


# ---- statistics: thousands of genes per class, tolerances of 5 standard errors ----------
BIG = {"seed": 11, "n_genes": 9000, "n_celltype": 3, "n_markers": 1500, "n_silence": 1500}


@pytest.fixture(scope="module")
def big_gpar():
    cfg = SimulationConfig(**BIG)
    return cfg, SpotlessSimulator(cfg).generate_gene_parameters()


def _check_gamma_sample(x, mu, cv):
    n = len(x)
    se_mean = mu * cv / np.sqrt(n)
    assert abs(x.mean() - mu) < 5 * se_mean, (x.mean(), mu, se_mean)
    # SE of the sample sd (delta method, gamma excess kurtosis 6 cv²), scaled to the CV
    se_cv = cv * np.sqrt((6 * cv**2 + 2) / (4 * n)) + cv * cv / np.sqrt(n)
    assert abs(x.std(ddof=1) / x.mean() - cv) < 5 * se_cv, (x.std() / x.mean(), cv, se_cv)


def test_mu_of_each_class_matches_its_prior(big_gpar):
    cfg, gpar_df = big_gpar
    own, off, hk = [], [], []
    for _k, ct in enumerate(cfg.celltype_names):
        gtype = gpar_df["gene_type"].to_numpy()
        own.append(gpar_df.loc[gtype == f"{ct}_mkr", f"{ct}_mu"])
        is_off = (gtype == "silence") | (np.char.endswith(gtype.astype(str), "_mkr") & (gtype != f"{ct}_mkr"))
        off.append(gpar_df.loc[is_off, f"{ct}_mu"])
        hk.append(gpar_df.loc[gtype == "hk", f"{ct}_mu"])
        assert len(own[-1]) == 1500 and len(hk[-1]) == 3000 and len(off[-1]) == 4500
    _check_gamma_sample(np.concatenate(own), cfg.marker_mu, cfg.marker_cv)
    _check_gamma_sample(np.concatenate(off), cfg.silence_mu, cfg.silence_cv)
    _check_gamma_sample(np.concatenate(hk), cfg.hk_mu, cfg.hk_cv)


def test_theta_mean_is_alpha_over_rate(big_gpar):
    cfg, gpar_df = big_gpar
    theta = gpar_df[[f"{ct}_theta" for ct in cfg.celltype_names]].to_numpy().ravel()
    shape = cfg.theta_alpha
    se = np.sqrt(shape) / cfg.theta_rate / np.sqrt(theta.size)
    assert abs(theta.mean() - shape / cfg.theta_rate) < 5 * se
    # one θ per gene per cell type by default: columns differ
    assert not np.allclose(gpar_df["ct_0_theta"], gpar_df["ct_1_theta"])


def test_markers_are_high_only_in_their_own_type(big_gpar):
    cfg, gpar_df = big_gpar
    mu = gpar_df[[f"{ct}_mu" for ct in cfg.celltype_names]].to_numpy()
    for k, ct in enumerate(cfg.celltype_names):
        rows = (gpar_df["gene_type"] == f"{ct}_mkr").to_numpy()
        wins = mu[rows].argmax(axis=1) == k
        # P(marker draw > every silence draw) ≈ 0.99 with the default priors
        assert wins.mean() > 0.97


def test_shared_theta_draws_one_theta_per_gene():
    gpar_df = _gpar(seed=1, n_genes=200, n_markers=20, shared_theta=True)
    assert np.array_equal(gpar_df["ct_0_theta"], gpar_df["ct_1_theta"])
    assert np.array_equal(gpar_df["ct_0_theta"], gpar_df["ct_2_theta"])
    assert gpar_df["ct_0_theta"].nunique() == 200


def test_celltype_priors_change_only_their_type():
    n = 6000
    base = dict(seed=5, n_genes=n, n_celltype=2, n_markers=2000)
    ref = _gpar(**base)
    over = _gpar(**base, celltype_priors={"ct_1": {"marker_mu": 3.0, "theta_alpha": 8.0}})
    pd.testing.assert_series_equal(ref["ct_0_mu"], over["ct_0_mu"])
    pd.testing.assert_series_equal(ref["ct_0_theta"], over["ct_0_theta"])
    own = over.loc[over["gene_type"] == "ct_1_mkr", "ct_1_mu"]
    assert abs(own.mean() - 3.0) < 5 * 3.0 * 0.6 / np.sqrt(len(own))
    theta = over["ct_1_theta"]
    assert abs(theta.mean() - 8.0) < 5 * np.sqrt(8.0) / np.sqrt(n)


def test_identity_overrides_keep_the_default_draws():
    ref = _gpar(**TUTORIAL_CONFIG)
    same = _gpar(**TUTORIAL_CONFIG, celltype_priors={"ct_1": {"marker_mu": 0.75, "hk_cv": 0.3}})
    pd.testing.assert_frame_equal(ref, same)


def test_shared_markers_are_high_in_each_of_their_types():
    gpar_df = _gpar(seed=2, n_genes=3000, n_celltype=3, n_markers=200,
                    shared_markers=[{"celltypes": ["ct_0", "ct_2"], "n_genes": 1000}])
    rows = gpar_df["gene_type"] == "ct_0_ct_2_mkr"
    assert rows.sum() == 1000
    for ct, expressed in (("ct_0", True), ("ct_1", False), ("ct_2", True)):
        mean = gpar_df.loc[rows, f"{ct}_mu"].mean()
        target = 0.75 if expressed else 0.05
        assert abs(mean - target) < 5 * target * (0.6 if expressed else 1.0) / np.sqrt(1000)


def test_gene_leakage_forms():
    assert (_gpar(n_genes=50, n_markers=5, leakage_by_gene=0.2)["gene_leakage"] == 0.2).all()
    values = list(np.linspace(0, 1, 50))
    assert np.allclose(_gpar(n_genes=50, n_markers=5, leakage_by_gene=values)["gene_leakage"], values)
    by_name = _gpar(n_genes=50, n_markers=5, leakage_by_gene={"hk_3": 0.7, "ct_1_mkr_0": 0.1})
    leak = by_name.set_index("feature_name")["gene_leakage"]
    assert leak["hk_3"] == 0.7 and leak["ct_1_mkr_0"] == 0.1 and leak.drop(["hk_3", "ct_1_mkr_0"]).eq(0).all()


def test_layout_needs_no_randomness():
    cfg = SimulationConfig(n_genes=40, n_markers=4, n_silence=3)
    layout = gene_layout(cfg)
    assert len(layout.feature_name) == 40
    assert list(layout.hk_index) == list(range(12, 37))
    assert list(layout.marker_index(1)) == [4, 5, 6, 7]


def test_theta_is_floored_so_a_single_count_cannot_overflow():
    from STpuppeteer.stages.genes import MIN_THETA

    # a θ prior of mean 10⁻⁴ draws most θ far below 10⁻³ (counts of variance m²/θ would reach m·10⁶)
    cfg = SimulationConfig(n_genes=200, n_markers=10, theta_alpha=0.05, theta_rate=500.0)
    gpar = generate_gene_parameters(cfg, np.random.default_rng(0))
    theta = gpar[[c for c in gpar.columns if c.endswith("_theta")]].to_numpy()
    assert theta.min() == MIN_THETA == 1e-3
    assert (theta == MIN_THETA).mean() > 0.5
