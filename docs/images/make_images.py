"""Redraw the docs' pictures: ``python docs/images/make_images.py`` (about twenty seconds).

The demo's Xenium-like tile (2,000 cells) with cell types in domains (the README's
``overview.png``) and one cell per localisation pattern (``localisation.png``, in
``docs/model_molecules.md``), drawn at a modest resolution and stored with a 256-colour palette:
about a quarter of the bytes of full colour, and the figures have far fewer colours than that.
"""

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from PIL import Image  # noqa: E402  (Pillow comes with matplotlib)

from STpuppeteer.plotting.localisation import plot_localisation  # noqa: E402
from STpuppeteer.plotting.overview import plot_overview  # noqa: E402
from STpuppeteer.simulation import SimulationConfig, simulate  # noqa: E402

HERE = Path(__file__).parent


def _save(fig, name: str) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=70, bbox_inches="tight")
    image = Image.open(buffer).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(HERE / name, optimize=True)


def main() -> None:
    """Simulate the tile and write ``overview.png`` and ``localisation.png`` beside this file."""
    config = SimulationConfig.from_preset("xenium", n_cells=2000, seed=0, tissue={"pattern": "domains"})
    result = simulate(config)
    _save(plot_overview(result), "overview.png")
    _save(plot_localisation(result), "localisation.png")


if __name__ == "__main__":
    main()
