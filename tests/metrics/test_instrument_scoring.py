"""Every instrument knob shows in the scores: a harder setting lowers the baselines' scores."""

import numpy as np
import pytest

from STpuppeteer import SimulationConfig, simulate
from STpuppeteer.metrics import score_baselines


def _baseline_scores(instrument: dict) -> dict:
    # One seed for every setting: the tissue, counts and true molecules are the same, so the
    # settings are compared on common random numbers (the knobs draw from their own streams).
    result = simulate(SimulationConfig(seed=7, n_cells=200, expression_scale=5.0, instrument=instrument))
    return score_baselines(result, distances=(5.0,), shapes=False).to_dict("index")


@pytest.mark.parametrize(
    ("knob", "values", "baseline", "metrics"),
    [
        # Localisation error moves molecules across cell borders: the expansion baseline assigns worse.
        ("jitter_um", (0.0, 1.0, 3.0), "expansion_5", ("assignment.accuracy", "assignment.mean_jaccard")),
        # Crowding merges or loses molecules of well-expressed genes in small cells: the counts
        # saturate, and correlate less with the true counts even under the true assignment.
        ("min_distance_um", (0.0, 1.0, 2.0), "oracle_source", ("expression.mean_correlation",)),
        ("min_distance_um", (0.0, 1.0, 2.0), "expansion_5", ("expression.mean_correlation",)),
    ],
)
def test_harder_instrument_lowers_baseline_scores(knob, values, baseline, metrics):
    scores = [_baseline_scores({knob: v})[baseline] for v in values]
    for metric in metrics:
        got = np.array([s[metric] for s in scores])
        assert np.all(np.diff(got) < 0), (metric, got)
