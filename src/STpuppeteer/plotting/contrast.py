"""Colours that stay visible on any background: contrast ratios, the dark image panel, halos.

A marker (DAPI-like) panel is near black and a tissue panel near white; a line drawn on both
(the zoom box) needs two colours at once, a light line inside a dark halo. The contrast ratio
is the WCAG 2 one, ``(L1 + 0.05) / (L2 + 0.05)`` on relative luminances: 1 for the same colour,
21 for black on white; 3 is the least WCAG asks of graphics (lines, outlines) against what is
next to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.patheffects as pe
import numpy as np
from matplotlib.colors import to_rgba

if TYPE_CHECKING:
    from matplotlib.typing import ColorType

__all__ = [
    "BOX_COLOR",
    "BOX_HALO_COLOR",
    "DARK_PANEL_COLOR",
    "DARK_PANEL_OUTLINE_COLOR",
    "contrast_ratio",
    "halo",
    "relative_luminance",
]

#: Background of image-like panels (molecules on a dark field, as a DAPI or marker image).
DARK_PANEL_COLOR = "#111111"
#: Cell outlines on :data:`DARK_PANEL_COLOR`: contrast ratio ≈ 4, dimmer than the molecules.
DARK_PANEL_OUTLINE_COLOR = "#737373"
#: Boxes (the zoom window) drawn on any panel: white inside a black halo.
BOX_COLOR = "#ffffff"
BOX_HALO_COLOR = "#000000"


def relative_luminance(color: ColorType) -> float:
    """Relative luminance of a colour (WCAG 2): 0 for black, 1 for white; alpha is ignored.

    Parameters
    ----------
    color
        Any matplotlib colour.

    Returns
    -------
    The luminance.

    Examples
    --------
    >>> round(relative_luminance("white"), 3), round(relative_luminance("black"), 3)
    (1.0, 0.0)
    """
    srgb = np.asarray(to_rgba(color)[:3])
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(foreground: ColorType, background: ColorType) -> float:
    """WCAG 2 contrast ratio of two colours, from 1 (the same) to 21 (black and white).

    A translucent foreground is first blended over the background, as it is seen.

    Parameters
    ----------
    foreground
        The colour drawn (a line, an outline), with its alpha.
    background
        The opaque colour behind it.

    Returns
    -------
    The ratio, at least 1.

    Examples
    --------
    >>> round(contrast_ratio("white", "black"), 1)
    21.0
    >>> contrast_ratio(DARK_PANEL_OUTLINE_COLOR, DARK_PANEL_COLOR) >= 3
    True
    """
    fg = np.asarray(to_rgba(foreground))
    bg = np.asarray(to_rgba(background))
    seen = fg[3] * fg[:3] + (1 - fg[3]) * bg[:3]
    light, dark = sorted((relative_luminance(seen), relative_luminance(bg[:3])), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def halo(*, color: ColorType = BOX_HALO_COLOR, width: float = 3.0) -> list[pe.AbstractPathEffect]:
    """Path effects that draw a line (or text) over a wider stroke of ``color``.

    Parameters
    ----------
    color
        The halo's colour; pair a light line with a dark halo.
    width
        The halo's line width in points (the line itself keeps its own).

    Returns
    -------
    A list for an artist's ``path_effects``.
    """
    return [pe.withStroke(linewidth=width, foreground=color)]
