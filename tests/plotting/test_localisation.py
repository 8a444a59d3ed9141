import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from STpuppeteer.config import SimulationConfig
from STpuppeteer.plotting import plot_localisation
from STpuppeteer.simulation import SpotlessSimulator


def test_one_panel_per_pattern_present():
    cfg = SimulationConfig(seed=0, n_cells=60, transcripts={"localisation": {
        "strength": 0.9, "pattern_mix": {"nuclear": 0.2, "cell_edge": 0.2, "foci": 0.2}}})
    fig = plot_localisation(SpotlessSimulator(cfg).run())
    titles = [ax.get_title().split("\n")[0] for ax in fig.axes]
    assert titles == ["uniform", "nuclear", "cell_edge", "foci"]
    plt.close(fig)


def test_nothing_localised_is_refused():
    with pytest.raises(ValueError, match="nothing is localised"):
        plot_localisation(SpotlessSimulator(SimulationConfig(seed=0, n_cells=20)).run())
