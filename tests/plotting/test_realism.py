import ast
import dataclasses
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex

import STpuppeteer.plotting.realism as realism
from realism_fixtures import make_reference
from STpuppeteer.fit.compare import realism_statistics
from STpuppeteer.plotting.realism import (
    PANELS,
    REAL_COLOR,
    SIM_COLOR,
    available_panels,
    plot_panel,
    plot_realism,
)


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_figure_with_molecules_draws_every_panel(rng, figure_problems):
    sim = realism_statistics(make_reference(rng, source="sim"))
    real = realism_statistics(make_reference(rng, source="real"))
    assert available_panels(sim, real) == list(PANELS)
    fig = plot_realism(sim, real, annotations={"qv": "KS D = 0.010"})
    assert len(fig.axes) == len(PANELS)
    titles = [ax.get_title() for ax in fig.axes]
    assert "Quality scores (qv)\nKS D = 0.010" in titles
    assert "sim" in fig.get_suptitle() and "real" in fig.get_suptitle()
    assert figure_problems(fig) == []
    hist = fig.axes[list(PANELS).index("cell_area")]
    assert "µm²" in hist.get_xlabel()
    labels = _legend_texts(hist)
    assert labels[0].startswith("simulated (n=300 cells)") and labels[1].startswith("real (n=300 cells)")
    # The same colours for the two sides in every panel.
    mv = fig.axes[0]
    assert [to_hex(c.get_facecolor()[0]) for c in mv.collections[:2]] == [SIM_COLOR, REAL_COLOR]
    assert any("Poisson" in t for t in _legend_texts(mv))
    plt.close("all")


def test_figure_without_molecules_leaves_those_panels_out(rng):
    sim = realism_statistics(make_reference(rng, molecules=False))
    real = realism_statistics(make_reference(rng, molecules=False))
    names = available_panels(sim, real)
    assert {"qv", "nuclear_fraction", "control_rate"}.isdisjoint(names)
    assert "cell_area" in names
    assert len(plot_realism(sim, real).axes) == len(names)
    plt.close("all")


def test_a_panel_one_side_lacks_shows_the_other_and_says_why(rng, figure_problems):
    sim = realism_statistics(make_reference(rng))
    real_ref = make_reference(rng, molecules=False)
    real = realism_statistics(dataclasses.replace(real_ref, cells=real_ref.cells.drop(columns="nucleus_area")))
    assert {"qv", "nuclear_fraction", "control_rate", "nucleus_area"} <= set(available_panels(sim, real))
    fig = plot_panel("nucleus_area", sim, real)
    texts = _legend_texts(fig.axes[0])
    assert texts[0].startswith("simulated")
    assert "real: no nucleus areas" in texts[1]
    fig = plot_panel("control_rate", sim, real)
    assert any("real: no controls" in t for t in _legend_texts(fig.axes[0]))
    neither = dataclasses.replace(real, cell_area=None, missing={"cell_area": "gone"})
    fig = plot_panel("cell_area", neither, neither)  # drawn on request even with nothing to show
    assert figure_problems(fig) == []
    assert _legend_texts(fig.axes[0]) == ["simulated: no cell areas (gone)", "real: no cell areas (gone)"]
    with pytest.raises(ValueError, match="unknown realism panel"):
        plot_panel("tissue", sim, real)
    plt.close("all")


def test_plotting_never_imports_fit():
    for path in sorted(Path(realism.__file__).parent.glob("*.py")):  # the realism panels live beside it
        tree = ast.parse(path.read_text())
        modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in modules if m and m.startswith("STpuppeteer.fit")], path.name


def test_panels_take_a_plain_namespace(rng):
    st = realism_statistics(make_reference(rng, n_cells=40, n_genes=10))
    plain = type("Plain", (), {f.name: getattr(st, f.name) for f in dataclasses.fields(st)})()
    fig, ax = plt.subplots()
    realism.plot_gene_zero_fraction(plain, plain, ax)
    assert np.isclose(ax.get_ylim()[1], 1.02)
    plt.close("all")
