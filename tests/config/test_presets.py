import numpy as np
import pytest

from STpuppeteer.config import PRESETS, SimulationConfig, preset_config
from STpuppeteer.config.presets import PANEL_PRESETS
from STpuppeteer.simulation import SpotlessSimulator


def _realism(result):
    trs, cells = result.trs_df, result.cell_gdf
    b = cells.total_bounds
    area = (b[2] - b[0]) * (b[3] - b[1])
    genes = trs[trs["origin"] != "control"]
    landed = genes["landed_cell_id"].to_numpy()
    per_cell = np.bincount(landed[landed >= 0], minlength=len(cells))
    return {
        "cells_per_mm2": len(cells) / area * 1e6,
        "molecules_per_um2": len(trs) / area,
        "median_per_cell": float(np.median(per_cell)),
        "control_fraction": float((trs["origin"] == "control").mean()),
    }


# The realism table of DESIGN.md; the platform presets of the program model have their own
# targets (docs/presets.md), tested in test_panel_presets.py.
@pytest.fixture(scope="module", params=sorted(set(PRESETS) - set(PANEL_PRESETS)))
def preset_run(request):
    return request.param, SpotlessSimulator(preset_config(request.param, seed=11, n_cells=2500)).run()


def test_preset_lands_in_the_realism_table(preset_run):
    name, result = preset_run
    got = _realism(result)
    assert 2000 <= got["cells_per_mm2"] <= 2500, got
    assert 0.8 <= got["molecules_per_um2"] <= 1.1, got
    assert 150 <= got["median_per_cell"] <= 350, got
    assert 0.002 <= got["control_fraction"] <= 0.006, got
    assert result.config.tissue.section_thickness_um in (5.0, 10.0)
    assert result.trs_df["z"].max() <= result.config.tissue.section_thickness_um + 2.0


def test_presets_change_no_default():
    before = SimulationConfig().to_dict()
    for name in PRESETS:
        preset_config(name)
    assert SimulationConfig().to_dict() == before
    default = SimulationConfig()
    assert default.instrument.ambient_rate_per_um2 == 0 and default.expression_scale == 1.0


def test_overrides_merge_into_nested_configs():
    cfg = preset_config("xenium", seed=4, instrument={"jitter_um": 0.0}, tissue={"pattern": "domains"})
    assert cfg.seed == 4 and cfg.instrument.jitter_um == 0.0
    assert cfg.instrument.ambient_rate_per_um2 == PRESETS["xenium"]["instrument"]["ambient_rate_per_um2"]
    assert cfg.tissue.section_thickness_um == 5.0 and cfg.tissue.pattern == "domains"
    assert PRESETS["xenium"]["instrument"]["jitter_um"] > 0  # the preset itself is untouched


def test_unknown_preset_and_bad_override_are_refused():
    with pytest.raises(ValueError, match="xenium"):
        preset_config("visium")
    with pytest.raises(ValueError, match="jitter"):
        preset_config("xenium", instrument={"jitter": 1.0})
