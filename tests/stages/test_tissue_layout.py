"""The tissue stage's plan: reordering keeps every per-cell array in step."""

import numpy as np
import shapely

from STpuppeteer.stages.tissue_layout import TissueLayout


def test_take_reorders_every_per_cell_array_alike_and_nothing_else():
    rng = np.random.default_rng(0)
    n = 7
    layout = TissueLayout(
        region=shapely.box(0.0, 0.0, 10.0, 10.0),
        centres=rng.uniform(0.0, 10.0, size=(n, 2)),
        codes=np.arange(n),
        limit=np.arange(n) + 0.5,
        halo=3.0,
        rng=rng,
        weights=np.arange(n) * 2.0,
        target_area=np.arange(n) * 3.0,
    )
    order = rng.permutation(n)
    taken = layout.take(order)
    np.testing.assert_array_equal(taken.codes, order)
    for name in ("centres", "limit", "weights", "target_area"):
        np.testing.assert_array_equal(getattr(taken, name), getattr(layout, name)[order])
    assert taken.cap is None and taken.sites is None
    assert taken.region is layout.region and taken.rng is layout.rng and taken.halo == layout.halo
