"""A harder localisation lowers the baselines' assignment scores, monotonically (issue 16).

Molecules pushed to the cell's edge leave the nucleus, so the nucleus-only floor assigns fewer
of them; and they sit nearer the neighbours, so the 5 µm expansion assigns more of them to the
wrong cell. Three strengths of the same tissue and counts (only the positions change).
"""

import numpy as np
import pytest

from STpuppeteer.config import preset_config
from STpuppeteer.metrics import expansion_assignment, nucleus_assignment, score
from STpuppeteer.simulation import SpotlessSimulator

STRENGTHS = (0.0, 0.5, 1.0)


@pytest.fixture(scope="module")
def scores():
    out = {}
    for strength in STRENGTHS:
        cfg = preset_config("xenium", seed=3, n_cells=250)
        cfg.transcripts.localisation = cfg.transcripts.localisation.model_copy(
            update={"pattern_mix": {"cell_edge": 1.0}, "strength": strength, "cell_edge_um": 2.0})
        result = SpotlessSimulator(cfg).run()
        out[strength] = {
            "nucleus": score(result, assignment=nucleus_assignment(result))["assignment"],
            "expansion": score(result, assignment=expansion_assignment(result))["assignment"],
        }
    return out


@pytest.mark.parametrize(("baseline", "metric"), [("nucleus", "recall"), ("nucleus", "accuracy"),
                                                  ("nucleus", "mean_jaccard"), ("expansion", "precision")])
def test_stronger_cell_edge_lowers_the_baseline(scores, baseline, metric):
    values = np.array([scores[s][baseline][metric] for s in STRENGTHS])
    # Each step moves thousands of molecules: the drops are far beyond the scores' sampling error
    # (a binomial s.e. of ~0.005 at 60,000 molecules), so strict monotonicity is the test.
    assert np.all(np.diff(values) < -0.01), (baseline, metric, values)
