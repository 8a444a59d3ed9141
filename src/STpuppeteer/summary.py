"""Headline figures of a simulated dataset, as a user checks them before trusting it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from STpuppeteer.result import SimulationResult

__all__ = ["disk_bytes", "format_summary", "human_bytes", "molecules_per_landed_cell", "summarize", "tissue_area_um2"]


def tissue_area_um2(result: SimulationResult) -> float:
    """Area of the tissue: the tissue polygon kept by stage 2, else the cells' bounding box."""
    tissue = result.cell_gdf.attrs.get("tissue")
    if tissue is not None:
        return float(tissue.area)
    if not len(result.cell_gdf):
        return 0.0
    x0, y0, x1, y1 = result.cell_gdf.total_bounds
    return float((x1 - x0) * (y1 - y0))


def molecules_per_landed_cell(result: SimulationResult) -> np.ndarray:
    """Gene molecules (controls excluded) per cell they landed in, in ``cell_gdf`` row order.

    Cell ids are the contract's ``0 … n_cells-1``, so they index the cells directly.
    """
    trs_df = result.trs_df
    genes = trs_df["origin"].to_numpy() != "control"
    landed = trs_df["landed_cell_id"].to_numpy()[genes]
    return np.bincount(landed[landed >= 0], minlength=len(result.cell_gdf))


def summarize(result: SimulationResult) -> dict[str, float | int]:
    """Cells, molecules, density and the share of each molecule origin.

    Parameters
    ----------
    result
        A finished simulation.

    Returns
    -------
    ``{"cells", "genes", "molecules", "tissue_area_mm2", "cells_per_mm2", "molecules_per_um2",
    "median_molecules_per_cell", "pct_assigned", "pct_leaked", "pct_ambient", "pct_control"}``, where
    molecules per cell and ``pct_assigned`` count gene molecules by the cell they landed in, as an
    instrument's segmentation would.
    """
    trs_df = result.trs_df
    cell_gdf = result.cell_gdf
    n_mol = len(trs_df)
    origin = trs_df["origin"].to_numpy()
    genes = origin != "control"
    landed = trs_df["landed_cell_id"].to_numpy()[genes]
    per_cell = molecules_per_landed_cell(result)
    tissue = tissue_area_um2(result)

    def pct(mask: np.ndarray) -> float:
        return 100.0 * float(mask.mean()) if n_mol else 0.0

    return {
        "cells": len(cell_gdf),
        "genes": int(result.count_array.shape[1]),
        "molecules": n_mol,
        "tissue_area_mm2": tissue / 1e6,
        "cells_per_mm2": len(cell_gdf) / (tissue / 1e6) if tissue else float("nan"),
        "molecules_per_um2": n_mol / tissue if tissue else float("nan"),
        "median_molecules_per_cell": float(np.median(per_cell)) if len(per_cell) else 0.0,
        "pct_assigned": 100.0 * float((landed >= 0).mean()) if len(landed) else 0.0,
        "pct_leaked": pct(origin == "leaked"),
        "pct_ambient": pct(origin == "ambient"),
        "pct_control": pct(origin == "control"),
    }


_LABELS = {
    "cells": ("cells", "{:,}"),
    "genes": ("genes in panel", "{:,}"),
    "molecules": ("molecules", "{:,}"),
    "tissue_area_mm2": ("tissue area (mm²)", "{:.3f}"),
    "cells_per_mm2": ("cells per mm²", "{:,.0f}"),
    "molecules_per_um2": ("molecules per µm²", "{:.2f}"),
    "median_molecules_per_cell": ("median molecules per cell", "{:.0f}"),
    "pct_assigned": ("% gene molecules in a cell", "{:.1f}"),
    "pct_leaked": ("% leaked", "{:.1f}"),
    "pct_ambient": ("% ambient", "{:.1f}"),
    "pct_control": ("% control probes/codewords", "{:.2f}"),
}


def disk_bytes(path: str | Path) -> int:
    """Bytes of a written file, or of every file under a written folder."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def human_bytes(n: int) -> str:
    """``12345678`` → ``'12.3 MB'`` (powers of 1000, as file managers and ``du --si`` show them)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover


def format_summary(
    summary: dict[str, float | int],
    *,
    files: list[str] | None = None,
    seconds: dict[str, float] | None = None,
    sizes: dict[str, int] | None = None,
) -> str:
    """Render :func:`summarize`'s figures (and the run's times and written files) as an aligned text table.

    Parameters
    ----------
    summary
        Output of :func:`summarize`.
    files
        Paths written, listed under the table.
    seconds
        Seconds per stage (and per written format), in run order.
    sizes
        Bytes on disk per written format.

    Returns
    -------
    The table as a string.
    """
    rows = [(label, fmt.format(summary[key])) for key, (label, fmt) in _LABELS.items() if key in summary]
    width = max(len(label) for label, _ in rows)
    lines = [f"  {label:<{width}}  {value:>12}" for label, value in rows]
    for title, values, render in (("time per stage:", seconds, "{:.1f} s".format),
                                  ("size per format:", sizes, human_bytes)):
        if values:
            lines.append(f"  {title}")
            lines += [f"    {name:<{width - 2}}  {render(value):>12}" for name, value in values.items()]
    if files:
        lines.append("  files written:")
        lines += [f"    {f}" for f in files]
    return "\n".join(lines)
