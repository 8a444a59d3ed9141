"""The program model's draws: moments per (type, gene), the entry points other simulators call, leakage."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from STpuppeteer._random import block_rng, stage_rng
from STpuppeteer.simulation import (
    SimulationConfig,
    SpotlessSimulator,
    build_program_gpar_df,
    classify_leakage,
    counts_to_transcript_df,
    expected_program_means,
    program_means,
    sample_counts_program_model,
)
from STpuppeteer.stages.counts import CountModel, ProgramCountModel, generate_counts
from STpuppeteer.stages.programs import MIN_MEAN, ProgramArrays

CV0, ALPHA, MU0 = 0.5, 0.3, 0.05
PROGRAMS = [
    {"name": "p", "loading": {"g_low": 0.5, "g_mid": 2.0, "g_high": 10.0, "g_top": 50.0}},
    {"name": "q", "loading": {"g_mid": 1.0, "g_q": 4.0}},
]
GENES = ["g_low", "g_mid", "g_high", "g_top", "g_q", "g_none"]


def model_config(specs: dict) -> SimulationConfig:
    return SimulationConfig(programs=PROGRAMS, cell_type_specs=specs, extra_genes=["g_none"], expression_baseline=MU0,
                            overdispersion_cv=CV0, overdispersion_exponent=ALPHA)


def _sample(cfg: SimulationConfig, n_per_type: int, seed: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    types = np.repeat(cfg.celltype_names, n_per_type)
    cells = pd.DataFrame({"celltype": types, "scale": scale})
    return sample_counts_program_model(cells, cfg, np.random.default_rng(seed)), types


def _assert_moments(y: np.ndarray, mean: float, var: float, *, n_se: float = 5.0) -> None:
    """Sample mean and variance within n_se standard errors of the expected ones."""
    n = len(y)
    assert abs(y.mean() - mean) < n_se * np.sqrt(var / n) + 1e-12, (y.mean(), mean)
    m4 = np.mean((y - y.mean()) ** 4)  # the variance's standard error needs the fourth central moment
    assert abs(y.var(ddof=1) - var) < n_se * np.sqrt(max(m4 - var**2, 0) / n) + 1e-12, (y.var(ddof=1), var)


def test_moments_without_activation_spread_are_m_and_m_plus_cv2m2():
    cfg = model_config({"A": {"program_activations": {"p": 1.0}}, "B": {"program_activations": {"p": 0.3, "q": 1.0}}})
    scale = 1.5
    y, types = _sample(cfg, 20_000, seed=1, scale=scale)
    w = np.array([[PROGRAMS[0]["loading"].get(g, 0), PROGRAMS[1]["loading"].get(g, 0)] for g in GENES])
    for k, acts in enumerate(([1.0, 0.0], [0.3, 1.0])):
        m = np.maximum(MU0 + w @ acts, MIN_MEAN) * scale
        var = m + (CV0 * m**-ALPHA) ** 2 * m**2
        rows = types == cfg.celltype_names[k]
        for g in range(len(GENES)):
            _assert_moments(y[rows, g], m[g], var[g])
    np.testing.assert_allclose(program_means(cfg).to_numpy() * scale,
                               [np.maximum(MU0 + w @ a, MIN_MEAN) * scale for a in ([1, 0], [0.3, 1])])


def _clipped_moments(a: float, b: float) -> tuple[float, float]:
    """E[Y], Var[Y] when m = max(X, ε), X ~ N(a, b²), Y | m ~ Poisson-Gamma with Var = m + φ0² m^(2-2α).

    E[Y] = E[m]; Var[Y] = E[Var(Y | m)] + Var(E[Y | m]) = E[m] + φ0² E[m^(2-2α)] + Var(m), each
    expectation the mass of X below ε at m = ε plus an integral of the normal density above ε.
    """
    below = stats.norm.cdf((MIN_MEAN - a) / b)

    def expect(f) -> float:
        above, _ = integrate.quad(lambda x: f(x) * stats.norm.pdf(x, a, b), MIN_MEAN, np.inf, epsabs=1e-12)
        return f(MIN_MEAN) * below + above

    e1, e2 = expect(lambda x: x), expect(lambda x: x * x)
    e_pow = expect(lambda x: x ** (2 - 2 * ALPHA))
    return e1, e1 + CV0**2 * e_pow + (e2 - e1**2)


def test_moments_with_activation_spread_are_the_mixture_over_activations():
    specs = {
        "spread": {"program_activations": {"p": 1.0, "q": 0.2}, "activation_sd": {"p": 0.3, "q": 0.5}},
        # mean activation 0 with a large spread: about half the cells are clipped at ε
        "clipped": {"program_activations": {"p": 0.0}, "activation_sd": 1.0},
    }
    cfg = model_config(specs)
    y, types = _sample(cfg, 30_000, seed=2)
    w = np.array([[PROGRAMS[0]["loading"].get(g, 0), PROGRAMS[1]["loading"].get(g, 0)] for g in GENES])
    expected = expected_program_means(cfg)
    for k, (mu, sd) in enumerate((([1.0, 0.2], [0.3, 0.5]), ([0.0, 0.0], [1.0, 0.0]))):
        rows = types == cfg.celltype_names[k]
        for g in range(len(GENES)):
            a, b = MU0 + w[g] @ mu, float(np.sqrt((w[g] ** 2) @ np.square(sd)))
            if b == 0:
                m = max(a, MIN_MEAN)
                mean, var = m, m + CV0**2 * m ** (2 - 2 * ALPHA)
            else:
                mean, var = _clipped_moments(a, b)
            assert expected.iloc[k, g] == pytest.approx(mean, rel=1e-6, abs=1e-9)
            _assert_moments(y[rows, g], mean, var)


def test_same_generator_state_gives_the_same_counts_and_rows_follow_cell_gdf():
    cfg = model_config({"A": {"program_activations": {"p": 1.0}, "activation_sd": 0.2}, "B": {}})
    cells = pd.DataFrame({"celltype": ["A", "B"] * 500})
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    first = sample_counts_program_model(cells, cfg, rng)
    rng.bit_generator.state = state
    np.testing.assert_array_equal(sample_counts_program_model(cells, cfg, rng), first)
    assert not np.array_equal(sample_counts_program_model(cells, cfg, rng), first)  # the state moved on
    seeded = sample_counts_program_model(cells, cfg, 9)
    np.testing.assert_array_equal(sample_counts_program_model(cells, cfg, 9), seeded)
    assert first.shape == (1000, len(cfg.resolve_gene_names())) and np.issubdtype(first.dtype, np.integer)
    top = GENES.index("g_top")
    assert first[0::2, top].min() > 0 and first[1::2, top].max() <= 3  # row i is cell i: A high, B at the baseline


def test_cells_need_only_a_known_celltype_and_an_optional_scale():
    cfg = model_config({"Ductal/tumor epithelial": {"program_activations": {"p": 1.0}}, "Fibroblast / CAF": {}})
    plain = pd.DataFrame({"celltype": ["Ductal/tumor epithelial"] * 3})
    assert sample_counts_program_model(plain, cfg, 0).shape == (3, 6)
    zero = sample_counts_program_model(plain.assign(scale=0.0), cfg, 0)
    assert zero.sum() == 0
    with pytest.raises(ValueError, match=r"\['Fibroblast'\] not in cell_type_specs; known: \['Ductal/tumor"):
        sample_counts_program_model(pd.DataFrame({"celltype": ["Fibroblast"]}), cfg, 0)
    with pytest.raises(ValueError, match="scale"):
        sample_counts_program_model(plain.assign(scale=-1.0), cfg, 0)
    with pytest.raises(ValueError, match="no programs"):
        sample_counts_program_model(plain, SimulationConfig(), 0)
    assert sample_counts_program_model(plain.iloc[:0], cfg, 0).shape == (0, 6)


def test_program_gpar_df_has_one_row_per_gene_and_a_column_per_program():
    cfg = model_config({"A": {"program_activations": {"p": 1.0}}, "B c/d": {"program_activations": {"q": 2.0}}})
    gpar = build_program_gpar_df(cfg)
    assert gpar["feature_name"].tolist() == cfg.resolve_gene_names() == GENES
    assert gpar.columns.tolist() == ["feature_name", "gene_type", "expression_baseline", "p", "q", "A_mu", "B c/d_mu",
                                     "gene_leakage"]
    assert gpar["expression_baseline"].eq(MU0).all()
    assert gpar["p"].tolist() == [0.5, 2.0, 10.0, 50.0, 0.0, 0.0] and gpar["q"].tolist() == [0, 1, 0, 0, 4, 0]
    assert gpar["gene_type"].tolist() == ["p", "p", "p", "p", "q", "baseline"]
    np.testing.assert_allclose(gpar["B c/d_mu"], MU0 + 2.0 * gpar["q"])


def test_count_model_variant_draws_each_block_from_its_keyed_generator():
    cfg = model_config({"A": {"program_activations": {"p": 1.0}, "activation_sd": 0.3}, "B": {}})
    cfg = cfg.model_copy(update={"transcripts": cfg.transcripts.model_copy(update={"block_size": 64})})
    gpar = build_program_gpar_df(cfg)
    cells = pd.DataFrame({"celltype": ["A", "B", "A"] * 70, "scale": 1.0})
    model = CountModel.build(gpar, cells, config=cfg)
    assert isinstance(model, ProgramCountModel)
    rng = stage_rng(3, "counts")
    counts = generate_counts(gpar, cells, rng, config=cfg)
    for b, start in enumerate(range(0, len(cells), 64)):
        stop = min(start + 64, len(cells))
        np.testing.assert_array_equal(counts[start:stop], model.block(start, stop, block_rng(rng, b)))


def test_simulator_runs_the_program_model_deterministically():
    cfg = model_config({"Ductal/tumor epithelial": {"program_activations": {"p": 1.0}}, "T cell": {}})
    cfg = SimulationConfig.from_dict({**cfg.to_dict(), "n_cells": 120, "leakage_by_gene": 0.1})
    one, two = SpotlessSimulator(cfg).run(), SpotlessSimulator(cfg).run()
    np.testing.assert_array_equal(one.count_array, two.count_array)
    pd.testing.assert_frame_equal(one.trs_df, two.trs_df)
    assert set(one.cell_gdf["celltype"]) == {"Ductal/tumor epithelial", "T cell"}
    assert one.count_array.shape == (120, 6)


# ---------------------------------------------------------------------------------------
# counts_to_transcript_df and classify_leakage
# ---------------------------------------------------------------------------------------
def test_counts_to_transcript_df_rows_and_the_empty_case():
    trs = counts_to_transcript_df(np.array([[2, 0], [0, 1]]), ["cell_a", "cell_b"], ["EPCAM", "PTPRC"])
    assert trs.columns.tolist() == ["transcript_id", "cell_id", "feature_name"]
    assert trs["cell_id"].tolist() == ["cell_a", "cell_a", "cell_b"]
    assert trs["feature_name"].astype(str).tolist() == ["EPCAM", "EPCAM", "PTPRC"]
    for zeros, ids in ((np.zeros((3, 2), dtype=int), ["a", "b", "c"]), (np.zeros((0, 2), dtype=int), [])):
        empty = counts_to_transcript_df(zeros, ids, ["EPCAM", "PTPRC"])
        assert len(empty) == 0 and empty.columns.tolist() == ["transcript_id", "cell_id", "feature_name"]


@pytest.mark.parametrize("ids", ["string", "integer", "mixed"])
@pytest.mark.parametrize("with_genes", [True, False], ids=["gpar_df", "no_gpar_df"])
def test_leak_fraction_matches_the_union_rule(ids, with_genes):
    p_type = {"a": 0.3, "b": 0.0, "c": 0.1}
    p_gene = {"X": 0.2, "Y": 0.0}
    cell_ids = {"string": ["cell a", "cell/b", "c"], "integer": [7, 11, 13], "mixed": [7, 11, 13]}[ids]
    cells = pd.DataFrame({"cell_id": cell_ids, "leakage_percentage": list(p_type.values())})
    counts = np.full((3, 2), 20_000)
    trs = counts_to_transcript_df(counts, [str(c) for c in cell_ids] if ids == "mixed" else cell_ids, ["X", "Y"])
    trs = trs.sample(frac=1.0, random_state=0)  # any row order and index: the answer is by position
    genes = pd.DataFrame({"feature_name": list(p_gene), "gene_leakage": list(p_gene.values())})
    leaked = classify_leakage(trs, cells, genes if with_genes else None, np.random.default_rng(4))
    assert isinstance(leaked, np.ndarray) and leaked.dtype == bool and leaked.shape == (len(trs),)
    for c, pt in zip(cell_ids, p_type.values(), strict=True):
        for g, pg in p_gene.items():
            p = 1 - (1 - pt) * (1 - (pg if with_genes else 0.0))
            rows = ((trs["cell_id"].astype(str) == str(c)) & (trs["feature_name"] == g)).to_numpy()
            got = leaked[rows].mean()
            assert abs(got - p) <= 5 * np.sqrt(p * (1 - p) / rows.sum()) + 1e-12, (c, g, got, p)


def test_leakage_never_for_molecules_without_a_cell_and_unknown_ids_are_refused():
    cells = pd.DataFrame({"cell_id": ["a"], "leakage_percentage": [1.0]})
    trs = pd.DataFrame({"cell_id": ["a", "-1", None, "a"], "feature_name": ["X"] * 4})
    assert classify_leakage(trs, cells, None, 0).tolist() == [True, False, False, True]
    ints = pd.DataFrame({"cell_id": [3, -1], "feature_name": ["X", "X"]})
    assert classify_leakage(ints, pd.DataFrame({"cell_id": [3], "leakage_percentage": [1.0]}), None, 0).tolist() == [
        True, False]
    with pytest.raises(ValueError, match=r"cell_id values \['zz'\]"):
        classify_leakage(pd.DataFrame({"cell_id": ["zz"], "feature_name": ["X"]}), cells, None, 0)
    with pytest.raises(ValueError, match="more than once"):
        classify_leakage(trs, pd.concat([cells, cells]), None, 0)
    empty = classify_leakage(trs.iloc[:0], cells, None, 0)
    assert empty.shape == (0,) and empty.dtype == bool


@pytest.mark.parametrize("sd", [1e-160, 1e-300, 5e-324])
def test_vanishing_activation_spread_gives_the_limit_without_numpy_warnings(sd):
    # Found by the random-config property test: σ ~ 1e-300 overflowed c = (ε − a)/b and underflowed b².
    cfg = SimulationConfig(
        programs=[{"name": "p", "loading": {"A": 1e3, "B": 1e-300}}],
        cell_type_specs={"T": {"program_activations": {"p": 1.0}, "activation_sd": sd}},
    )
    arrays = ProgramArrays.from_config(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = arrays.expected_mean()
    np.testing.assert_allclose(got, arrays.mean_at_activation(), rtol=1e-12)
