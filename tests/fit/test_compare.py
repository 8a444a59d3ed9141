import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats

from realism_fixtures import make_reference
from STpuppeteer.fit.compare import (
    DISTANCE_COLUMNS,
    METHODS,
    MIN_IN_CELL_MOLECULES,
    compare_references,
    compare_statistics,
    is_better,
    realism_statistics,
)
from STpuppeteer.fit.reference import Reference
from STpuppeteer.plotting.realism import RealismData


def _by_statistic(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("statistic")


def test_statistics_of_a_small_reference():
    counts = np.array([[0, 2, 1], [1, 3, 0], [0, 1, 0]], dtype=np.int64)
    cells = pd.DataFrame({"cell_area": [10.0, 20.0, np.nan], "nucleus_area": [4.0, 5.0, 6.0]},
                         index=["c0", "c1", "c2"])
    n_a, n_b = MIN_IN_CELL_MOLECULES, MIN_IN_CELL_MOLECULES - 1
    mol = pd.DataFrame({
        "x": 0.0, "y": 0.0,
        "gene": ["a"] * n_a + ["b"] * n_b + ["NegControlProbe_1"] * 4,
        "cell_id": pd.array(["c0"] * (n_a + n_b) + [None] * 4, dtype="string"),
        "is_control": [False] * (n_a + n_b) + [True] * 4,
        "qv": [20.1] * n_a + [30.0] * n_b + [5.0] * 4,
        "overlaps_nucleus": [True] * 5 + [False] * (n_a - 5) + [True] * n_b + [False] * 4,
    })
    ref = Reference(sparse.csr_matrix(counts), ["a", "b", "c"], cells, molecules=mol, region_area_um2=100.0)
    st = realism_statistics(ref)
    np.testing.assert_allclose(st.gene_mean, counts.mean(axis=0))
    np.testing.assert_allclose(st.gene_variance, counts.var(axis=0, ddof=1))
    np.testing.assert_allclose(st.gene_zero_fraction, (counts == 0).mean(axis=0))
    assert st.totals_per_cell.tolist() == [3, 4, 1]
    assert st.genes_per_cell.tolist() == [2, 2, 1]
    np.testing.assert_allclose(st.cell_area, [10.0, 20.0])  # the NaN area is left out
    np.testing.assert_allclose(st.molecules_per_um2, [0.3, 0.2])
    # b has one in-cell molecule too few for a nuclear fraction.
    assert st.nuclear_fraction.to_dict() == {"a": 5 / n_a}
    # qv of gene molecules only, on the 0.25 grid.
    assert st.qv_histogram.to_dict() == {20.0: n_a, 30.0: n_b}
    assert st.n_control_molecules == 4
    assert st.control_per_um2 == pytest.approx(0.04)
    assert st.control_per_cell == pytest.approx(4 / 3)
    assert st.missing == {}
    assert isinstance(st, RealismData)


def test_identical_references_give_ks_zero_and_correlation_one(rng):
    ref = make_reference(rng)
    table = compare_references(ref, ref)
    assert tuple(table.columns) == DISTANCE_COLUMNS
    assert list(table["statistic"]) == list(METHODS)
    t = _by_statistic(table)
    assert not t["value"].isna().any(), t[t["value"].isna()]
    assert (t.loc[t["kind"] == "ks", "value"] == 0).all()
    assert t.loc["gene_mean_correlation", "value"] == pytest.approx(1.0)
    assert t.loc["mean_variance", "value"] == 0
    assert t.loc["control_rate", "value"] == 0
    assert set(t["better"]) == {"lower", "higher"}
    assert t.loc["gene_mean_correlation", "better"] == "higher"


def test_a_shifted_reference_is_farther_on_every_statistic(rng):
    mu = rng.lognormal(0.0, 1.0, size=80)
    real = make_reference(rng, n_genes=80, mu=mu, source="real")
    close = make_reference(rng, n_genes=80, mu=mu, source="close")
    far = make_reference(rng, n_genes=80, mu=2.5 * rng.permutation(mu), theta=0.7, area_scale=1.6, qv_mean=26.0,
                         nuclear_shift=0.25, controls=600, source="far")
    d_close, d_far = compare_references(close, real), compare_references(far, real)
    better = is_better(d_close, d_far)
    assert better.notna().all()
    assert better.all(), pd.concat([_by_statistic(d_close)["value"], _by_statistic(d_far)["value"]], axis=1)
    t = _by_statistic(d_far)
    assert t.loc["totals_per_cell", "value"] > 0.5
    assert t.loc["gene_mean_correlation", "value"] < 0.5 < _by_statistic(d_close).loc["gene_mean_correlation",
                                                                                       "value"]
    # Same genes, same instrument: the close one is close.
    assert _by_statistic(d_close).loc["qv", "value"] < 0.02


def test_missing_data_are_rows_with_nan_and_a_note(rng):
    sim = make_reference(rng, source="sim")
    real = make_reference(rng, molecules=False, source="real")
    real = dataclasses.replace(real, cells=real.cells.drop(columns=["nucleus_area"]),
                               genes=[f"other{k}" for k in range(len(real.genes))])
    t = _by_statistic(compare_references(sim, real))
    assert list(t.index) == list(METHODS)  # nothing dropped
    for statistic, words in [("nucleus_area", "real lacks nucleus areas (the cells table has no nucleus_area"),
                             ("nuclear_fraction", "real lacks per-gene nuclear fractions (no molecule table)"),
                             ("qv", "real lacks qv (no molecule table)"),
                             ("control_rate", "real lacks control molecules (no molecule table)"),
                             ("gene_mean_correlation", "share no gene by name")]:
        assert np.isnan(t.loc[statistic, "value"]), statistic
        assert words in t.loc[statistic, "note"], (statistic, t.loc[statistic, "note"])
        assert "sim lacks" not in t.loc[statistic, "note"]
    assert t.loc["qv", "n_sim"] > 0 and t.loc["qv", "n_real"] == 0
    assert t.loc["cell_area", "value"] >= 0  # what both have is still compared
    both = _by_statistic(compare_references(real, real))
    assert both.loc["qv", "note"] == "sim lacks qv (no molecule table); real lacks qv (no molecule table)"


def test_control_rate_falls_back_to_per_cell_without_a_region(rng):
    sim = make_reference(rng, controls=300)
    real = dataclasses.replace(make_reference(rng, controls=300), region_area_um2=None)
    row = _by_statistic(compare_references(sim, real)).loc["control_rate"]
    assert row["note"] == "per cell: real has no region area"
    assert row["value"] == pytest.approx(0.0)
    doubled = _by_statistic(compare_references(make_reference(rng, controls=600), real)).loc["control_rate"]
    assert doubled["value"] == pytest.approx(2 * 300 / 900)


def test_qv_distance_is_the_exact_ks_for_scores_on_the_grid(rng):
    sim, real = make_reference(rng), make_reference(rng, qv_mean=30.0)
    for ref in (sim, real):
        ref.molecules["qv"] = np.round(ref.molecules["qv"])
    d = _by_statistic(compare_references(sim, real)).loc["qv", "value"]
    genes = [r.molecules.loc[~r.molecules["is_control"], "qv"] for r in (sim, real)]
    assert d == pytest.approx(stats.ks_2samp(*genes).statistic)


def test_is_better_refuses_different_tables(rng):
    ref = make_reference(rng, n_cells=50, n_genes=20)
    table = compare_references(ref, ref)
    with pytest.raises(ValueError, match="different statistics"):
        is_better(table, table.iloc[:-1])
    assert not is_better(table, table).any()  # a tie is not a win


def test_compare_statistics_matches_compare_references(rng):
    sim, real = make_reference(rng, n_cells=80), make_reference(rng, n_cells=90)
    pd.testing.assert_frame_equal(compare_references(sim, real),
                                  compare_statistics(realism_statistics(sim), realism_statistics(real)))
