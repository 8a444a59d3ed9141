"""The platform presets of the program model: real panels, named types, rates and measured targets."""

import re

import numpy as np
import pytest

from STpuppeteer.config import preset_config
from STpuppeteer.config.gene_panels import PANELS, panel_genes
from STpuppeteer.config.presets import PANEL_PRESETS, PRESETS
from STpuppeteer.simulation import SpotlessSimulator

# HGNC-style symbols: letters, digits, '-' and '.', starting with a letter or digit.
SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
PANEL_SIZES = {
    "xenium_human_breast_v1": 280,
    "xenium_human_immuno_oncology_v1": 380,
    "cosmx_human_universal_cell_characterization_1k": 1000,
    "xenium_prime_human_5k": 5001,
}
# preset: (median molecules per cell, cells per mm², section µm, negative control probe names), docs/presets.md
TARGETS = {
    "xenium_breast": (166, 2300.0, 5.0, 20),
    "merscope_io": (250, 2200.0, 10.0, 50),
    "cosmx_1k": (250, 2400.0, 5.0, 20),
    "xenium_prime_5k": (1283, 4835.0, 10.0, 40),
}


@pytest.mark.parametrize("panel", sorted(PANELS))
def test_panel_files_hold_real_symbols(panel):
    genes = panel_genes(panel)
    assert len(genes) == PANEL_SIZES[panel]
    assert len(set(genes)) == len(genes)
    assert all(SYMBOL.match(g) for g in genes), [g for g in genes if not SYMBOL.match(g)]
    assert not any(g.startswith(("NegControl", "Blank", "NegPrb", "Unassigned")) for g in genes)


def test_unknown_panel_is_refused():
    with pytest.raises(ValueError, match="xenium_prime_human_5k"):
        panel_genes("visium")


def test_every_panel_preset_is_registered():
    assert set(TARGETS) == set(PANEL_PRESETS) and set(PANEL_PRESETS) <= set(PRESETS)


@pytest.mark.parametrize("name", sorted(PANEL_PRESETS))
def test_panel_preset_is_its_panel(name):
    cfg = preset_config(name, n_cells=300)
    panel = panel_genes(PANEL_PRESETS[name][2])
    assert cfg.expression_model == "programs"
    assert cfg.n_genes == len(panel) and set(cfg.resolve_gene_names()) == set(panel)
    loading_genes = {g for p in cfg.programs for g in p.loading}
    assert loading_genes <= set(panel), sorted(loading_genes - set(panel))
    # named as biologists name them, not ct_0 …; every type activates some program
    assert cfg.n_celltype >= 10 and not any(t.startswith("ct_") for t in cfg.celltype_names)
    assert all(spec.program_activations for spec in cfg.cell_type_specs.values())
    assert 0 < cfg.expression_baseline < 1  # the other panel genes: low but not zero
    _, density, thickness, n_probes = TARGETS[name]
    assert cfg.tissue.density_per_mm2 == density
    assert cfg.tissue.section_thickness_um == thickness
    assert cfg.instrument.n_neg_control_probes == n_probes


@pytest.mark.parametrize("name", sorted(PANEL_PRESETS))
def test_small_run_lands_on_the_targets(name):
    median_target, density_target, thickness, _ = TARGETS[name]
    n_cells = 400
    result = SpotlessSimulator(preset_config(name, seed=5, n_cells=n_cells)).run()
    trs, cells = result.trs_df, result.cell_gdf
    genes = trs[trs["origin"] != "control"]
    landed = genes["landed_cell_id"].to_numpy()
    per_cell = np.bincount(landed[landed >= 0], minlength=len(cells))
    # Standard error of the median by bootstrap over cells (fixed generator); 4 s.e. plus 5 %
    # for the calibration (the loadings were set on a 5,000-cell run and rounded to 3 digits).
    rng = np.random.default_rng(0)
    boot = np.median(rng.choice(per_cell, size=(500, per_cell.size)), axis=1)
    tolerance = 4 * boot.std() + 0.05 * median_target
    assert abs(np.median(per_cell) - median_target) <= tolerance, (np.median(per_cell), tolerance)
    # Cells over their bounding box: the box's edge loses about one cell row, a relative error
    # of order 1/√n; 3/√n bounds it.
    x0, y0, x1, y1 = cells.total_bounds
    density = len(cells) / ((x1 - x0) * (y1 - y0)) * 1e6
    assert abs(density / density_target - 1) <= 3 / np.sqrt(n_cells), density
    # Molecules stay in the section up to the z localisation error: the largest of n normal
    # errors is about σ·√(2 ln n) (< 5σ here), so 8σ bounds it, as in the realism-table test.
    inst = result.config.instrument
    sigma_z = inst.jitter_um if inst.jitter_z_um is None else inst.jitter_z_um
    assert trs["z"].max() <= thickness + max(2.0, 8 * sigma_z)
