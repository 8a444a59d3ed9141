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

from STpuppeteer.config._base import MAX_EXTENT_UM, Flag, Int, Name, Real, StrictModel
from STpuppeteer.config.architecture import Architecture, architecture_roles

__all__ = [
    "CellModel",
    "MorphologyConfig",
    "NucleusShape",
    "PrototypeConfig",
    "TissueConfig",
    "check_tissue_consistency",
    "hardcore_distance_um",
    "tissue_area_um2",
    "tissue_extent_um",
]

SpatialPattern = Literal["mixed", "domains", "layers"]
CellModel = Literal["confluent", "expanded"]
PrototypeKind = Literal["cluster", "ring", "chain"]

#: Most vertices of a tissue mask.
MAX_MASK_VERTICES = 100_000
_LENGTH = f"; 1 to {MAX_EXTENT_UM:,.0f} µm (a structure smaller than a cell is none; the slide's extent)"

# A nucleus' relative radius perturbation is clipped to ±this (keeps the polygon star-convex
# with radii bounded away from 0); feasibility checks assume the worst case.
MAX_RELATIVE_PERTURBATION = 0.5


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
        60.0, ge=1, le=MAX_EXTENT_UM, description="cluster radius / ring inner radius, µm" + _LENGTH
    )
    width_um: Real = Field(25.0, ge=1, le=MAX_EXTENT_UM, description="ring width / chain width, µm" + _LENGTH)
    length_um: Real = Field(500.0, ge=1, le=MAX_EXTENT_UM, description="chain length, µm" + _LENGTH)
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
        description="correlation length of the random fields of 'domains' and of layer wobble, µm" + _LENGTH,
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
        description="correlation length of the smooth field of cell orientations, µm" + _LENGTH,
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


# --- checks across config parts --------------------------------------------------------
def tissue_area_um2(tissue: TissueConfig, n_cells: int) -> float:
    """Area of the tissue region in µm² (the mask's own area when it is not fitted)."""
    if tissue.mask_um is not None and not tissue.fit_mask_to_density:
        import shapely

        return float(shapely.Polygon(tissue.mask_um).area)
    return n_cells / tissue.density_per_mm2 * 1e6


def tissue_extent_um(tissue: TissueConfig, n_cells: int) -> tuple[float, float]:
    """Width and height of the tissue's bounding box, µm (as ``stages.positions.tissue_region`` lays it out)."""
    area = tissue_area_um2(tissue, n_cells)
    if tissue.mask_um is None:
        width = math.sqrt(area * tissue.aspect_ratio)
        return width, area / width
    import shapely

    polygon = shapely.Polygon(tissue.mask_um)
    x0, y0, x1, y1 = polygon.bounds
    factor = math.sqrt(area / polygon.area) if tissue.fit_mask_to_density else 1.0
    return (x1 - x0) * factor, (y1 - y0) * factor


def hardcore_distance_um(tissue: TissueConfig, n_cells: int) -> float:
    """Minimum distance between cell centres the position sampler aims for, µm."""
    area_per_cell = tissue_area_um2(tissue, n_cells) / n_cells
    hex_spacing = math.sqrt(2.0 * area_per_cell / math.sqrt(3.0))
    return tissue.min_distance_ratio * hex_spacing


def check_tissue_consistency(
    tissue: TissueConfig,
    morphology: MorphologyConfig,
    *,
    n_cells: int,
    celltype_names: list[str],
    proportions: list[float] | None = None,
) -> None:
    """Refuse tissue configs that cannot work, before any simulation is done.

    Parameters
    ----------
    tissue, morphology
        The stage's config parts.
    n_cells
        Number of cells.
    celltype_names
        The cell types of the simulation (``ct_0`` … or free-text names).
    proportions
        Fraction of cells per type, if not ``tissue.proportions`` (the program model's).

    Raises
    ------
    ValueError
        Naming the field, its value and what is allowed.
    """
    names = list(celltype_names)
    known = set(names)
    if proportions is not None:
        tissue = tissue.model_copy(update={"proportions": list(proportions)})
    if tissue.proportions is not None and len(tissue.proportions) != len(names):
        msg = (
            f"tissue.proportions has {len(tissue.proportions)} values; it needs one per cell type "
            f"(n_celltype={len(names)})."
        )
        raise ValueError(msg)
    if tissue.layer_order is not None and sorted(tissue.layer_order) != sorted(names):
        msg = f"tissue.layer_order={tissue.layer_order!r} must list each of {names} exactly once."
        raise ValueError(msg)
    for i, proto in enumerate(tissue.prototypes):
        for field, value in (("celltype", proto.celltype), ("core_celltype", proto.core_celltype)):
            if value is not None and value not in known:
                msg = f"tissue.prototypes[{i}].{field}={value!r} is not a cell type; allowed are {names}."
                raise ValueError(msg)
    unknown = sorted(set(morphology.celltype_shapes) - known)
    if unknown:
        msg = f"morphology.celltype_shapes has unknown cell types {unknown}; allowed are {names}."
        raise ValueError(msg)
    if tissue.architecture is not None:
        architecture_roles(tissue.architecture, names)
    _check_extent(tissue, n_cells=n_cells)
    _check_nuclei_fit(tissue, morphology, n_cells=n_cells, names=names)
    _check_prototypes_fit(tissue, n_cells=n_cells, names=names)


def _check_extent(tissue: TissueConfig, *, n_cells: int) -> None:
    # The tissue must fit on a slide: beyond it float32 coordinates of the instrument files lose
    # precision, and every tiled stage (fields, FOVs, tiles) grows with the extent.
    width, height = tissue_extent_um(tissue, n_cells)
    if max(width, height) > MAX_EXTENT_UM:
        source = (
            "tissue.mask_um (not fitted)" if tissue.mask_um is not None and not tissue.fit_mask_to_density
            else f"n_cells={n_cells} at tissue.density_per_mm2={tissue.density_per_mm2:g}"
            + ("" if tissue.mask_um is not None else f" and tissue.aspect_ratio={tissue.aspect_ratio:g}")
        )
        msg = (
            f"the tissue would be {width:,.0f} × {height:,.0f} µm ({source}); each side may be at most "
            f"{MAX_EXTENT_UM:,.0f} µm (10 cm): use fewer cells, a higher density or an aspect ratio nearer 1."
        )
        raise ValueError(msg)


def _check_nuclei_fit(tissue: TissueConfig, morphology: MorphologyConfig, *, n_cells: int, names: list[str]) -> None:
    # A nucleus must fit in the disc of half the hard-core distance around its centre (that
    # disc is always inside its Voronoi cell). Nuclei above the limit get shrunk; refusing
    # configs whose *mean* nucleus already fails keeps the shrinking to the distribution tail.
    limit = 0.5 * hardcore_distance_um(tissue, n_cells)
    density = n_cells / tissue_area_um2(tissue, n_cells) * 1e6
    for name in names:
        area, _, elongation, roughness = morphology.shape_of(name)
        semi_major = math.sqrt(area * elongation / math.pi) * (1.0 + 2.0 * roughness)
        if semi_major > limit:
            max_area = math.pi * (limit / (1.0 + 2.0 * roughness)) ** 2 / elongation
            msg = (
                f"nuclei of {name} are too big for the density: morphology.nucleus_area_mean_um2={area} "
                f"(elongation {elongation}, roughness {roughness}) spans {semi_major:.1f} µm from its centre, "
                f"but at {density:.0f} cells/mm² with tissue.min_distance_ratio={tissue.min_distance_ratio} "
                f"a nucleus has only {limit:.1f} µm; use a mean nucleus area ≤ {max_area:.1f} µm², a lower "
                f"density or elongation, or a larger tissue.min_distance_ratio (at most 0.85)."
            )
            raise ValueError(msg)


def _check_prototypes_fit(tissue: TissueConfig, *, n_cells: int, names: list[str]) -> None:
    # Prototype cells are taken from their type's quota; expected demand above the quota
    # cannot be honoured while keeping the proportions.
    if not tissue.prototypes:
        return
    fractions = tissue.proportions or [1.0 / len(names)] * len(names)
    density = n_cells / tissue_area_um2(tissue, n_cells)
    demand = dict.fromkeys(names, 0.0)
    for proto in tissue.prototypes:
        if proto.kind == "cluster":
            areas = {proto.celltype: math.pi * proto.radius_um**2}
        elif proto.kind == "ring":
            outer = proto.radius_um + proto.width_um
            areas = {proto.celltype: math.pi * (outer**2 - proto.radius_um**2)}
            if proto.core_celltype is not None:
                areas[proto.core_celltype] = areas.get(proto.core_celltype, 0.0) + math.pi * proto.radius_um**2
        else:
            areas = {proto.celltype: proto.length_um * proto.width_um}
        for name, area in areas.items():
            demand[name] += proto.n_instances * proto.purity * area * density
    for name, fraction in zip(names, fractions, strict=True):
        if demand[name] > fraction * n_cells:
            msg = (
                f"tissue.prototypes need about {demand[name]:.0f} cells of {name} but its proportion gives "
                f"{fraction * n_cells:.0f} of n_cells={n_cells}; use fewer or smaller prototypes, or a larger "
                f"proportion of {name}."
            )
            raise ValueError(msg)
