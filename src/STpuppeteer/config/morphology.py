"""Configuration of nucleus and cell shapes (``morphology``), per cell type where they differ.

Owned by the shape stages (``stages/morphology.py`` nuclei; ``cell_sizes.py``,
``cell_stretch.py``, ``nucleus_offset.py`` the confluent cells); the model is described in
docs/model_tissue.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from STpuppeteer.config._base import LENGTH_RANGE, MAX_EXTENT_UM, Int, Name, Real, StrictModel

__all__ = ["MAX_NUCLEUS_AREA_UM2", "MAX_RELATIVE_PERTURBATION", "CellModel", "MorphologyConfig", "NucleusShape"]

CellModel = Literal["confluent", "expanded"]

# A nucleus' relative radius perturbation is clipped to ±this (keeps the polygon star-convex
# with radii bounded away from 0); feasibility checks assume the worst case.
MAX_RELATIVE_PERTURBATION = 0.5

#: Largest mean nucleus area, µm² (a nucleus of ~110 µm diameter; giant cells reach a few thousand µm²).
MAX_NUCLEUS_AREA_UM2 = 10_000.0
_AREA = f"mean nucleus area, µm²; 1 to {MAX_NUCLEUS_AREA_UM2:,.0f} (lymphocytes ~30, hepatocytes ~60, giant cells ~10³)"
_AREA_CV = "coefficient of variation of nucleus area; 0 to 2 (where its Gamma stays computable)"
_ELONGATION = "mean ratio of major to minor axis; 1 to 5"
_ROUGHNESS = "relative s.d. of the radius from harmonics; 0 to 0.3 (keeps the outline star-shaped)"
_CELL_AREA = ("mean cell area, µm², relative to the other types (confluent cells fill the tissue, so the areas are "
              "rescaled to its area per cell); 1 to 100,000")
_CELL_AREA_CV = "coefficient of variation of the log-normal cell area; 0 to 1.5"
_CELL_ELONGATION = ("length over width of the cell (confluent model; its long axis follows the orientation field); "
                    "1 to 5 (smooth muscle reaches ~5 in section)")


class NucleusShape(StrictModel):
    """Per-cell-type overrides of the nucleus shape; ``None`` keeps the global value."""

    nucleus_area_mean_um2: Real | None = Field(None, ge=1, le=MAX_NUCLEUS_AREA_UM2, description=_AREA)
    nucleus_area_cv: Real | None = Field(None, ge=0, le=2, description=_AREA_CV)
    elongation_mean: Real | None = Field(None, ge=1, le=5, description=_ELONGATION)
    roughness: Real | None = Field(None, ge=0, le=0.3, description=_ROUGHNESS)
    cell_area_mean_um2: Real | None = Field(None, ge=1, le=100_000, description=_CELL_AREA)
    cell_area_cv: Real | None = Field(None, ge=0, le=1.5, description=_CELL_AREA_CV)
    cell_elongation: Real | None = Field(None, ge=1, le=5, description=_CELL_ELONGATION)


#: Cell types that are elongated by default, by a word of their name (the program model's free-text
#: names): fibroblasts, smooth muscle, pericytes and endothelial cells are spindle-shaped or flat.
ELONGATED_NAME_WORDS = ("fibroblast", "caf", "muscle", "pericyte", "endothelial", "myofibroblast", "smc")
#: Their default length over width.
DEFAULT_ELONGATED = 2.5


class MorphologyConfig(StrictModel):
    """Nucleus and cell shapes.

    A nucleus is an ellipse of area A (Gamma, mean ``nucleus_area_mean_um2``, CV
    ``nucleus_area_cv``), axis ratio 1 + Gamma(mean ``elongation_mean`` − 1, CV
    ``elongation_cv``), uniform orientation, whose radius is perturbed by Fourier harmonics
    2…``n_harmonics`` of total relative s.d. ``roughness``. Confluent model (default): cells are
    power cells of per-cell target areas and elongations, and nuclei of elongated cells sit
    off-centre along the cell (``nucleus_offset``). Expanded model: a cell is the Voronoi cell of
    its nucleus centre ∩ the nucleus expanded radially by ``max_expansion_um`` ∩ the tissue.
    """

    nucleus_area_mean_um2: Real = Field(50.0, ge=1, le=MAX_NUCLEUS_AREA_UM2, description=_AREA)
    nucleus_area_cv: Real = Field(0.3, ge=0, le=2, description=_AREA_CV)
    elongation_mean: Real = Field(1.4, ge=1, le=5, description=_ELONGATION)
    elongation_cv: Real = Field(0.5, ge=0, le=3, description="CV of (elongation − 1); 0 to 3")
    roughness: Real = Field(0.05, ge=0, le=0.3, description=_ROUGHNESS)
    n_harmonics: Int = Field(5, ge=2, le=12, description="highest Fourier mode of the boundary perturbation; 2 to 12")
    n_vertices: Int = Field(32, ge=16, le=128, description="vertices of each nucleus polygon; 16 to 128")
    max_expansion_um: Real = Field(
        6.0, ge=0, le=100,
        description="expanded model: cell = Voronoi ∩ nucleus expanded by this, µm; 0 to 100 (cytoplasm reaches "
        "tens of µm beyond the nucleus; the work per cell grows with its square)",
    )
    cell_model: CellModel = Field(
        "confluent",
        description="'confluent': power (Laguerre) cells of per-cell target areas fill the tissue; 'expanded': "
        "Voronoi cell ∩ nucleus grown by max_expansion_um (the earlier default, with gaps between cells)",
    )
    cell_area_mean_um2: Real | None = Field(
        None, ge=1, le=100_000,
        description="confluent model: mean cell area, µm²; None = the tissue's area per cell (1e6 / density); "
        "per-type values in celltype_shapes set the ratios; 1 to 100,000",
    )
    cell_area_cv: Real = Field(0.45, ge=0, le=1.5, description=_CELL_AREA_CV)
    cell_elongation: Real = Field(
        1.0, ge=1, le=5,
        description=_CELL_ELONGATION + "; types named like fibroblasts, muscle, pericytes or endothelial cells "
        f"default to {DEFAULT_ELONGATED}",
    )
    orientation_length_um: Real = Field(
        200.0, ge=1, le=MAX_EXTENT_UM,
        description="correlation length of the smooth field of cell orientations, µm" + LENGTH_RANGE,
    )
    nucleus_offset: Real = Field(
        0.5, ge=0, le=1,
        description="confluent model, elongated cells (length over width > 1): mean shift of the nucleus along "
        "its cell's long axis, towards a random end, as a fraction of the room the nucleus has there (the "
        "disc guaranteed inside its cell less the nucleus' largest radius); 0 to 1 (0 = centred, as before; "
        "1 = pressed to the room's edge)",
    )
    celltype_shapes: dict[Name, NucleusShape] = Field(
        default_factory=dict, description="per-cell-type overrides of the nucleus shape, keyed by cell type"
    )

    def cell_shape_of(self, celltype: str, *, area_per_cell_um2: float) -> tuple[float, float, float]:
        """(cell area mean, cell area CV, cell elongation) of one cell type, overrides applied.

        A type without a mean area of its own takes ``cell_area_mean_um2``, or else
        ``area_per_cell_um2`` (the tissue's area per cell).
        """
        over = self.celltype_shapes.get(celltype, NucleusShape())
        default_elongation = self.cell_elongation
        if self.cell_elongation == 1.0 and any(word in celltype.lower() for word in ELONGATED_NAME_WORDS):
            default_elongation = DEFAULT_ELONGATED
        return (
            over.cell_area_mean_um2
            if over.cell_area_mean_um2 is not None
            else (self.cell_area_mean_um2 or area_per_cell_um2),
            over.cell_area_cv if over.cell_area_cv is not None else self.cell_area_cv,
            over.cell_elongation if over.cell_elongation is not None else default_elongation,
        )

    def shape_of(self, celltype: str) -> tuple[float, float, float, float]:
        """(area mean, area CV, elongation mean, roughness) of one cell type, overrides applied."""
        over = self.celltype_shapes.get(celltype, NucleusShape())
        return (
            over.nucleus_area_mean_um2 if over.nucleus_area_mean_um2 is not None else self.nucleus_area_mean_um2,
            over.nucleus_area_cv if over.nucleus_area_cv is not None else self.nucleus_area_cv,
            over.elongation_mean if over.elongation_mean is not None else self.elongation_mean,
            over.roughness if over.roughness is not None else self.roughness,
        )
