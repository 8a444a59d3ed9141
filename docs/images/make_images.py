"""Redraw the README's picture: ``python docs/images/make_images.py`` (about ten seconds).

The demo's Xenium-like tile (2,000 cells) with cell types in domains, drawn at a modest
resolution and stored with a 256-colour palette: about a quarter of the bytes of full colour,
and the figure has far fewer colours than that.
"""

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from PIL import Image  # noqa: E402  (Pillow comes with matplotlib)

from STpuppeteer.plotting.overview import plot_overview  # noqa: E402
from STpuppeteer.simulation import SimulationConfig, simulate  # noqa: E402

HERE = Path(__file__).parent


def main() -> None:
    """Simulate the tile and write ``overview.png`` beside this file."""
    config = SimulationConfig.from_preset("xenium", n_cells=2000, seed=0, tissue={"pattern": "domains"})
    buffer = io.BytesIO()
    plot_overview(simulate(config)).savefig(buffer, dpi=70, bbox_inches="tight")
    image = Image.open(buffer).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(HERE / "overview.png", optimize=True)


if __name__ == "__main__":
    main()
