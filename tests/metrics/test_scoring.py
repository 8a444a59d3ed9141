"""Scoring against the truth: hand-made tiny cases with known answers, then real simulations."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely
from scipy.optimize import linear_sum_assignment

from STpuppeteer.metrics import (
    Truth,
    adjusted_rand_index,
    align_assignment,
    exclusive_marker_pairs,
    expansion_assignment,
    expansion_shapes,
    f1_at_thresholds,
    format_scores,
    match,
    mecr,
    nucleus_assignment,
    oracle_assignment,
    rowwise_pearson,
    score,
    score_assignment,
    score_baselines,
    score_cli,
    score_labels,
    score_segmentation,
    scores_to_frame,
)
from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)


# --------------------------------------------------------------------------- tiny truth
def _gpar(names: list[str], types: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"feature_name": names, "gene_type": types})


@pytest.fixture
def tiny_truth() -> Truth:
    """Three 10 × 10 µm cells in a row, 4 × 4 nuclei in their middles, two cell types.

    Molecules (x, y, gene, source, origin, landed):
      0-2  in cell 0's nucleus, ct_0 marker, from cell 0
      3    in cell 0's cytoplasm (x=1), hk, from cell 0
      4-5  in cell 1's nucleus, ct_1 marker, from cell 1
      6    leaked from cell 1 into cell 2's cytoplasm (x=21), ct_1 marker
      7    ambient, in no cell (y=15)
      8    ambient, inside cell 2's nucleus, hk
      9    negative control, in cell 0
    """
    boxes = [shapely.box(10 * k, 0, 10 * k + 10, 10) for k in range(3)]
    nuclei = [shapely.box(10 * k + 3, 3, 10 * k + 7, 7) for k in range(3)]
    cell_gdf = gpd.GeoDataFrame(
        {"cell_id": [0, 1, 2], "celltype": ["ct_0", "ct_1", "ct_0"], "nucleus": gpd.GeoSeries(nuclei)},
        geometry=boxes,
    )
    gpar_df = _gpar(["ct_0_mkr_0", "ct_1_mkr_0", "hk_0"], ["ct_0_mkr", "ct_1_mkr", "hk"])
    count_array = np.array([[3, 0, 1], [0, 3, 0], [0, 0, 0]])
    trs_df = pd.DataFrame(
        {
            "transcript_id": np.arange(10) + 100,
            "x": [4, 5, 6, 1, 14, 15, 21, 5, 25, 2.0],
            "y": [5, 5, 5, 5, 5, 5, 5, 15, 5, 2.0],
            "feature_name": ["ct_0_mkr_0"] * 3 + ["hk_0"] + ["ct_1_mkr_0"] * 3 + ["hk_0", "hk_0", "NegControlProbe_0"],
            "cell_id": [0, 0, 0, 0, 1, 1, 1, -1, -1, -1],
            "origin": ["cell"] * 6 + ["leaked", "ambient", "ambient", "control"],
            "landed_cell_id": [0, 0, 0, 0, 1, 1, 2, -1, 2, 0],
        }
    )
    return Truth(gpar_df=gpar_df, cell_gdf=cell_gdf, count_array=count_array, trs_df=trs_df)


# --------------------------------------------------------------------------- matching
def test_match_is_hungarian_on_a_dense_random_case(rng: np.random.Generator) -> None:
    w = rng.integers(0, 6, size=(30, 40)) * (rng.random((30, 40)) < 0.2)
    ti, pj = match(sp.csr_matrix(w))
    r, c = linear_sum_assignment(w, maximize=True)
    assert w[ti, pj].sum() == w[r, c].sum()
    assert len(set(ti)) == len(ti) and len(set(pj)) == len(pj)
    assert (w[ti, pj] > 0).all()


def test_max_overlap_keeps_only_mutual_best() -> None:
    w = sp.csr_matrix(np.array([[5, 4], [4, 0]]))
    assert [a.tolist() for a in match(w, method="max_overlap")] == [[0], [0]]
    with pytest.raises(ValueError, match="method='nope'"):
        match(w, method="nope")  # type: ignore[arg-type]


def test_f1_at_thresholds_counts_matches_above_each_threshold() -> None:
    iou = sp.csr_matrix(np.array([[0.9, 0.0], [0.0, 0.6], [0.0, 0.0]]))
    f1 = f1_at_thresholds(iou, np.array([0.5, 0.7, 0.95]))
    assert f1["tp"].tolist() == [2, 1, 0]
    assert np.allclose(f1["precision"], [1.0, 0.5, 0.0])
    assert np.allclose(f1["recall"], [2 / 3, 1 / 3, 0.0])
    assert np.allclose(f1["f1"], [0.8, 0.4, 0.0])


# --------------------------------------------------------------------------- assignment
def test_assignment_scores_of_a_hand_made_case() -> None:
    # source/pred worked out by hand: t0 ↔ a (3 shared), t1 ↔ b (2 shared), c unmatched.
    source = np.array([0, 0, 0, 0, 1, 1, 1, -1, -1, 1])
    pred = np.array([0, 0, 0, 1, 1, 1, -1, -1, 0, 2])
    origin = np.array(["cell"] * 6 + ["leaked", "ambient", "ambient", "leaked"])
    s = score_assignment(source, pred, n_true=2, n_pred=3, origin=origin, cell_ids=np.array([10, 11]))
    assert s.true_index.tolist() == [0, 1] and s.pred_index.tolist() == [0, 1]
    expected = {
        "accuracy": 0.6,
        "precision": 5 / 8,
        "recall": 5 / 8,
        "assigned_fraction": 0.8,
        "mean_jaccard": (0.6 + 0.4) / 2,
        "f1_jaccard50": 0.4,
        "n_over_segmented": 1,
        "n_under_segmented": 0,
        "ambient_unassigned": 0.5,
        "leaked_unassigned": 0.5,
        "leaked_to_source": 0.0,
        "leaked_to_other": 0.5,
    }
    for key, value in expected.items():
        assert s.summary[key] == pytest.approx(value), key
    assert s.per_cell["cell_id"].tolist() == [10, 11]
    assert s.per_cell["jaccard"].tolist() == pytest.approx([0.6, 0.4])
    assert s.per_cell["n_shared"].tolist() == [3, 2]


def test_under_segmentation_by_molecules() -> None:
    # Two true cells of 4 molecules each, predicted as one cell.
    s = score_assignment(np.repeat([0, 1], 4), np.zeros(8, dtype=int), n_true=2, n_pred=1)
    assert s.summary["n_under_segmented"] == 1
    assert s.summary["accuracy"] == pytest.approx(0.5)
    assert s.summary["precision"] == pytest.approx(0.5)
    assert s.summary["mean_jaccard"] == pytest.approx((0.5 + 0) / 2)


def test_align_assignment_reads_any_tool_table() -> None:
    ids = np.array([1, 2, 3, 4, 5])
    baysor_like = pd.DataFrame({"transcript_id": ["5", "4", "3", "2", "1"], "cell": [0, 7, 7, 0, 9]})
    a = align_assignment(ids, baysor_like, unassigned=(0,))
    assert a.cell_ids[a.codes[a.codes >= 0]].tolist() == [9, 7, 7]
    assert (a.codes == -1).tolist() == [False, True, False, False, True]
    xenium_like = pd.DataFrame({"tid": [1, 2, 3], "cell_id": ["aaaaaaab-1", "UNASSIGNED", None]})
    b = align_assignment(ids, xenium_like, transcript_col="tid")
    assert b.codes.tolist() == [0, -1, -1, -1, -1]
    assert b.coverage == pytest.approx(0.6)
    with pytest.raises(ValueError, match="cell_col='nope'"):
        align_assignment(ids, xenium_like, transcript_col="tid", cell_col="nope")
    with pytest.raises(ValueError, match="duplicated id"):
        align_assignment(ids, pd.DataFrame({"transcript_id": [1, 1], "cell_id": [0, 0]}))


# --------------------------------------------------------------------------- segmentation
def test_segmentation_scores_of_a_hand_made_case() -> None:
    true = [shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)]
    # B split in two halves (IoU 0.5 each): one match at 0.5, an over-segmentation.
    pred = [shapely.box(0, 0, 10, 10), shapely.box(10, 0, 15, 10), shapely.box(15, 0, 20, 10)]
    s = score_segmentation(true, pred)
    assert s["precision50"] == pytest.approx(2 / 3)
    assert s["recall50"] == pytest.approx(1.0)
    assert s["f1_50"] == pytest.approx(0.8)
    assert s["f1_mean"] == pytest.approx((0.8 + 9 * 0.4) / 10)
    assert s["n_over_segmented"] == 1 and s["n_under_segmented"] == 0
    merged = score_segmentation(true, [shapely.box(0, 0, 20, 10)])
    assert merged["n_under_segmented"] == 1 and merged["n_over_segmented"] == 0
    assert merged["f1_50"] == pytest.approx(2 / 3)  # IoU exactly 0.5 with one true cell
    assert score_segmentation(true, [])["f1_mean"] == 0.0


# --------------------------------------------------------------------------- expression
def test_exclusive_marker_pairs_skip_shared_types() -> None:
    gpar = _gpar(["a", "b", "ab", "c", "h"], ["ct_0_mkr", "ct_1_mkr", "ct_0_ct_1_mkr", "ct_2_mkr", "hk"])
    pairs = {tuple(p) for p in exclusive_marker_pairs(gpar).tolist()}
    assert pairs == {(0, 1), (0, 3), (1, 3), (2, 3)}


def test_mecr_and_correlation_known_values() -> None:
    counts = np.array([[3, 0, 1], [0, 2, 1], [1, 1, 0], [0, 0, 5]])
    # pair (0,1): either 3 cells, both 1; pair (0,2): either 4, both 1.
    assert mecr(counts, np.array([[0, 1], [0, 2]])) == pytest.approx((1 / 3 + 1 / 4) / 2)
    assert mecr(sp.csr_matrix(counts), np.array([[0, 1]]), min_count=2) == pytest.approx(0.0)
    assert np.isnan(mecr(counts, np.zeros((0, 2))))
    r = rowwise_pearson(np.array([[1, 2, 3], [3, 2, 1]]), np.array([[1, 2, 3], [1, 2, 3]]))
    assert r.tolist() == pytest.approx([1.0, -1.0])


# --------------------------------------------------------------------------- typing
def test_ari_known_values_and_label_accuracy() -> None:
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)  # sklearn's doc example
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(0.8 / 3.3)
    assert adjusted_rand_index(list("aabb"), list("bbaa")) == 1.0
    s = score_labels(np.array(["ct_0", "ct_0", "ct_1", "ct_1"]), np.array(["ct_0", "ct_1", "ct_1", "ct_1"]))
    assert s["accuracy"] == 0.75 and s["accuracy_best_map"] == 0.75
    renamed = score_labels(np.array(["ct_0", "ct_1", "ct_1"]), np.array(["x", "y", "y"]))
    assert renamed["accuracy"] == 0.0 and renamed["accuracy_best_map"] == 1.0 and renamed["ari"] == 1.0


def test_ari_of_independent_labels_is_near_zero(rng: np.random.Generator) -> None:
    # Under independence ARI has mean ~0; its s.d. for n = 3000 and 3 labels is 5.4e-4
    # (400 draws; the asymptotic sqrt(2) / n is 4.7e-4). Bound: 5 s.d.
    n = 3000
    a, b = rng.integers(0, 3, n), rng.integers(0, 3, n)
    assert abs(adjusted_rand_index(a, b)) < 5 * 5.4e-4


# --------------------------------------------------------------------------- baselines on the tiny truth
def test_baselines_on_the_tiny_truth(tiny_truth: Truth) -> None:
    nuc = nucleus_assignment(tiny_truth)["cell_id"].tolist()
    assert nuc == [0, 0, 0, -1, 1, 1, -1, -1, 2, -1]
    # Molecule 3 at x=1 is 2 µm from nucleus 0; molecule 6 at x=21 is 2 µm from nucleus 2.
    assert expansion_assignment(tiny_truth, 1.0)["cell_id"].tolist() == nuc
    assert expansion_assignment(tiny_truth, 0.0)["cell_id"].tolist() == nuc
    exp = expansion_assignment(tiny_truth, 2.5)["cell_id"].tolist()
    assert exp == [0, 0, 0, 0, 1, 1, 2, -1, 2, 0]
    with pytest.raises(ValueError, match="distance=-1"):
        expansion_assignment(tiny_truth, -1)
    assert oracle_assignment(tiny_truth, "polygons")["cell_id"].tolist() == [0, 0, 0, 0, 1, 1, 2, -1, 2, 0]
    assert oracle_assignment(tiny_truth, "source")["cell_id"].tolist() == [0, 0, 0, 0, 1, 1, 1, -1, -1, -1]
    shapes = expansion_shapes(tiny_truth, 2.0)
    assert shapely.contains(shapes.geometry.to_numpy(), tiny_truth.cell_gdf["nucleus"].to_numpy()).all()
    # Three grown nuclei 6 µm apart never overlap at 2 µm.
    assert shapely.area(shapely.intersection(shapes.geometry[0], shapes.geometry[1])) == 0


def test_score_tiny_truth_end_to_end(tiny_truth: Truth) -> None:
    s = score(tiny_truth, assignment=oracle_assignment(tiny_truth, "source"))
    a = s["assignment"]
    assert a["n_molecules"] == 9  # the control is left out
    assert a["accuracy"] == a["precision"] == a["recall"] == a["mean_jaccard"] == 1.0
    assert a["ambient_unassigned"] == 1.0 and a["leaked_to_source"] == 1.0
    # Nucleus-only: t0 keeps 3 of 4, t1 keeps 2 of 3, the ambient molecule in nucleus 2 is an error.
    n = score(tiny_truth, assignment=nucleus_assignment(tiny_truth))["assignment"]
    assert n["precision"] == pytest.approx(5 / 6)
    assert n["recall"] == pytest.approx(5 / 7)
    assert n["accuracy"] == pytest.approx(6 / 9)  # 5 right + the off-cell ambient left unassigned
    assert n["ambient_unassigned"] == 0.5
    # Polygons only: molecules assigned by the true polygons, segmentation perfect.
    s = score(tiny_truth, shapes=gpd.GeoDataFrame({"cell_id": [7, 8, 9]}, geometry=tiny_truth.cell_gdf.geometry))
    assert s["segmentation"]["f1_mean"] == 1.0
    assert s["assignment"]["leaked_to_other"] == 1.0
    # Typing on the true segmentation: labels keyed by true cell_id.
    t = score(tiny_truth, labels={0: "ct_0", 1: "ct_1", 2: "ct_1"})["typing"]
    assert t["accuracy"] == pytest.approx(2 / 3)


# --------------------------------------------------------------------------- real simulations
@pytest.fixture(scope="session")
def clean_sim():
    """No leakage, no ambient, no controls: the oracles must score exactly 1."""
    return SpotlessSimulator(SimulationConfig(seed=3, n_cells=300)).run()


@pytest.fixture(scope="session")
def messy_sim():
    cfg = SimulationConfig(
        seed=4,
        n_cells=300,
        leakage_by_gene=0.2,
        instrument={"ambient_rate_per_um2": 0.02, "neg_control_probe_rate_per_um2": 0.002},
    )
    return SpotlessSimulator(cfg).run()


ONE_ASSIGNMENT = ("accuracy", "precision", "recall", "mean_jaccard", "median_jaccard", "f1_jaccard50")


def test_oracles_score_one_on_clean_data(clean_sim) -> None:
    for kind in ("polygons", "source"):
        s = score(clean_sim, assignment=oracle_assignment(clean_sim, kind), labels=None)
        for key in ONE_ASSIGNMENT:
            assert s["assignment"][key] == pytest.approx(1.0), (kind, key)
        assert s["expression"]["mean_correlation"] == pytest.approx(1.0)
    cells = gpd.GeoDataFrame({"cell_id": clean_sim.cell_gdf["cell_id"]}, geometry=clean_sim.cell_gdf.geometry)
    seg = score(clean_sim, shapes=cells)["segmentation"]
    assert seg["f1_50"] == seg["f1_mean"] == seg["mean_matched_iou"] == 1.0
    assert seg["n_over_segmented"] == seg["n_under_segmented"] == 0


def test_source_oracle_scores_one_on_messy_data(messy_sim) -> None:
    s = score(messy_sim, assignment=oracle_assignment(messy_sim, "source"))["assignment"]
    for key in (*ONE_ASSIGNMENT, "ambient_unassigned", "leaked_to_source", "f1_jaccard_mean"):
        assert s[key] == pytest.approx(1.0), key
    # The true polygons cannot undo leakage: their precision is the non-leaked share.
    p = score(messy_sim, assignment=oracle_assignment(messy_sim, "polygons"))["assignment"]
    assert p["leaked_to_source"] == 0.0
    assert p["precision"] < 1.0 and p["recall"] < 1.0


def test_typing_with_true_labels_and_shuffled_labels(clean_sim, rng: np.random.Generator) -> None:
    ids = clean_sim.cell_gdf["cell_id"].to_numpy()
    types = clean_sim.cell_gdf["celltype"].to_numpy()
    pred = oracle_assignment(clean_sim, "source")
    good = score(clean_sim, assignment=pred, labels=pd.Series(types, index=ids))["typing"]
    assert good["ari"] == good["accuracy"] == 1.0
    bad = score(clean_sim, assignment=pred, labels=pd.Series(rng.permutation(types), index=ids))["typing"]
    # ARI of a permuted labelling of 300 cells in 3 types: mean ~0, s.d. 0.0047 (400 draws); 5 s.d.
    assert abs(bad["ari"]) < 5 * 0.0047


def test_shuffled_assignment_scores_near_chance(messy_sim, rng: np.random.Generator) -> None:
    pred = oracle_assignment(messy_sim, "polygons")
    pred["cell_id"] = rng.permutation(pred["cell_id"].to_numpy())
    s = score(messy_sim, assignment=pred)["assignment"]
    # A predicted cell of ~n molecules drawn at random over 300 cells shares about n/300 + a
    # few extra with its best match: precision of a few percent, far from the 0.8 of the truth.
    sizes = np.bincount(messy_sim.trs_df["cell_id"].to_numpy()[messy_sim.trs_df["cell_id"] >= 0])
    chance = 1 / len(sizes) + 5 * np.sqrt(sizes.mean() / len(sizes)) / sizes.mean()
    assert s["precision"] < chance
    assert s["accuracy"] < 0.2
    assert s["f1_jaccard50"] == 0.0


def test_baselines_are_ordered(messy_sim) -> None:
    df = score_baselines(messy_sim, distances=(2.0, 5.0, 15.0), shapes=False)
    recall = df["assignment.recall"]
    assert recall["nucleus"] < recall["expansion_2"] < recall["expansion_5"] < recall["expansion_15"]
    assert (df["assignment.accuracy"] <= df.loc["oracle_source", "assignment.accuracy"]).all()
    assert df.loc["oracle_source", "assignment.accuracy"] == 1.0
    assert df.loc["oracle_polygons", "assignment.accuracy"] > df.loc["nucleus", "assignment.accuracy"]


def test_mecr_rises_with_leakage() -> None:
    # Silent cross-type markers (silence μ ≈ 1e-4): the true counts co-express almost never,
    # so MECR ≈ P(silent gene seen) ≈ 1e-4. Leaked molecules landing in neighbours raise it.
    values = []
    for leak in (0.0, 0.15, 0.4):
        cfg = SimulationConfig(seed=5, n_cells=300, silence_mu=1e-4, leakage_by_gene=leak if leak else None)
        res = SpotlessSimulator(cfg).run()
        s = score(res, assignment=oracle_assignment(res, "polygons"))["expression"]
        assert s["mecr_true_counts"] < 0.005
        values.append(s["mecr"])
    assert values[0] < 0.005
    assert values[0] < values[1] < values[2]
    assert values[1] > 0.005  # 15 % leakage: MECR ~0.013, a hundred times the true counts'


def test_score_cli_on_a_written_bundle(messy_sim, tmp_path, capsys) -> None:
    from STpuppeteer.io.ground_truth import write_ground_truth

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    write_ground_truth(messy_sim, bundle)
    pred = expansion_assignment(messy_sim, 5.0)
    pred_path = tmp_path / "pred.csv"
    pred.to_csv(pred_path, index=False)
    out = tmp_path / "scores.json"
    scores = score_cli(bundle, pred_path, out_json=out)
    direct = score(messy_sim, assignment=pred)
    assert scores["assignment"]["accuracy"] == pytest.approx(direct["assignment"]["accuracy"])
    doc = json.loads(out.read_text())
    assert doc["prediction"]["assignment"]["recall"] == pytest.approx(direct["assignment"]["recall"])
    printed = capsys.readouterr().out
    assert "assignment" in printed and "accuracy" in printed
    shapes_path = tmp_path / "shapes.parquet"
    expansion_shapes(messy_sim, 5.0).to_parquet(shapes_path)
    only_shapes = score_cli(bundle, None, shapes_path)
    assert 0 < only_shapes["segmentation"]["f1_mean"] <= 1
    with pytest.raises(ValueError, match="no prediction given"):
        score_cli(bundle, None)


def test_report_table_lists_every_score(tiny_truth: Truth) -> None:
    s = score(tiny_truth, assignment=nucleus_assignment(tiny_truth))
    frame = scores_to_frame(s)
    assert list(frame.columns) == ["section", "metric", "value"]
    assert len(frame) == sum(len(v) for v in s.values())
    text = format_scores(s)
    assert text.splitlines()[0] == "assignment"
    assert all(m in text for m in frame["metric"])


def test_shapes_from_a_xenium_vertex_table(tiny_truth: Truth, tmp_path) -> None:
    # Xenium's cell_boundaries.parquet: one row per vertex, polygons as consecutive rows.
    rows = []
    for cid, geom in zip(["aaaaaaaa-1", "aaaaaaab-1", "aaaaaaac-1"], tiny_truth.cell_gdf.geometry, strict=True):
        for x, y in geom.exterior.coords:
            rows.append({"cell_id": cid, "vertex_x": x, "vertex_y": y})
    path = tmp_path / "cell_boundaries.parquet"
    pd.DataFrame(rows).to_parquet(path)
    s = score(tiny_truth, shapes=path)
    assert s["segmentation"]["f1_mean"] == 1.0
    assert s["assignment"]["n_pred_cells"] == 3


def test_baseline_scores_fall_as_knobs_turn() -> None:
    # Same tissue (same seed), one knob at a time: precision and Jaccard of the 5 µm expansion
    # and of the true polygons must fall; at 300 cells the steps below are many s.e. apart.
    for knob, levels in (("leakage_by_gene", (None, 0.15, 0.3)), ("ambient", (0.0, 0.05, 0.15))):
        prev = None
        for level in levels:
            fields = {"seed": 8, "n_cells": 300}
            if knob == "ambient":
                fields["instrument"] = {"ambient_rate_per_um2": level}
            else:
                fields[knob] = level
            res = SpotlessSimulator(SimulationConfig(**fields)).run()
            now = np.array(
                [
                    score(res, assignment=pred)["assignment"][m]
                    for pred in (expansion_assignment(res, 5.0), oracle_assignment(res, "polygons"))
                    for m in ("precision", "mean_jaccard")
                ]
            )
            if prev is not None:
                assert (now < prev - 0.01).all(), (knob, level, now, prev)
            prev = now


# The real-tool path (simulate → export → ComSeg → read_assignment → score, with ComSeg's recall
# above the floor's + 0.3 and its precision above 0.7) is docs/tutorials/09_benchmark_a_method.py,
# which tests/docs/test_tutorials.py runs: one ComSeg run in the suite, not two.


def test_shapes_from_a_merscope_table(tiny_truth: Truth, tmp_path) -> None:
    # MERSCOPE's cell_boundaries.parquet: WKB in "Geometry", id in "EntityID", one row per z plane.
    geoms = np.repeat(tiny_truth.cell_gdf.geometry.to_numpy(), 2)
    table = pd.DataFrame(
        {"EntityID": np.repeat([5, 6, 7], 2), "ZIndex": np.tile([0, 1], 3), "Geometry": shapely.to_wkb(geoms)}
    )
    path = tmp_path / "cell_boundaries.parquet"
    table.to_parquet(path)
    s = score(tiny_truth, shapes=path)["segmentation"]
    assert s["n_pred_cells"] == 3 and s["f1_mean"] == 1.0
