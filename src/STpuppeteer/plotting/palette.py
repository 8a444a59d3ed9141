"""Cell-type colours shared by every figure, matching the tutorial's palette."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib as mpl

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["celltype_palette"]

# The seed tutorial's colours for the first three types; tab20 beyond.
_TUTORIAL_COLORS = ["#49997c", "#1ebecd", "#ae3918"]


def celltype_palette(celltypes: int | Sequence[str]) -> dict[str, str]:
    """Colour per cell type, in order: the tutorial's three colours, then tab20's.

    Parameters
    ----------
    celltypes
        The cell type names in order (``config.celltype_names``), or their number for
        ``ct_0`` … ``ct_{n-1}``.

    Returns
    -------
    ``{"ct_0": "#49997c", ...}``.

    Examples
    --------
    >>> celltype_palette(["Fibroblast / CAF", "T cell"])["T cell"]
    '#1ebecd'
    """
    names = [f"ct_{k}" for k in range(celltypes)] if isinstance(celltypes, int) else [str(c) for c in celltypes]
    extra = [mpl.colors.to_hex(c) for c in mpl.colormaps["tab20"].colors]
    colors = _TUTORIAL_COLORS + [c for c in extra if c not in _TUTORIAL_COLORS]
    return {name: colors[k % len(colors)] for k, name in enumerate(names)}
