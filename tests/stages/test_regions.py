"""The compiled rejection rounds give the points of the vectorised rounds, bit for bit.

``regions.reject_into_region`` replaces, for cells and nuclei star-shaped about their centre,
rounds of ``StarPolygons.sample`` and ``localisation._in_region`` (and the cytoplasm rounds of
``molecules.cell_block_molecules``): the same uniforms, the same tests, the same order.
"""

from __future__ import annotations

import numpy as np
import pytest

from STpuppeteer.config import SimulationConfig
from STpuppeteer.config.localisation import LocalisationConfig
from STpuppeteer.simulation import SpotlessSimulator
from STpuppeteer.stages.transcripts.geometry import CellGeometry
from STpuppeteer.stages.transcripts.localisation import (
    CELL_EDGE,
    CYTOPLASMIC,
    DISTAL,
    PERINUCLEAR,
    _in_region,
)
from STpuppeteer.stages.transcripts.regions import (
    CELL_EDGE_TEST,
    CYTOPLASM_TEST,
    DISTAL_TEST,
    PERINUCLEAR_TEST,
    reject_into_region,
)

_CFG = LocalisationConfig(perinuclear_um=1.5, cell_edge_um=2.0, distal_fraction=0.7)
_CASES = [
    (CYTOPLASMIC, CYTOPLASM_TEST, 0.0),
    (PERINUCLEAR, PERINUCLEAR_TEST, _CFG.perinuclear_um),
    (CELL_EDGE, CELL_EDGE_TEST, _CFG.cell_edge_um),
    (DISTAL, DISTAL_TEST, 1.0 / _CFG.distal_fraction),
]


@pytest.fixture(scope="module")
def geo() -> CellGeometry:
    cells = SpotlessSimulator(SimulationConfig(seed=4, n_cells=300)).generate_cells()
    geometry = CellGeometry.from_cells(cells, thickness=5.0)
    assert geometry.cells.star.all() and geometry.nuclei.star.all()
    return geometry


def _vectorised(code: int, geo: CellGeometry, rows: np.ndarray, rng: np.random.Generator, max_rounds: int):
    """The rounds as localisation._region ran them before they were compiled."""
    n = len(rows)
    px, py = np.full(n, np.nan), np.full(n, np.nan)
    todo = np.arange(n)
    for _ in range(max_rounds):
        if len(todo) == 0:
            break
        qx, qy = geo.cells.sample(rows[todo], rng)
        ok = _in_region(code, _CFG, geo, rows[todo], qx, qy)
        px[todo[ok]], py[todo[ok]] = qx[ok], qy[ok]
        todo = todo[~ok]
    return px, py, todo


@pytest.mark.parametrize(("code", "test", "parameter"), _CASES)
@pytest.mark.parametrize("max_rounds", [3, 200])
def test_compiled_rounds_equal_vectorised_rounds(geo, code, test, parameter, max_rounds):
    rows = np.random.default_rng(1).integers(0, len(geo.cells), 20_000)
    rng_before = np.random.default_rng(2)
    want_x, want_y, want_left = _vectorised(code, geo, rows, rng_before, max_rounds)
    x, y = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    rng = np.random.default_rng(2)
    left = reject_into_region(test, parameter, geo.cells, geo.nuclei, rows, np.arange(len(rows)), rng, x=x, y=y,
                              max_rounds=max_rounds)
    np.testing.assert_array_equal(left, want_left)
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(y, want_y)
    if max_rounds == 3:
        assert len(left)  # some points still wait: the cut-off is exercised
    # The generator is left where the vectorised rounds left it.
    assert rng.random() == rng_before.random()
