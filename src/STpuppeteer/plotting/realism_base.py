"""What every realism panel shares: the :class:`RealismData` it reads, the two colours, titles and legends.

The bottom of the realism figures: :mod:`STpuppeteer.plotting.realism_gene_panels` and
:mod:`STpuppeteer.plotting.realism_cell_panels` draw with these, and
:mod:`STpuppeteer.plotting.realism` (the face) re-exports :class:`RealismData`,
:data:`SIM_COLOR` and :data:`REAL_COLOR`. Nothing here imports ``fit/``.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from matplotlib.lines import Line2D

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["REAL_COLOR", "SIM_COLOR", "RealismData"]

SIM_COLOR = "#dd6b20"
REAL_COLOR = "#2b6cb0"
_POISSON_COLOR = "#444444"
_MISSING_COLOR = "#777777"
_LEGEND = {"fontsize": 7, "framealpha": 0.85}


@runtime_checkable
class RealismData(Protocol):
    """What a realism panel reads of one side (simulated or real).

    Per-gene series are indexed by gene name; a field is ``None`` when the side lacks it,
    and ``missing[field]`` then says why. Areas in µm².
    """

    @property
    def source(self) -> str:
        """What the side was read from."""

    @property
    def n_cells(self) -> int:
        """Number of cells."""

    @property
    def gene_mean(self) -> pd.Series:
        """Mean count per cell, per gene."""

    @property
    def gene_variance(self) -> pd.Series:
        """Variance of the count per cell, per gene."""

    @property
    def gene_zero_fraction(self) -> pd.Series:
        """Fraction of cells with count 0, per gene."""

    @property
    def totals_per_cell(self) -> np.ndarray:
        """Counts per cell."""

    @property
    def genes_per_cell(self) -> np.ndarray:
        """Genes with count > 0 per cell."""

    @property
    def cell_area(self) -> np.ndarray | None:
        """Cell areas (µm²)."""

    @property
    def nucleus_area(self) -> np.ndarray | None:
        """Nucleus areas (µm²)."""

    @property
    def molecules_per_um2(self) -> np.ndarray | None:
        """Counts per µm² of cell."""

    @property
    def nuclear_fraction(self) -> pd.Series | None:
        """Fraction of a gene's in-cell molecules over the nucleus, per gene."""

    @property
    def qv_histogram(self) -> pd.Series | None:
        """Gene molecules per qv bin, indexed by the bin's left edge."""

    @property
    def control_per_um2(self) -> float | None:
        """Control molecules per µm² of region."""

    @property
    def control_per_cell(self) -> float | None:
        """Control molecules per cell."""

    @property
    def missing(self) -> Mapping[str, str]:
        """Field name → why it is ``None``."""


# --- helpers -------------------------------------------------------------------------------------

def _sides(sim: RealismData, real: RealismData) -> list[tuple[str, RealismData, str]]:
    return [("simulated", sim, SIM_COLOR), ("real", real, REAL_COLOR)]


def _style(ax: Axes, title: str, annotation: str | None) -> None:
    ax.set_title(title if not annotation else f"{title}\n{annotation}", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)


def _legend(ax: Axes, notes: list[str] | tuple[str, ...] = (), *, loc: str = "best") -> None:
    """The legend, with grey lines for what a side lacks (so no note lies over the data)."""
    handles, labels = ax.get_legend_handles_labels()
    extra = [Line2D([], [], linestyle="none") for _ in notes]
    legend = ax.legend(handles + extra, labels + [textwrap.fill(n, 46) for n in notes], loc=loc, **_LEGEND)
    for text in legend.get_texts()[len(labels):]:
        text.set_color(_MISSING_COLOR)


def _missing_line(label: str, side: RealismData, field: str, what: str) -> str:
    why = side.missing.get(field, "not available")
    return f"{label}: no {what} ({why})"
