"""Cell typing (--pred-labels) and per-molecule regions (--pred-regions) on a written run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from STpuppeteer.metrics import as_truth, oracle_assignment, score, score_cli

if TYPE_CHECKING:
    from pathlib import Path

    from STpuppeteer.metrics import Truth

# ARI of a random permutation of 200 cells' types (3 types): sd ≈ 0.007 (500 draws), so
# 0.05 is about 7 sd; of ~70 000 molecules' types the sd is far smaller.
CELL_ARI_TOL = 0.05
MOLECULE_ARI_TOL = 0.01


@pytest.fixture(scope="module")
def truth(xenium_run: Path) -> Truth:
    return as_truth(xenium_run)


def _cell_labels(truth: Truth) -> pd.DataFrame:
    return truth.cell_gdf[["cell_id", "celltype"]].rename(columns={"celltype": "cluster"})


def _regions(truth: Truth) -> pd.DataFrame:
    return truth.trs_df[["transcript_id", "celltype"]].rename(columns={"celltype": "region"})


def test_true_labels_on_the_oracle_type_perfectly(truth: Truth) -> None:
    labels = _cell_labels(truth).assign(cell_id=lambda d: d["cell_id"].astype(str))  # ids as strings: still found
    s = score(truth, assignment=oracle_assignment(truth, "source"), labels=labels)["typing"]
    assert s["ari"] == 1.0
    assert s["accuracy"] == s["accuracy_best_map"] == 1.0
    assert s["n_labelled"] == len(truth.cell_gdf)


def test_renamed_labels_keep_ari_but_not_accuracy(truth: Truth) -> None:
    labels = _cell_labels(truth)
    labels["cluster"] = labels["cluster"].map({c: f"k{i}" for i, c in enumerate(sorted(set(labels["cluster"])))})
    s = score(truth, assignment=oracle_assignment(truth, "polygons"), labels=labels)["typing"]
    assert s["ari"] == 1.0 and s["accuracy_best_map"] == 1.0
    assert s["accuracy"] == 0.0


def test_permuted_labels_score_near_zero(truth: Truth, rng: np.random.Generator) -> None:
    labels = _cell_labels(truth)
    labels["cluster"] = rng.permutation(labels["cluster"].to_numpy())
    s = score(truth, assignment=oracle_assignment(truth, "source"), labels=labels)["typing"]
    assert abs(s["ari"]) < CELL_ARI_TOL


def test_true_regions_score_one_and_permuted_regions_near_zero(truth: Truth, rng: np.random.Generator) -> None:
    regions = _regions(truth)
    s = score(truth, regions=regions)["regions"]
    n_sourced = int(((truth.trs_df["cell_id"] >= 0) & (truth.trs_df["origin"] != "control")).sum())
    assert s["ari"] == 1.0 and s["accuracy_best_map"] == 1.0
    assert s["n_molecules"] == n_sourced and s["coverage"] == 1.0
    regions["region"] = rng.permutation(regions["region"].to_numpy())
    assert abs(score(truth, regions=regions)["regions"]["ari"]) < MOLECULE_ARI_TOL


def test_regions_missing_molecules_lower_coverage(truth: Truth) -> None:
    regions = _regions(truth).iloc[::2]
    s = score(truth, regions=regions)["regions"]
    assert 0.45 < s["coverage"] < 0.55
    assert s["ari"] == 1.0


@pytest.mark.parametrize(
    ("kind", "change", "needles"),
    [
        ("labels", lambda d: d.rename(columns={"cluster": "x"}), ["labels", "label columns", "'x'"]),
        ("labels", lambda d: d.assign(cell_id=d["cell_id"] + 10**6), ["labels", "200 of 200", "1000000"]),
        ("labels", lambda d: pd.concat([d, d.iloc[:1]]), ["more than once"]),
        ("regions", lambda d: d.rename(columns={"region": "x"}), ["regions", "label columns"]),
        ("regions", lambda d: d.iloc[:5].assign(transcript_id=-7), ["more than once"]),
        ("regions", lambda d: d.iloc[:3].assign(transcript_id=[-7, -8, -9]), ["regions", "3 of 3", "-7"]),
    ],
)
def test_bad_label_tables_name_the_problem(truth: Truth, kind, change, needles) -> None:
    table = change(_cell_labels(truth) if kind == "labels" else _regions(truth))
    with pytest.raises(ValueError, match=needles[0]) as err:
        score(truth, assignment=oracle_assignment(truth, "source"), **{kind: table})
    for needle in needles:
        assert needle in str(err.value)


def test_score_cli_prints_and_writes_floor_and_ceiling(xenium_run: Path, tmp_path: Path, capsys) -> None:
    t = as_truth(xenium_run)
    pred, labels, regions, out = (tmp_path / n for n in ("p.parquet", "l.csv", "r.tsv", "s.json"))
    oracle_assignment(t, "polygons").to_parquet(pred)
    _cell_labels(t).to_csv(labels, index=False)
    _regions(t).to_csv(regions, sep="\t", index=False)
    scores = score_cli(xenium_run, pred, pred_labels_path=labels, pred_regions_path=regions, out_json=out)
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["assignment", "prediction", "floor", "ceiling"]
    assert "floor: nucleus baseline; ceiling: oracle_polygons baseline" in text
    doc = json.loads(out.read_text())
    assert set(doc) == {"prediction", "floor", "ceiling", "baselines"}
    assert doc["baselines"] == {"floor": "nucleus", "ceiling": "oracle_polygons"}
    # the prediction is the polygon oracle: it equals the ceiling and beats the floor
    assert doc["prediction"]["assignment"] == doc["ceiling"]["assignment"] == pytest.approx(scores["assignment"])
    assert doc["floor"]["assignment"]["recall"] < doc["ceiling"]["assignment"]["recall"]
    assert doc["prediction"]["typing"]["ari"] == doc["prediction"]["regions"]["ari"] == 1.0
    assert "typing" not in doc["floor"]
