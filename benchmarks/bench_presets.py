"""What each platform preset of the program model measures: the figures of ``docs/presets.md``.

Usage::

    python benchmarks/bench_presets.py [--presets xenium_breast,merscope_io,cosmx_1k,xenium_prime_5k]
                                       [--n-cells 5000] [--seed 7]

Runs each preset in memory and prints one markdown row per preset: genes, cell types, cells per
mm² (cells over the bounding box of the cells), median molecules per cell (gene molecules that
landed in a cell; controls excluded), molecules per µm² (all molecules, controls included, over
the same box), the share of control molecules, the section thickness (the z range of the
molecules), and how molecules per cell spread: mean over median, and their Spearman correlation with
the cell's area. Not a test: the tests (``tests/config/test_panel_presets.py``) check the same
statistics on small runs against the targets with tolerances from their standard errors.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import spearmanr

from STpuppeteer.config import preset_config
from STpuppeteer.config.presets import PANEL_PRESETS
from STpuppeteer.pipeline.simulator import SpotlessSimulator


def measure(name: str, *, n_cells: int, seed: int) -> dict[str, float]:
    """Realism statistics of one in-memory run of preset ``name``."""
    config = preset_config(name, seed=seed, n_cells=n_cells)
    t0 = time.perf_counter()
    result = SpotlessSimulator(config).run()
    seconds = time.perf_counter() - t0
    trs, cells = result.trs_df, result.cell_gdf
    x0, y0, x1, y1 = cells.total_bounds
    area_um2 = (x1 - x0) * (y1 - y0)
    is_control = (trs["origin"] == "control").to_numpy()
    landed = trs["landed_cell_id"].to_numpy()[~is_control]
    per_cell = np.bincount(landed[landed >= 0], minlength=len(cells))
    return {
        "genes": config.n_genes,
        "types": config.n_celltype,
        "cells_per_mm2": len(cells) / area_um2 * 1e6,
        "median_per_cell": float(np.median(per_cell)),
        "molecules_per_um2": len(trs) / area_um2,
        "control_percent": 100 * float(is_control.mean()),
        "z_range_um": float(trs["z"].max() - trs["z"].min()),
        "mean_over_median": float(per_cell.mean() / np.median(per_cell)),
        "spearman_area": float(spearmanr(cells["cell_area"], per_cell).statistic),
        "seconds": seconds,
    }


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PANEL_PRESETS))
    parser.add_argument("--n-cells", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(
        "| preset | genes | types | cells/mm² | median molecules/cell | molecules/µm² | controls % | z range µm | "
        "mean/median | Spearman with area | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.presets.split(","):
        m = measure(name, n_cells=args.n_cells, seed=args.seed)
        print(
            f"| {name} | {m['genes']:,} | {m['types']} | {m['cells_per_mm2']:,.0f} | {m['median_per_cell']:,.0f} | "
            f"{m['molecules_per_um2']:.2f} | {m['control_percent']:.2f} | {m['z_range_um']:.1f} | "
            f"{m['mean_over_median']:.3f} | {m['spearman_area']:.2f} | {m['seconds']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
