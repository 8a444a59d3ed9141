"""Configuration of stage 2: the tissue, cell positions, cell types in space, shapes.

Owned by the tissue stage (``tissue.py`` / ``morphology.py``); see docs/model.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import StrictModel

__all__ = ["MorphologyConfig", "TissueConfig"]

SpatialPattern = Literal["mixed", "domains", "layers"]


class TissueConfig(StrictModel):
    """Tissue region, cell density and the spatial pattern of cell types."""

    density_per_mm2: float = Field(2200.0, gt=0, description="cells per mm²")
    pattern: SpatialPattern = "mixed"
    section_thickness_um: float = Field(10.0, gt=0, description="z range of the section, µm")


class MorphologyConfig(StrictModel):
    """Nucleus and cell shapes."""

    nucleus_area_mean_um2: float = Field(50.0, gt=0)
    max_expansion_um: float = Field(15.0, ge=0, description="cell = Voronoi ∩ nucleus buffered by this")
