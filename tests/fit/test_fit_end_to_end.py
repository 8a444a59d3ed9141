"""fit → simulate → compare, on real data and on our own Xenium bundle; bad inputs are one clear error.

The real samples (tests/data/real, BSD-licensed, see its README): bento-tools' MERFISH sample
(molecules and polygons of 15 U-2 OS cells, no types, no qv) and scanpy's pbmc68k_reduced
(integer counts of 700 cells, 10 types, no space). A simulation from the fit must be closer to
the real data than the presets on every statistic the report computes for both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest

from STpuppeteer.config import SimulationConfig
from STpuppeteer.fit import compare_references, fit_config, fit_reference, is_better, read_reference
from STpuppeteer.pipeline.simulator import simulate

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
MERFISH = REAL / "merfish_sample"
PBMC = REAL / "pbmc68k_reduced" / "counts.h5ad"


def stp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "STpuppeteer", *args], capture_output=True, text=True, check=False)


def _simulated_reference(config: SimulationConfig, folder: Path, *, fmt: str):
    result = simulate(config)
    if fmt == "xenium":
        result.write_xenium(folder)
        return read_reference(folder)
    result.write_h5ad(folder.with_suffix(".h5ad"))
    return read_reference(folder.with_suffix(".h5ad"), celltype_key="celltype")


@pytest.mark.parametrize(("name", "data", "options", "fmt", "min_rows"), [
    ("merfish", MERFISH / "molecules.parquet", {"cells": MERFISH / "cells.parquet"}, "xenium", 10),
    ("pbmc68k", PBMC, {"celltype_key": "bulk_labels"}, "h5ad", 6),
])
def test_a_simulation_from_the_fit_beats_the_presets_on_every_statistic(name, data, options, fmt, min_rows, tmp_path):
    fit = fit_reference(data, **options)
    fitted = compare_references(_simulated_reference(fit.config, tmp_path / "fit", fmt=fmt), fit.reference)
    assert fitted["value"].notna().sum() >= min_rows, fitted
    for preset in ("default", "xenium"):
        base = (SimulationConfig(n_cells=fit.reference.n_cells) if preset == "default"
                else SimulationConfig.from_preset(preset, n_cells=fit.reference.n_cells))
        other = compare_references(_simulated_reference(base, tmp_path / preset, fmt=fmt), fit.reference)
        better = is_better(fitted, other).to_numpy(dtype=object, na_value=None)
        table = pd.DataFrame({"statistic": fitted["statistic"], "fit": fitted["value"], preset: other["value"],
                              "fit better": better})
        # Every statistic the fit's simulation has: the preset's is missing (no shared genes, no
        # overlapping means) or farther. The table is the test's message, in numbers.
        rows = table[table["fit"].notna()]
        assert (rows[preset].isna() | (rows["fit better"] == True)).all(), f"{name}:\n{table.to_string()}"  # noqa: E712


def test_fitting_recovers_what_our_own_xenium_bundle_was_simulated_with(tmp_path):
    # No jitter: molecules jittered out of their cell are, to the fit, ambient (it measures what
    # lies outside cells beyond leakage; docs/fitting.md). One leaky type (the preset leaks every
    # gene): with every type leaking, ambient RNA (which follows expression) and leakage
    # cannot be told apart, and the fit says so instead of guessing.
    # Confluent cells (the default) cover 89 % of the region the reader gives (292,000 µm²); the
    # ambient rate is counted in the rest (at >= 90 % it would be missing). Size factors from the
    # nucleus areas, which the fit reads (docs/fitting.md; the confluent default's drawn areas are hidden).
    truth = SimulationConfig.from_preset("xenium", seed=5, n_cells=600, n_celltype=3,
                                         instrument={"ambient_rate_per_um2": 0.002, "jitter_um": 0.0},
                                         leakage_by_gene=0.0, leakage_by_celltype={"ct_1": 0.15},
                                         size_factor="nucleus_area")
    run = tmp_path / "run"
    assert stp("simulate", "--config", _yaml(truth, tmp_path / "truth.yaml"), "--out", str(run),
               "--format", "xenium", "--quiet").returncode == 0
    fit = fit_reference(run, celltype_key="celltype")
    cfg = fit.config
    assert cfg.expression_model == "table" and cfg.celltype_names == truth.celltype_names
    assert cfg.resolve_gene_names() == truth.resolve_gene_names()
    est, measured = fit.estimates.fields, fit.estimates.measured
    # Each recovered within 4 of its own reported standard errors.
    for field, value, se in [
        ("tissue.density_per_mm2", truth.tissue.density_per_mm2, measured["density_per_mm2_se"]),
        ("instrument.ambient_rate_per_um2", 0.002, measured["ambient_rate_per_um2_se"]),
        ("instrument.qv_mean", truth.instrument.qv_mean, measured["qv_mean_se"]),
    ]:
        assert 0 < se < float("inf") and abs(est[field] - value) < 4 * se, (field, est[field], value, se)
    assert set(est["leakage_by_celltype"]) == {"ct_1"}
    for field, value, se in [
        ("leakage_by_celltype", 0.15, measured["leakage_ct_1_se"]),
    ]:
        assert abs(est[field]["ct_1"] - value) < 4 * se, (field, est[field], value, se)
    # The markers' means in their own type against the true μ, within 5 %: the fit counts what stayed
    # in cells and gives back the leaked share (ct_1's 15 %); detection (0.95 in the preset, not
    # estimated: it cannot be told from expression) stays in the fitted μ, and so does the share of
    # molecules the Xenium matrix keeps (qv ≥ 20; the preset's qv mixture puts ~15 % below) and the
    # share the optics leave; the preset scales μ.
    result = simulate(truth)
    gpar = result.gpar_df.set_index("feature_name")
    trs = result.trs_df[result.trs_df["origin"].isin(["cell", "leaked"])]
    mu = fit.counts.mu
    for k, ct in enumerate(truth.celltype_names):
        own = gpar.index[gpar["gene_type"] == f"ct_{k}_mkr"]
        cols = [fit.counts.genes.index(g) for g in own]
        mine = trs[trs["true_feature_name"].isin(own) & (trs["celltype"] == ct)]
        of_type = (result.cell_gdf["celltype"] == ct).to_numpy()
        made_true = result.count_array[of_type][:, gpar.index.get_indexer(own)].sum()
        survived = len(mine) / (truth.instrument.detection_efficiency * made_true)  # optics' losses
        kept = float((mine["qv"] >= 20).mean())  # what the matrix keeps
        made = truth.expression_scale * truth.instrument.detection_efficiency * gpar.loc[own, f"{ct}_mu"].sum()
        made *= survived * kept
        ratio = mu[k, cols].sum() / made
        if ct == "ct_1":
            # Known bias (docs/fitting.md): the fit gives back the whole leaked share, but in
            # confluent domains much of it lands in cells of the same type and was never lost
            # (measured 1.09 here). Until the fit models where leaked molecules land, only
            # the direction is checked.
            assert 1.0 < ratio < 1.15, (ct, ratio)
            continue
        assert abs(ratio - 1) < 0.05, (ct, ratio)


def test_cli_fit_simulate_compare_on_our_own_run_folder(tmp_path):
    run, fitted, sim, report = tmp_path / "run", tmp_path / "fitted.yaml", tmp_path / "sim", tmp_path / "report"
    assert stp("simulate", "--preset", "xenium", "--n-cells", "300", "--out", str(run), "--format", "xenium",
               "--quiet").returncode == 0
    proc = stp("fit", str(run), "--celltype-key", "celltype", "--out", str(fitted))
    assert proc.returncode == 0, proc.stderr
    assert "not estimated:" in fitted.read_text() and "model: table" in fitted.read_text()
    assert stp("simulate", "--config", str(fitted), "--out", str(sim), "--format", "xenium",
               "--quiet").returncode == 0
    proc = stp("compare", str(sim), str(run), "--out", str(report))
    assert proc.returncode == 0, proc.stderr
    rows = {r["statistic"]: r for r in json.loads((report / "distances.json").read_text())["distances"]}
    assert rows["gene_mean_correlation"]["value"] > 0.95
    assert (report / "realism.png").is_file() and (report / "distances.md").is_file()


def _yaml(config: SimulationConfig, path: Path) -> str:
    config.to_yaml(path)
    return str(path)


@pytest.mark.parametrize(("make", "needles"), [
    (lambda p: anndata.AnnData(X=np.full((4, 3), 2.5), obs=pd.DataFrame({"t": list("aabb")}, index=list("0123")))
     .write_h5ad(p / "x.h5ad") or p / "x.h5ad", ["2.5", "integer"]),
    (lambda p: anndata.AnnData(X=np.ones((4, 3), dtype=np.int32), obs=pd.DataFrame(index=list("0123")))
     .write_h5ad(p / "x.h5ad") or p / "x.h5ad", ["celltype_key", "t"]),
    (lambda p: pd.DataFrame({"x": [], "y": [], "gene": []}).to_parquet(p / "x.parquet") or p / "x.parquet",
     ["empty"]),
])
def test_bad_inputs_are_one_clear_error(make, needles, tmp_path):
    path = make(tmp_path)
    with pytest.raises(ValueError, match="|".join(needles[:1])):
        fit_config(path, celltype_key="t")
    proc = stp("fit", str(path), "--celltype-key", "t", "--out", str(tmp_path / "f.yaml"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert all(n in proc.stderr for n in needles), proc.stderr
    assert not (tmp_path / "f.yaml").exists()


def test_coordinates_in_pixels_are_refused_naming_the_pixel_size(tmp_path):
    molecules = pd.read_parquet(MERFISH / "molecules.parquet")
    molecules[["x", "y"]] /= 0.1  # back to the sample's camera pixels
    with pytest.raises(ValueError, match="pixel_size_um"):
        fit_config(molecules, cells=_cells_in_pixels(tmp_path))
    fit = fit_reference(molecules, cells=_cells_in_pixels(tmp_path), pixel_size_um=0.1)
    assert 500 < fit.estimates.measured["cell_area_mean_um2"] < 2000


def _cells_in_pixels(tmp_path: Path) -> Path:
    import shapely
    from shapely import affinity

    cells = pd.read_parquet(MERFISH / "cells.parquet")
    for column in ("cell_wkb", "nucleus_wkb"):
        geoms = shapely.from_wkb(cells[column])
        cells[column] = shapely.to_wkb(np.array([None if g is None else affinity.scale(g, 10, 10, origin=(0, 0))
                                                 for g in geoms], dtype=object))
    path = tmp_path / "cells_px.parquet"
    cells.to_parquet(path)
    return path


def test_cli_fit_simulate_compare_on_the_merfish_sample(tmp_path):
    cells = ["--cells", str(MERFISH / "cells.parquet")]
    fitted, sim, report = tmp_path / "fitted.yaml", tmp_path / "sim", tmp_path / "report"
    proc = stp("fit", str(MERFISH / "molecules.parquet"), *cells, "--out", str(fitted))
    assert proc.returncode == 0, proc.stderr
    assert "not estimated: instrument.qv_mean: the molecules have no qv" in fitted.read_text()
    assert stp("simulate", "--config", str(fitted), "--out", str(sim), "--format", "xenium",
               "--quiet").returncode == 0
    proc = stp("compare", str(sim), str(MERFISH / "molecules.parquet"), *cells, "--out", str(report))
    assert proc.returncode == 0, proc.stderr
    rows = {r["statistic"]: r for r in json.loads((report / "distances.json").read_text())["distances"]}
    assert rows["gene_mean_correlation"]["value"] > 0.99 and rows["qv"]["value"] is None
    assert "real lacks qv" in (report / "distances.md").read_text()
    assert len(list((report / "figures").glob("*.png"))) >= 10
