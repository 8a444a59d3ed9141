"""Quality-score mixture, localisation error per axis, and the optics (merged / lost molecules)."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from STpuppeteer import SimulationConfig, simulate
from STpuppeteer.config import InstrumentConfig
from STpuppeteer.stages.instrument import draw_qv, qv_cap_probability, qv_cdf
from STpuppeteer.stages.optics import DETECTED, LOST, MERGED, expected_resolved_fraction, resolve_molecules


def trs_digest(trs: pd.DataFrame) -> str:
    """SHA-256 of every column's name and values (categoricals by categories and codes)."""
    h = hashlib.sha256()
    for name in trs.columns:
        col = trs[name]
        h.update(name.encode())
        if isinstance(col.dtype, pd.CategoricalDtype):
            h.update("\x00".join(map(str, col.cat.categories)).encode())
            col = col.cat.codes
        h.update(np.ascontiguousarray(col.to_numpy()).tobytes())
    return h.hexdigest()


# The Xenium preset's instrument before the optics and the qv mixture existed, given explicitly.
OLD_XENIUM_INSTRUMENT = {
    "jitter_um": 0.2,
    "ambient_rate_per_um2": 0.08,
    "neg_control_probe_rate_per_um2": 0.0018,
    "neg_control_codeword_rate_per_um2": 0.0012,
    "unassigned_codeword_rate_per_um2": 0.0006,
    "detection_efficiency": 0.95,
    "fov_size_um": 900.0,
    "fov_efficiency_sd": 0.05,
    "miscall_rate": 0.005,
}


# The tissue model of the pinned digests (the defaults before confluent tissue and domains).
OLD_TISSUE = {"morphology": {"cell_model": "expanded"}, "tissue": {"pattern": "mixed"}}


@pytest.mark.parametrize(
    ("config", "digest"),
    [
        (
            SimulationConfig(seed=11, n_cells=150, leakage_by_gene=0.1, leakage_by_celltype={"ct_1": 0.2},
                             **OLD_TISSUE),
            "09b02d3e18439d0631d2129da27d283870ff3686aafa4bba16def172bf1bc8da",
        ),
        (
            SimulationConfig(
                seed=5,
                n_cells=150,
                expression_scale=4.9,
                leakage_by_gene=0.15,
                tissue={"density_per_mm2": 2300.0, "section_thickness_um": 5.0, "pattern": "mixed"},
                morphology={"cell_model": "expanded"},
                instrument=OLD_XENIUM_INSTRUMENT,
            ),
            # The cells' molecules only (transcript ids dropped): the background's ambient genes
            # follow the expected gene totals since issue 17 (the whole run's digest was
            # b67eb6ca…, this digest of its cell molecules taken from the same code).
            "0303324e32fc6311deb644f99f4420162d9e33b1b6cd68accf213688d7995df7",
        ),
    ],
    ids=["perfect_instrument", "old_xenium_instrument"],
)
def test_effects_off_give_the_molecules_of_before(config, digest):
    # Digests taken with the code before the optics and the qv mixture existed, on the tissue of
    # that time (expanded cells, no domains), which later tissue models leave unchanged.
    trs = simulate(config).trs_df
    if config.instrument.ambient_rate_per_um2 > 0:
        trs = trs[trs["origin"].isin(["cell", "leaked"])].drop(columns="transcript_id").reset_index(drop=True)
    assert trs_digest(trs) == digest


# ---------------------------------------------------------------------------------------
# Quality scores
# ---------------------------------------------------------------------------------------
QV_CONFIG = InstrumentConfig(
    qv_cap_fraction=0.7,
    qv_mean=22.0,
    qv_sd=7.0,
    qv_background_cap_fraction=0.1,
    qv_background_mean=12.0,
    qv_background_sd=6.0,
    qv_density_scale_per_um2=2.0,
)


@pytest.mark.parametrize(("background", "density"), [(False, 0.0), (False, 1.5), (True, 0.0)])
def test_qv_quantiles_match_the_model(rng, background, density):
    n = 100_000
    qv = draw_qv(np.full(n, background), rng, config=QV_CONFIG, density=np.full(n, density))
    cap = qv_cap_probability(np.array([background]), np.array([density]), config=QV_CONFIG)[0]
    # The mass at the cap, and the model's CDF at the sample's quantiles of the tail.
    se = np.sqrt(cap * (1 - cap) / n)
    assert abs(np.mean(qv == 40.0) - cap) < 4 * se
    for p in (0.05, 0.1, 0.25, 0.5, 0.75, 0.9):
        if p >= 1 - cap:
            continue
        q = np.quantile(qv, p)
        assert (
            abs(qv_cdf(q, background=background, density=density, config=QV_CONFIG) - p)
            < 4 * np.sqrt(p * (1 - p) / n) + 1e-6
        ), p


def test_qv_low_tail_grows_with_density(rng):
    n = 50_000
    below = [
        np.mean(draw_qv(np.zeros(n, bool), rng, config=QV_CONFIG, density=np.full(n, d)) < 20) for d in (0.0, 1.0, 3.0)
    ]
    expected = [qv_cdf(19.999, density=d, config=QV_CONFIG) for d in (0.0, 1.0, 3.0)]
    assert below[0] < below[1] < below[2]
    np.testing.assert_allclose(below, expected, atol=4 * np.sqrt(0.25 / n))


def test_qv_cap_off_draws_the_plain_clipped_normal():
    cfg = InstrumentConfig()
    background = np.arange(1000) % 3 == 0
    qv = draw_qv(background, np.random.default_rng(3), config=cfg)
    z = np.random.default_rng(3).standard_normal(1000, dtype=np.float32)
    expected = np.where(background, z * np.float32(8.0) + np.float32(18.0), z * np.float32(4.0) + np.float32(35.0))
    np.testing.assert_array_equal(qv, np.clip(expected, 0, 40).astype(np.float32))


# ---------------------------------------------------------------------------------------
# Localisation error per axis
# ---------------------------------------------------------------------------------------
def test_localisation_error_per_axis():
    base = {"seed": 2, "n_cells": 80}
    true = simulate(SimulationConfig(**base)).trs_df
    moved = simulate(SimulationConfig(**base, instrument={"jitter_um": 0.15, "jitter_z_um": 0.6})).trs_df
    n = len(true)
    for axis, sigma in (("x", 0.15), ("y", 0.15), ("z", 0.6)):
        err = moved[axis].to_numpy(float) - true[axis].to_numpy(float)
        # s.d. of a sample s.d.: sigma / sqrt(2 n); float32 z adds rounding far below it.
        assert abs(err.std() - sigma) < 5 * sigma / np.sqrt(2 * n), axis
        assert abs(err.mean()) < 5 * sigma / np.sqrt(n), axis


# ---------------------------------------------------------------------------------------
# Optics: merged and lost molecules
# ---------------------------------------------------------------------------------------
def test_merged_and_lost_match_matern_thinning_of_a_poisson_pattern(rng):
    # One group, Poisson in a box; molecules at least one semi-axis from every face see a full
    # ellipsoid, so their detected share is exactly Matérn's type-II retention.
    d, d_z, merge_fraction, side, height = 0.4, 0.9, 0.3, 40.0, 8.0
    n_rep = 6
    for density in (0.5, 2.0):
        removed, merged, interior = [], [], []
        for _ in range(n_rep):
            n = rng.poisson(density * side * side * height)
            x, y = rng.uniform(0, side, n), rng.uniform(0, side, n)
            z = rng.uniform(0, height, n)
            res = resolve_molecules(
                x, y, z, np.zeros(n, int), rng, min_distance_um=d, min_distance_z_um=d_z, merge_fraction=merge_fraction
            )
            inside = (x > d) & (x < side - d) & (y > d) & (y < side - d) & (z > d_z) & (z < height - d_z)
            interior.append(inside.sum())
            removed.append(np.sum(res.status[inside] != DETECTED))
            merged.append(np.sum(res.status[inside] == MERGED))
            # Every molecule is accounted for by exactly one detection.
            assert len(res.keep) + res.merged.sum() + res.lost.sum() == n
        p_removed = 1 - expected_resolved_fraction(density, min_distance_um=d, min_distance_z_um=d_z)
        rate = np.array(removed) / np.array(interior)
        # Replicates are independent: the standard error of their mean, from their spread.
        assert abs(rate.mean() - p_removed) < 4 * rate.std(ddof=1) / np.sqrt(n_rep) + 1e-3, density
        share = np.sum(merged) / np.sum(removed)
        assert abs(share - merge_fraction) < 4 * np.sqrt(merge_fraction * (1 - merge_fraction) / np.sum(removed))


def test_only_molecules_of_one_group_merge(rng):
    n = 2000
    x, y, z = rng.uniform(0, 5, n), rng.uniform(0, 5, n), rng.uniform(0, 1, n)
    res = resolve_molecules(x, y, z, np.arange(n), rng, min_distance_um=0.5, min_distance_z_um=0.5, merge_fraction=0.5)
    assert np.all(res.status == DETECTED)
    np.testing.assert_array_equal(res.x, x)


def test_merged_detection_sits_at_the_mean_lost_keeps_its_own():
    x, y, z = np.array([0.0, 0.2, 10.0, 10.2]), np.zeros(4), np.zeros(4)
    group = np.array([0, 0, 1, 1])
    for fraction, status in ((1.0, MERGED), (0.0, LOST)):
        res = resolve_molecules(
            x,
            y,
            z,
            group,
            np.random.default_rng(0),
            min_distance_um=0.5,
            min_distance_z_um=0.5,
            merge_fraction=fraction,
        )
        assert len(res.keep) == 2
        assert set(res.status[res.status != DETECTED]) == {status}
        if status == MERGED:
            np.testing.assert_allclose(res.x, [0.1, 10.1])
            np.testing.assert_array_equal(res.merged, [1, 1])
        else:
            np.testing.assert_array_equal(res.x, x[res.keep])
            np.testing.assert_array_equal(res.lost, [1, 1])


def test_truth_accounts_for_every_molecule():
    # Crowded on purpose (2 µm), every other loss off: true counts = landed + leaked + merged + lost.
    cfg = SimulationConfig(
        seed=3,
        n_cells=120,
        expression_scale=5.0,
        leakage_by_gene=0.2,
        instrument={
            "min_distance_um": 2.0,
            "min_distance_z_um": 3.0,
            "merge_fraction": 0.4,
            "jitter_um": 0.2,
            "ambient_rate_per_um2": 0.05,
            "neg_control_probe_rate_per_um2": 0.01,
        },
    )
    result = simulate(cfg)
    trs = result.trs_df
    genes = trs[trs["origin"].isin(["cell", "leaked"])]
    assert genes["merged"].sum() > 100 and genes["lost"].sum() > 100
    assert (trs.loc[~trs.index.isin(genes.index), ["merged", "lost"]].to_numpy() == 0).all()
    stands_for = 1 + genes["merged"] + genes["lost"]
    table = stands_for.groupby([genes["cell_id"], genes["true_feature_name"]], observed=False).sum()
    gene_names = result.gpar_df["feature_name"].to_numpy()
    expected = pd.Series(
        result.count_array.ravel(),
        index=pd.MultiIndex.from_product([result.cell_gdf["cell_id"].to_numpy(), gene_names]),
    )
    got = table.reindex(expected.index, fill_value=0)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    origin = genes["origin"].astype(str)
    assert (origin == "cell").sum() + (origin == "leaked").sum() + genes["merged"].sum() + genes[
        "lost"
    ].sum() == result.count_array.sum()


def test_detection_rate_falls_with_crowding():
    counts = []
    for d in (0.0, 0.5, 1.5):
        cfg = SimulationConfig(seed=4, n_cells=60, expression_scale=5.0, instrument={"min_distance_um": d} if d else {})
        counts.append(len(simulate(cfg).trs_df))
    assert counts[0] > counts[1] > counts[2]
