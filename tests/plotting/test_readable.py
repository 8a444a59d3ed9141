"""The helper the figure tests use: it must catch what it is meant to catch."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def test_flags_missing_title_label_and_unit(figure_problems):
    fig, (a, b) = plt.subplots(1, 2)
    a.hist(np.arange(10))
    a.set_xlabel("molecules per cell")
    b.bar(["x", "y"], [1, 2])
    b.set_title("bars")
    b.set_xlabel("origin")
    b.set_ylabel("molecules (count)")
    fig.colorbar(b.imshow([[0, 1]]), ax=b)
    found = figure_problems(fig)
    assert "axes '': no title" in found
    assert "'': no y label" in found
    assert any("'molecules per cell' has no unit" in p for p in found)
    assert "colour bar without a label" in found
    assert not [p for p in found if p.startswith("bars")]  # categorical x needs no unit
    plt.close("all")


def test_a_complete_figure_passes(figure_problems):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set(title="t", xlabel="x (µm)", ylabel="y [µm]")
    fig.colorbar(ax.imshow([[0, 1]]), ax=ax, label="μ (counts)")
    assert figure_problems(fig) == []
    plt.close("all")


def test_numeric_means_number_ticks_whatever_the_formatter(figure_problems):
    fig, (words, logs) = plt.subplots(1, 2)
    words.plot([0, 1], [1, 2])
    words.set_xticks([0, 1], ["simulated", "real"])  # words: no unit needed
    words.set(title="w", xlabel="dataset", ylabel="rate (per cell)")
    logs.plot([10, 1000], [1, 2])
    logs.set_xscale("log")  # 10^1 … 10^3 in mathtext: numbers, so a unit is needed
    logs.set(title="l", xlabel="molecules per gene", ylabel="genes (count)")
    assert figure_problems(fig) == ["l: x label 'molecules per gene' has no unit in () or []"]
    plt.close("all")
