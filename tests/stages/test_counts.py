import numpy as np
import pandas as pd
import pytest

from STpuppeteer._random import stage_rng
from STpuppeteer.config import SimulationConfig
from STpuppeteer.stages.counts import generate_counts

N_CELLS = 20_000
THETA = np.array([0.5, 2.0, 8.0])
MU = np.array([0.3, 2.0, 10.0])


def _gpar():
    return pd.DataFrame({
        "feature_name": ["g0", "g1", "g2"],
        "gene_type": ["hk"] * 3,
        "ct_0_theta": THETA, "ct_0_mu": MU,
        "ct_1_theta": THETA, "ct_1_mu": MU * 0.1,
    })


def _cells(n, scale=1.0, celltype="ct_0"):
    return pd.DataFrame({"cell_id": np.arange(n), "celltype": celltype, "scale": np.full(n, scale)})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counts_match_negative_binomial_mean_and_variance(seed):
    cfg = SimulationConfig(seed=seed, expression_scale=1.5)
    counts = generate_counts(_gpar(), _cells(N_CELLS, scale=0.8), stage_rng(seed, "counts"), config=cfg)
    assert counts.shape == (N_CELLS, 3)
    assert np.issubdtype(counts.dtype, np.integer)
    m = 0.8 * 1.5 * MU
    var = m + m**2 / THETA
    mean_hat = counts.mean(axis=0)
    assert np.all(np.abs(mean_hat - m) < 5 * np.sqrt(var / N_CELLS))
    centred = counts - mean_hat
    var_hat = centred.var(axis=0, ddof=1)
    m4 = (centred**4).mean(axis=0)
    se_var = np.sqrt((m4 - var_hat**2) / N_CELLS)
    assert np.all(np.abs(var_hat - var) < 5 * se_var)


def test_counts_use_each_cells_type():
    cells = pd.concat([_cells(5000, celltype="ct_0"), _cells(5000, celltype="ct_1")], ignore_index=True)
    counts = generate_counts(_gpar(), cells, np.random.default_rng(0), config=SimulationConfig())
    ratio = counts[5000:].mean(axis=0) / counts[:5000].mean(axis=0)
    # ct_1's μ is a tenth of ct_0's.
    assert np.all(np.abs(ratio - 0.1) < 0.03)


def test_counts_are_keyed_by_block_not_by_cell_count():
    cfg = SimulationConfig(transcripts={"block_size": 1000})
    big = generate_counts(_gpar(), _cells(3500), stage_rng(1, "counts"), config=cfg)
    small = generate_counts(_gpar(), _cells(2000), stage_rng(1, "counts"), config=cfg)
    np.testing.assert_array_equal(big[:2000], small)


def test_same_seed_same_counts_and_zero_scale_gives_zero():
    cfg = SimulationConfig()
    a = generate_counts(_gpar(), _cells(100), stage_rng(3, "counts"), config=cfg)
    b = generate_counts(_gpar(), _cells(100), stage_rng(3, "counts"), config=cfg)
    np.testing.assert_array_equal(a, b)
    zero = generate_counts(_gpar(), _cells(100, scale=0.0), stage_rng(3, "counts"), config=cfg)
    assert zero.sum() == 0


def test_unknown_celltype_and_bad_scale_are_refused():
    with pytest.raises(ValueError, match="ct_9"):
        generate_counts(_gpar(), _cells(3, celltype="ct_9"), np.random.default_rng(0), config=SimulationConfig())
    with pytest.raises(ValueError, match="scale"):
        generate_counts(_gpar(), _cells(3, scale=-1.0), np.random.default_rng(0), config=SimulationConfig())


def test_expression_scale_multiplies_molecules_per_cell():
    cells = _cells(4000)
    low = generate_counts(_gpar(), cells, stage_rng(0, "counts"), config=SimulationConfig(expression_scale=1.0))
    high = generate_counts(_gpar(), cells, stage_rng(0, "counts"), config=SimulationConfig(expression_scale=3.0))
    assert abs(high.sum() / low.sum() - 3.0) < 0.15
