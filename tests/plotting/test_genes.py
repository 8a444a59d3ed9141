import matplotlib.pyplot as plt
import pytest

from STpuppeteer.plotting.genes import gene_class, plot_gene_parameters, plot_priors
from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator


@pytest.mark.parametrize(
    ("gene_type", "expected"),
    [("ct_2_mkr", "ct_2 marker"), ("ct_0_ct_1_mkr", "ct_0+ct_1 marker"), ("hk", "housekeeping"),
     ("silence", "silent")],
)
def test_gene_class(gene_type, expected):
    assert gene_class(gene_type) == expected


def test_figures_draw_every_class(tmp_path, figure_problems):
    cfg = SimulationConfig(n_genes=120, n_markers=20, n_silence=10,
                           shared_markers=[{"celltypes": ["ct_0", "ct_1"], "n_genes": 5}])
    gpar_df = SpotlessSimulator(cfg).generate_gene_parameters()
    fig = plot_priors(cfg, n=2000, rng=0)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].patches) == 3 * 60
    assert figure_problems(fig) == []
    fig.savefig(tmp_path / "priors.png")
    fig = plot_gene_parameters(gpar_df)
    labels = [t.get_text() for t in fig.axes[-1].get_xticklabels()]
    assert labels == ["ct_0 marker", "ct_1 marker", "ct_2 marker", "ct_0+ct_1 marker", "housekeeping", "silent"]
    assert figure_problems(fig) == []
    fig.savefig(tmp_path / "gpar.png")
    plt.close("all")
