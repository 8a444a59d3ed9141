"""Configuration of stage 2: the tissue, cell positions, cell types in space, shapes.

Owned by the tissue stage (``tissue.py``, ``positions.py``, ``spatial_pattern.py``,
``morphology.py``); the model and its knobs are described in docs/model_tissue.md.

Checks that need several parts of the config at once (cell-type names, ``n_cells``
together with the density and the nucleus size) live in :func:`check_tissue_consistency`,
which the tissue stage calls before doing any work.
"""

from __future__ import annotations

import math
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from STpuppeteer.config._base import LENGTH_RANGE, MAX_EXTENT_UM, Flag, Int, Name, Real, StrictModel
from STpuppeteer.config.architecture import Architecture
from STpuppeteer.config.morphology import CellModel, MorphologyConfig, NucleusShape

__all__ = [
    "CellModel",
    "MorphologyConfig",
    "NucleusShape",
    "PrototypeConfig",
    "TissueConfig",
]

SpatialPattern = Literal["mixed", "domains", "layers"]
PrototypeKind = Literal["cluster", "ring", "chain"]

#: Most vertices of a tissue mask.
MAX_MASK_VERTICES = 100_000



class PrototypeConfig(StrictModel):
    """A local structure of one cell type placed on top of the background pattern.

    ``cluster``: a disc of ``radius_um``. ``ring``: an annulus of ``width_um`` around a disc
    of ``radius_um`` (filled with ``core_celltype`` if given, e.g. an immune ring around a
    tumour nest). ``chain``: a winding band of ``width_um`` and ``length_um`` (a vessel).
    Centres are uniform in the tissue; cells inside take the type with probability ``purity``.
    """

    kind: PrototypeKind
    celltype: Name = Field(description="type of the cluster, of the ring or of the chain, e.g. 'ct_1' or 'T cell'")
    n_instances: Int = Field(
        1, ge=1, le=10_000, description="how many copies to place; 1 to 10,000 (more is a pattern, not a prototype)"
    )
    radius_um: Real = Field(
        60.0, ge=1, le=MAX_EXTENT_UM, description="cluster radius / ring inner radius, µm" + LENGTH_RANGE
    )
    width_um: Real = Field(25.0, ge=1, le=MAX_EXTENT_UM, description="ring width / chain width, µm" + LENGTH_RANGE)
    length_um: Real = Field(500.0, ge=1, le=MAX_EXTENT_UM, description="chain length, µm" + LENGTH_RANGE)
    tortuosity: Real = Field(
        0.15, ge=0, le=1.5, description="chain: s.d. of the turning angle (radians) per 10 µm of length; 0 to 1.5"
    )
    core_celltype: Name | None = Field(None, description="ring: type filling the disc inside the ring")
    purity: Real = Field(1.0, ge=0, le=1, description="probability that a cell inside takes the type; in [0, 1]")

    @model_validator(mode="after")
    def _core_only_for_rings(self) -> Self:
        if self.core_celltype is not None and self.kind != "ring":
            msg = f"core_celltype={self.core_celltype!r} is only allowed for kind='ring', not kind={self.kind!r}."
            raise ValueError(msg)
        return self


class TissueConfig(StrictModel):
    """Tissue region, cell density and the spatial pattern of cell types."""

    # --- region and positions ------------------------------------------------------------
    density_per_mm2: Real = Field(
        2200.0, ge=1, le=100_000,
        description="cells per mm² (Xenium-like: 2,000–2,500); 1 to 100,000 (a sparse smear to ten µm² a cell)",
    )
    aspect_ratio: Real = Field(
        1.0, ge=0.01, le=100, description="width / height of the rectangular tissue; 0.01 to 100 (a strip)"
    )
    mask_um: list[tuple[Real, Real]] | None = Field(
        None,
        description=f"polygon (x, y) vertices of the tissue, µm; None = a rectangle; 3 to {MAX_MASK_VERTICES:,} "
        f"vertices, coordinates within ±{MAX_EXTENT_UM:,.0f} µm",
    )
    fit_mask_to_density: Flag = Field(
        default=True,
        description="rescale the mask (same shape) so its area is n_cells / density; "
        "False keeps its µm coordinates and the density becomes n_cells / its area",
    )
    min_distance_ratio: Real = Field(
        0.7,
        gt=0,
        le=0.85,
        description="hard-core distance between cell centres, as a fraction of the hexagonal "
        "lattice spacing at the density (0 → Poisson-like, 0.85 → nearly a lattice); in (0, 0.85]",
    )
    section_thickness_um: Real = Field(
        10.0, ge=0.1, le=1000,
        description="z range of the section, µm; 0.1 to 1,000 (sections: 5 FFPE, 10 fresh frozen; thick "
        "sections for 3D: hundreds)",
    )
    # --- cell types in space -------------------------------------------------------------
    proportions: list[Real] | None = Field(
        None,
        description="fraction of cells per cell type (ct_0, ct_1 …); None = equal; must sum to 1 "
        "(program model: cell_type_specs[name].proportion instead)",
    )
    gap_fraction: Real = Field(
        0.0, ge=0, le=0.5,
        description="fraction of the tissue taken by gaps without cells (lumens, vessels, tears), cut out of "
        "the region as rounded holes; 0 to 0.5 (beyond it the tissue falls apart)",
    )
    gap_radius_um: Real = Field(
        30.0, ge=2, le=5_000,
        description="mean radius of a gap, µm (each varies with CV 0.4); 2 to 5,000 (a capillary to a large duct)",
    )
    pattern: SpatialPattern = Field(
        "domains",
        description="where the types go: 'domains' (patches of correlation length domain_length_um), "
        "'layers' (bands) or 'mixed' (no spatial structure)",
    )
    domain_length_um: Real = Field(
        150.0, ge=1, le=MAX_EXTENT_UM,
        description="correlation length of the random fields of 'domains' and of layer wobble, µm" + LENGTH_RANGE,
    )
    layer_angle_deg: Real = Field(
        90.0, ge=-360, le=360, description="direction along which layers are stacked (90 = along y), degrees; "
        "-360 to 360",
    )
    layer_wobble_um: Real = Field(
        0.0, ge=0, le=MAX_EXTENT_UM,
        description=f"amplitude of the waviness of layer boundaries, µm; 0 to {MAX_EXTENT_UM:,.0f} (the slide)",
    )
    layer_order: list[Name] | None = Field(None, description="cell types from the first layer to the last")
    fuzziness: Real = Field(
        0.0, ge=0, le=1, description="fraction of cells typed at random, ignoring the pattern; in [0, 1]"
    )
    prototypes: list[PrototypeConfig] = Field(
        default_factory=list, description="clusters, rings and chains placed on top of the pattern"
    )
    architecture: Architecture | None = Field(
        None,
        description="a named tissue architecture in place of the pattern: 'glands' (epithelium lining lumens, "
        "the tissue's gaps, in stroma; with gap_fraction 0 it cuts its own lumens), 'tumour' (tumour nests in "
        "stroma, immune cells dense at the invasive margin and thinning into the nests) or 'cortex' (curved "
        "layers, glia and interneurons scattered across them); a name, or a mapping of kind, roles and the "
        "architecture's knobs; None = the pattern (docs/model_tissue.md)",
    )

    @field_validator("proportions")
    @classmethod
    def _proportions(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        if any(not math.isfinite(p) or p < 0 for p in value) or not math.isclose(sum(value), 1.0, abs_tol=1e-6):
            msg = f"tissue.proportions={value!r} is not allowed; expected non-negative fractions summing to 1."
            raise ValueError(msg)
        return [float(p) for p in value]

    @field_validator("mask_um")
    @classmethod
    def _mask(cls, value: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if value is None:
            return None
        import shapely

        if len(value) < 3 or not all(math.isfinite(c) for xy in value for c in xy):
            msg = f"tissue.mask_um has {len(value)} vertices; a polygon needs at least 3 finite (x, y) pairs."
            raise ValueError(msg)
        if len(value) > MAX_MASK_VERTICES:
            msg = f"tissue.mask_um has {len(value):,} vertices; at most {MAX_MASK_VERTICES:,} are allowed."
            raise ValueError(msg)
        far = max(abs(c) for xy in value for c in xy)
        if far > MAX_EXTENT_UM:
            msg = (
                f"tissue.mask_um has a coordinate {far:.6g} µm from the origin; coordinates must lie within "
                f"±{MAX_EXTENT_UM:,.0f} µm (10 cm, beyond any slide)."
            )
            raise ValueError(msg)
        polygon = shapely.Polygon(value)
        if not polygon.is_valid or polygon.area <= 0:
            reason = shapely.is_valid_reason(polygon)
            msg = f"tissue.mask_um is not a valid polygon ({reason}); give a simple, non-self-intersecting outline."
            raise ValueError(msg)
        return value
