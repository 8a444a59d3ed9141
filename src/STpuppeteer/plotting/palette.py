"""Cell-type colours shared by every figure, matching the tutorial's palette."""

from __future__ import annotations

import matplotlib as mpl

__all__ = ["celltype_palette"]

# The seed tutorial's colours for the first three types; tab20 beyond.
_TUTORIAL_COLORS = ["#49997c", "#1ebecd", "#ae3918"]


def celltype_palette(n_celltype: int) -> dict[str, str]:
    """Colour per cell type name ``ct_0`` … ``ct_{n-1}``.

    Parameters
    ----------
    n_celltype
        Number of cell types.

    Returns
    -------
    ``{"ct_0": "#49997c", ...}``.
    """
    extra = [mpl.colors.to_hex(c) for c in mpl.colormaps["tab20"].colors]
    colors = _TUTORIAL_COLORS + [c for c in extra if c not in _TUTORIAL_COLORS]
    return {f"ct_{k}": colors[k % len(colors)] for k in range(n_celltype)}
