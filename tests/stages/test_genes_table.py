"""Stage 1 and 3 with a gene table: gpar_df is the table, and the counts follow its μ and θ."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import STpuppeteer as stp
from STpuppeteer.config import SimulationConfig
from STpuppeteer.io.ground_truth import read_ground_truth
from STpuppeteer.metrics import exclusive_marker_pairs
from STpuppeteer.pipeline.streamed import simulate_to_xenium
from STpuppeteer.stages.genes import generate_gene_parameters, marker_celltypes

TYPES = ["T cell", "B cell"]
GENES = {
    "CD3E": {"marks": ["T cell"], "mu": [3.0, 0.05], "theta": [1.5, 2.0]},
    "MS4A1": {"marks": ["B cell"], "mu": [0.05, 4.0], "theta": [2.0, 0.4]},
    "ACTB": {"mu": [12.0, 9.0], "theta": [20.0, 6.0]},
    "MALAT1": {"mu": [0.7, 1.1], "theta": [0.3, 5.0]},
    "XIST": {"class": "silent", "mu": 0.0, "theta": 1.0},
}


@pytest.fixture(scope="module")
def config() -> SimulationConfig:
    # 2,500 cells of each type: enough for a mean within a few % and a variance within ~10 %.
    return SimulationConfig(
        seed=11,
        n_cells=5000,
        gene_table={"celltypes": TYPES, "genes": GENES},
        tissue={"proportions": [0.5, 0.5]},
        leakage_by_gene={"ACTB": 0.05},
    )


@pytest.fixture(scope="module")
def result(config):
    return stp.simulate(config)


def test_gpar_df_is_the_table_exactly(config, result):
    table = config.gene_table
    expected = pd.DataFrame(
        {
            "feature_name": list(GENES),
            "gene_type": ["ct_0_mkr", "ct_1_mkr", "hk", "hk", "silence"],
            "T cell_theta": table.theta_array()[0],
            "T cell_mu": table.mu_array()[0],
            "B cell_theta": table.theta_array()[1],
            "B cell_mu": table.mu_array()[1],
            "gene_leakage": [0.0, 0.0, 0.05, 0.0, 0.0],
        }
    )
    pd.testing.assert_frame_equal(result.gpar_df, expected, check_exact=True)
    assert result.gpar_df.loc[0, "T cell_mu"] == 3.0 and result.gpar_df.loc[1, "B cell_theta"] == 0.4


def test_the_table_is_not_drawn(config, rng):
    state = rng.bit_generator.state
    first = generate_gene_parameters(config, rng)
    assert rng.bit_generator.state == state
    pd.testing.assert_frame_equal(first, generate_gene_parameters(config, np.random.default_rng(1)))


def test_markers_of_the_table_are_read_as_markers(result):
    assert marker_celltypes(result.gpar_df) == {"CD3E": ["T cell"], "MS4A1": ["B cell"]}
    assert exclusive_marker_pairs(result.gpar_df).tolist() == [[0, 1]]
    shared = SimulationConfig(
        gene_table={
            "celltypes": ["a", "b", "c"],
            "genes": {"G": {"marks": ["c", "a"], "mu": 1.0, "theta": 1.0}, "H": {"mu": 1.0, "theta": 1.0}},
        }
    )
    assert marker_celltypes(generate_gene_parameters(shared, np.random.default_rng(0))) == {"G": ["a", "c"]}


def _nb_moments(m: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """Variance and fourth central moment of NB(mean m, dispersion θ), per cell."""
    var = m + m**2 / theta
    p = theta / (theta + m)
    kurt = stats.nbinom(theta, p).stats(moments="k")
    return var, (np.asarray(kurt) + 3.0) * var**2


@pytest.mark.parametrize("gene", ["CD3E", "MS4A1", "ACTB", "MALAT1"])
@pytest.mark.parametrize("celltype", TYPES)
def test_counts_follow_mu_and_theta_given_the_size_factors(result, gene, celltype):
    k, g = TYPES.index(celltype), list(GENES).index(gene)
    mu, theta = result.config.gene_table.mu_array()[k, g], result.config.gene_table.theta_array()[k, g]
    cells = np.flatnonzero(result.cell_gdf["celltype"].to_numpy() == celltype)
    assert len(cells) == 2500
    y = result.count_array[cells, g].astype(float)
    m = mu * result.cell_gdf["scale"].to_numpy()[cells]  # E[y_c] = μ·s_c
    var, mu4 = _nb_moments(m, theta)
    # Mean: the sample mean against μ·(mean size factor), with its standard error.
    se_mean = np.sqrt(var.sum()) / len(cells)
    assert abs(y.mean() - m.mean()) < 4 * se_mean, (y.mean(), m.mean(), se_mean)
    # Variance: Σ (y − m)² has expectation Σ (m + m²/θ) and variance Σ (μ4 − var²).
    z = ((y - m) ** 2 - var).sum() / np.sqrt((mu4 - var**2).sum())
    assert abs(z) < 4, z
    # ... and, where the overdispersion is a good part of the variance, it sees a θ twice as large as wrong.
    var2, mu4_2 = _nb_moments(m, 2 * theta)
    if mu**2 / theta > mu:
        assert abs(((y - m) ** 2 - var2).sum() / np.sqrt((mu4_2 - var2**2).sum())) > 4


def test_a_gene_with_mu_zero_makes_no_molecules(result):
    assert result.count_array[:, list(GENES).index("XIST")].sum() == 0


def test_streamed_driver_runs_a_table_config(tmp_path):
    cfg = SimulationConfig(
        seed=2,
        n_cells=300,
        gene_table={"celltypes": TYPES, "genes": GENES},
        transcripts={"block_size": 64},
        instrument={"ambient_rate_per_um2": 0.01},
    )
    path = simulate_to_xenium(cfg, tmp_path / "xenium", images=False)
    truth = read_ground_truth(path)
    in_memory = stp.simulate(cfg)
    pd.testing.assert_frame_equal(truth["gpar_df"], in_memory.gpar_df)
    np.testing.assert_array_equal(truth["count_array"], in_memory.count_array)
    trs_df = truth["trs_df"]
    from_cells = trs_df.loc[trs_df["origin"].isin(["cell", "leaked"]), "feature_name"].astype(str)
    assert set(from_cells) == set(GENES) - {"XIST"}
    assert set(truth["cell_gdf"]["celltype"]) == set(TYPES)
    with h5py.File(path / "cell_feature_matrix.h5") as h5:
        features = [name.decode() for name in h5["matrix/features/name"][:]]
    assert features[: len(GENES)] == list(GENES)
