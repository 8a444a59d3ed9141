"""Stage 2, confluent model: nuclei off-centre along elongated cells (``morphology.nucleus_offset``)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import shapely
from pydantic import ValidationError

from STpuppeteer._random import stage_rng
from STpuppeteer.config import SimulationConfig
from STpuppeteer.pipeline.cell_store import CellStore
from STpuppeteer.stages.nucleus_offset import long_axis_angle
from STpuppeteer.stages.tissue import generate_cells

SHAPES = {
    "ct_0": {},
    "ct_1": {"cell_area_mean_um2": 900.0, "cell_elongation": 3.0, "cell_area_cv": 0.35},
    "ct_2": {"cell_area_mean_um2": 300.0, "cell_area_cv": 0.5},
}
# sha256 of the cells' and nuclei's WKB and the nucleus centres of _config(seed=5, n_cells=600, offset=None),
# computed on main before nucleus_offset existed: offset 0 must give exactly those cells. Recomputed once, when
# elongated types became stretched cells (stages/cell_stretch.py), with offset 0.
BEFORE_OFFSET = "c6c97ee8c496a796ef9e7618d8536078872c5700c588eaf64fea4aa562fec585"


def _config(
    *, seed: int = 3, n_cells: int = 1500, offset: float | None, tissue: dict | None = None, **morphology
) -> SimulationConfig:
    knob = {} if offset is None else {"nucleus_offset": offset}
    return SimulationConfig(
        seed=seed,
        n_cells=n_cells,
        n_celltype=3,
        tissue=tissue or {},
        morphology={"celltype_shapes": SHAPES, **knob, **morphology},
    )


def _cells(config: SimulationConfig):
    return generate_cells(config, stage_rng(config.seed, "cells"))


def _digest(cell_gdf) -> str:
    digest = hashlib.sha256()
    for polygons in (cell_gdf.geometry.to_numpy(), cell_gdf["nucleus"].to_numpy()):
        for wkb in shapely.to_wkb(polygons):
            digest.update(wkb)
    digest.update(cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def off_and_on():
    return _cells(_config(offset=0.0)), _cells(_config(offset=0.5))


@pytest.mark.parametrize("offset", [0.5, 1.0])
def test_nuclei_stay_inside_their_cells_and_apart(offset, off_and_on):
    cell_gdf = off_and_on[1] if offset == 0.5 else _cells(_config(offset=offset))
    nuclei, cells = cell_gdf["nucleus"].to_numpy(), cell_gdf.geometry.to_numpy()
    assert shapely.is_valid(nuclei).all()
    assert shapely.within(nuclei, shapely.buffer(cells, 1e-6)).all()
    union = shapely.union_all(nuclei).area
    assert abs(shapely.area(nuclei).sum() - union) <= 1e-9 * union  # disjoint
    # nucleus_x/y is the centre the nucleus is drawn about: inside it
    centre = shapely.points(cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy())
    assert shapely.within(centre, nuclei).all()


def _axis_offset(cell_gdf) -> np.ndarray:
    # |nucleus centre − cell centroid| along the cell polygon's long axis
    cells = cell_gdf.geometry.to_numpy()
    centroid = shapely.get_coordinates(shapely.centroid(cells))
    angle = long_axis_angle(cells, centroid)
    d = cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy() - centroid
    return np.abs(d[:, 0] * np.cos(angle) + d[:, 1] * np.sin(angle))


def test_elongated_nuclei_move_along_their_cell_round_ones_stay(off_and_on):
    off, on = off_and_on
    # the knob moves nuclei only: the cells are the same
    assert shapely.equals_exact(off.geometry.to_numpy(), on.geometry.to_numpy(), tolerance=0).all()
    long = (on["celltype"] == "ct_1").to_numpy()
    gain = _axis_offset(on)[long] - _axis_offset(off)[long]
    se = gain.std(ddof=1) / math.sqrt(long.sum())
    # measured 2.54 → 4.71 µm at offset 0.5 (gain 2.16 ± 0.16 µm; 1.85 → 2.85 µm when the cells were plain power
    # cells and the room a disc); 5 s.e. below the gain is still > 1 µm
    assert gain.mean() - 5 * se > 1.0
    # the shift runs along the cell's long axis
    shift = on[["nucleus_x", "nucleus_y"]].to_numpy() - off[["nucleus_x", "nucleus_y"]].to_numpy()
    moved = long & (np.hypot(*shift.T) > 1e-3)
    assert moved.mean() > 0.8 * long.mean()
    cells = on.geometry.to_numpy()[moved]
    angle = long_axis_angle(cells, shapely.get_coordinates(shapely.centroid(cells)))
    along = np.abs(shift[moved, 0] * np.cos(angle) + shift[moved, 1] * np.sin(angle))
    np.testing.assert_allclose(along, np.hypot(*shift[moved].T), rtol=1e-9)
    # towards either end about equally: sign of the shift along the direction of the axis
    sign = np.sign(shift[moved, 0] * np.cos(angle) + shift[moved, 1] * np.sin(angle))
    assert abs(sign.mean()) < 5 / math.sqrt(moved.sum())
    # round types keep their nuclei exactly
    round_ = ~long
    assert shapely.equals_exact(off["nucleus"].to_numpy()[round_], on["nucleus"].to_numpy()[round_], tolerance=0).all()
    assert (off.loc[round_, ["nucleus_x", "nucleus_y"]] == on.loc[round_, ["nucleus_x", "nucleus_y"]]).all(axis=None)


def test_offset_zero_gives_the_cells_of_before():
    assert _digest(_cells(_config(seed=5, n_cells=600, offset=0.0))) == BEFORE_OFFSET


def test_expanded_model_ignores_the_offset():
    off = _cells(_config(n_cells=400, offset=0.0, cell_model="expanded"))
    on = _cells(_config(n_cells=400, offset=1.0, cell_model="expanded"))
    assert _digest(off) == _digest(on)


def _threads(config: SimulationConfig, n_threads: int) -> SimulationConfig:
    return config.model_copy(update={"transcripts": config.transcripts.model_copy(update={"n_threads": n_threads})})


def test_store_and_threads_give_the_same_nuclei():
    # a sparse tissue of 4 tiles (1000 µm each), so shifts are drawn per tile on 1 and 2 threads
    config = _config(n_cells=1200, offset=0.5, tissue={"density_per_mm2": 600.0})
    in_memory = _cells(_threads(config, 2))
    assert in_memory[["x", "y"]].max().min() > 1000.0
    store = CellStore.generate(_threads(config, 1), stage_rng(config.seed, "cells")).gdf()
    assert _digest(store) == _digest(in_memory)


def test_offset_outside_zero_to_one_is_refused():
    with pytest.raises(ValidationError, match=r"nucleus_offset\n.*less than or equal to 1.*input_value=1\.5"):
        SimulationConfig(morphology={"nucleus_offset": 1.5})
    with pytest.raises(ValidationError, match=r"nucleus_offset\n.*greater than or equal to 0"):
        SimulationConfig(morphology={"nucleus_offset": -0.1})
