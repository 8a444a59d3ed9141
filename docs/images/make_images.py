"""Redraw the docs' pictures: ``python docs/images/make_images.py`` (about half a minute).

The demo's Xenium-like tile (2,000 cells) with cell types in domains (the README's
``overview.png``), one cell per localisation pattern (``localisation.png``, in
``docs/model_molecules.md``) and one small tissue per named architecture (``architectures.png``,
in ``docs/model_tissue.md``), drawn at a modest resolution and stored with a 256-colour palette:
about a quarter of the bytes of full colour, and the figures have far fewer colours than that.
``python docs/images/make_images.py architectures`` draws only the named one.
"""

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from PIL import Image  # noqa: E402  (Pillow comes with matplotlib)

from STpuppeteer._random import stage_rng  # noqa: E402
from STpuppeteer.plotting.localisation import plot_localisation  # noqa: E402
from STpuppeteer.plotting.overview import plot_overview  # noqa: E402
from STpuppeteer.plotting.tissue import plot_tissue  # noqa: E402
from STpuppeteer.simulation import SimulationConfig, simulate  # noqa: E402
from STpuppeteer.stages.tissue import generate_cells  # noqa: E402

HERE = Path(__file__).parent


def _save(fig, name: str) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=70, bbox_inches="tight")
    image = Image.open(buffer).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(HERE / name, optimize=True)


# Colours that read as roles: epithelium and tumour warm, immune cells blue, stroma earth, glia grey-green.
ARCHITECTURES = {
    "glands (breast_programs preset: program model)": (
        SimulationConfig.from_preset("breast_programs", n_cells=1500, seed=2, tissue={"architecture": "glands"}),
        {
            "Luminal epithelial (ER+)": "#d6604d",
            "Basal/myoepithelial": "#7b3294",
            "Fibroblast / CAF": "#dfc27d",
            "Endothelial": "#a6d96a",
            "Pericyte / smooth muscle": "#8c510a",
            "T cell": "#2166ac",
            "Macrophage": "#67a9cf",
        },
    ),
    "tumour (named types, prior model)": (
        SimulationConfig(
            n_cells=1500,
            seed=3,
            n_markers=20,
            celltype_names=["Tumour epithelial", "CD8 T cell", "Macrophage", "Fibroblast / CAF", "Endothelial"],
            tissue={"architecture": "tumour", "proportions": [0.35, 0.1, 0.08, 0.35, 0.12]},
        ),
        {
            "Tumour epithelial": "#d6604d",
            "CD8 T cell": "#2166ac",
            "Macrophage": "#67a9cf",
            "Fibroblast / CAF": "#dfc27d",
            "Endothelial": "#a6d96a",
        },
    ),
    "cortex (named types, prior model)": (
        SimulationConfig(
            n_cells=1500,
            seed=3,
            n_markers=20,
            celltype_names=["L2/3 IT", "L4 IT", "L5 ET", "L6 CT", "Astrocyte", "Oligodendrocyte", "Pvalb interneuron"],
            tissue={"architecture": "cortex", "proportions": [0.24, 0.16, 0.2, 0.24, 0.06, 0.05, 0.05]},
        ),
        {
            "L2/3 IT": "#fdb863",
            "L4 IT": "#e66101",
            "L5 ET": "#b2abd2",
            "L6 CT": "#5e3c99",
            "Astrocyte": "#1a9641",
            "Oligodendrocyte": "#404040",
            "Pvalb interneuron": "#0571b0",
        },
    ),
}


def plot_architectures() -> plt.Figure:
    """One small tissue (1,500 cells) per named architecture, types in role colours."""
    fig, axes = plt.subplots(1, 3, figsize=(18, 7.6))
    for ax, (title, (config, palette)) in zip(axes, ARCHITECTURES.items(), strict=True):
        cell_gdf = generate_cells(config, stage_rng(config.seed, "cells"))
        plot_tissue(cell_gdf, ax=ax, palette=palette, legend=False, title=title)
        handles = [Patch(color=colour, label=name) for name, colour in palette.items()]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=9, frameon=False)
    fig.tight_layout()
    return fig


def main(which: list[str]) -> None:
    """Write the pictures beside this file: all, or those named (overview, localisation, architectures)."""
    which = which or ["overview", "localisation", "architectures"]
    if {"overview", "localisation"} & set(which):
        config = SimulationConfig.from_preset("xenium", n_cells=2000, seed=0, tissue={"pattern": "domains"})
        result = simulate(config)
        if "overview" in which:
            _save(plot_overview(result), "overview.png")
        if "localisation" in which:
            _save(plot_localisation(result), "localisation.png")
    if "architectures" in which:
        _save(plot_architectures(), "architectures.png")


if __name__ == "__main__":
    main(sys.argv[1:])
