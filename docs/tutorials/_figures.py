"""Shared by the numbered tutorials: ``plt.show()`` saves each figure to $TUTORIAL_OUT instead.

The tutorials run unattended (in the test suite too), so a figure is written as
``<prefix>_fig_NN.png`` and closed where an interactive run would show it.
"""

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def save_figures_instead_of_showing(prefix: str) -> str:
    """Make ``plt.show()`` save the current figure as ``<prefix>_fig_NN.png``; returns the folder."""
    out = os.environ.get("TUTORIAL_OUT", "tutorial_out")
    os.makedirs(out, exist_ok=True)
    count = [0]

    def save_and_close(*_args, **_kwargs):
        count[0] += 1
        path = os.path.join(out, f"{prefix}_fig_{count[0]:02d}.png")
        plt.savefig(path, dpi=110, bbox_inches="tight")
        plt.close("all")
        print(f"saved {path}")

    plt.show = save_and_close
    return out
