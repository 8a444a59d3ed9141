"""CosMx's fields of view: the grid of FOVs that covers the tissue, and which FOV owns each point.

FOVs are laid on a grid that covers the tissue, overlapping when the tissue is not a whole
number of FOVs wide (as users place them); each point of the tissue belongs to the FOV whose
centre is nearest along each axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

__all__ = ["FovLayout"]


def _axis_starts(lo: float, hi: float, size: float) -> tuple[np.ndarray, np.ndarray]:
    """FOV starts covering ``[lo, hi]`` and the cuts between the parts each one owns."""
    n = max(1, math.ceil((hi - lo) / size - 1e-9))
    if n == 1:
        starts = np.array([lo - (size - (hi - lo)) / 2])
    else:
        starts = lo + np.arange(n) * (hi - lo - size) / (n - 1)
    centres = starts + size / 2
    return starts, (centres[:-1] + centres[1:]) / 2


@dataclass(frozen=True)
class FovLayout:
    """Fields of view on a grid: FOV ``row * n_cols + col + 1`` starts at ``(x_starts[col], y_starts[row])``.

    Attributes
    ----------
    x_starts, y_starts
        Left and bottom edges of the FOV columns and rows, µm.
    x_cuts, y_cuts
        Where one FOV's part ends and the next one's begins, µm.
    size_px
        Side of a FOV, pixels.
    pixel_size
        µm per pixel.
    """

    x_starts: np.ndarray
    y_starts: np.ndarray
    x_cuts: np.ndarray
    y_cuts: np.ndarray
    size_px: int
    pixel_size: float

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float], *, size_px: int, pixel_size: float) -> FovLayout:
        """The grid of FOVs covering ``bounds`` = ``(xmin, ymin, xmax, ymax)`` µm.

        Parameters
        ----------
        bounds
            Region to cover, µm.
        size_px
            Side of a FOV, pixels.
        pixel_size
            µm per pixel.
        """
        size = size_px * pixel_size
        x_starts, x_cuts = _axis_starts(bounds[0], bounds[2], size)
        y_starts, y_cuts = _axis_starts(bounds[1], bounds[3], size)
        return cls(x_starts, y_starts, x_cuts, y_cuts, size_px, pixel_size)

    @property
    def n_fovs(self) -> int:
        """Number of FOVs."""
        return len(self.x_starts) * len(self.y_starts)

    def locate(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The FOV owning each point, and the point in that FOV's local pixels.

        Parameters
        ----------
        x, y
            Positions, µm.

        Returns
        -------
        FOV ids (1-based), local x and local y in pixels.
        """
        col = np.searchsorted(self.x_cuts, x, side="right")
        row = np.searchsorted(self.y_cuts, y, side="right")
        fov = row * len(self.x_starts) + col + 1
        return fov, (x - self.x_starts[col]) / self.pixel_size, (y - self.y_starts[row]) / self.pixel_size

    def corners(self) -> np.ndarray:
        """``(n_fovs, 2)`` lower-left corner of each FOV, µm, in FOV-id order."""
        xx, yy = np.meshgrid(self.x_starts, self.y_starts)
        return np.c_[xx.ravel(), yy.ravel()]

    def boxes(self) -> np.ndarray:
        """Each FOV's whole field, in FOV-id order."""
        corners = self.corners()
        size = self.size_px * self.pixel_size
        return shapely.box(corners[:, 0], corners[:, 1], corners[:, 0] + size, corners[:, 1] + size)

    def owned(self) -> np.ndarray:
        """The part of the plane each FOV owns (within its field), in FOV-id order."""
        size = self.size_px * self.pixel_size

        def edges(starts: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return np.r_[starts[0], cuts], np.r_[cuts, starts[-1] + size]

        x_lo, x_hi = edges(self.x_starts, self.x_cuts)
        y_lo, y_hi = edges(self.y_starts, self.y_cuts)
        xl, yl = np.meshgrid(x_lo, y_lo)
        xh, yh = np.meshgrid(x_hi, y_hi)
        return shapely.box(xl.ravel(), yl.ravel(), xh.ravel(), yh.ravel())
