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

from STpuppeteer.config._base import StrictModel

__all__ = [
    "MorphologyConfig",
    "NucleusShape",
    "PrototypeConfig",
    "TissueConfig",
    "check_tissue_consistency",
    "hardcore_distance_um",
    "tissue_area_um2",
]

SpatialPattern = Literal["mixed", "domains", "layers"]
PrototypeKind = Literal["cluster", "ring", "chain"]

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
    celltype: str = Field(description="type of the cluster, of the ring or of the chain, e.g. 'ct_1' or 'T cell'")
    n_instances: int = Field(1, gt=0, description="how many copies to place")
    radius_um: float = Field(60.0, gt=0, description="cluster radius / ring inner radius, µm")
    width_um: float = Field(25.0, gt=0, description="ring width / chain width, µm")
    length_um: float = Field(500.0, gt=0, description="chain length, µm")
    tortuosity: float = Field(
        0.15, ge=0, le=1.5, description="chain: s.d. of the turning angle (radians) per 10 µm of length"
    )
    core_celltype: str | None = Field(None, description="ring: type filling the disc inside the ring")
    purity: float = Field(1.0, ge=0, le=1, description="probability that a cell inside takes the type")

    @model_validator(mode="after")
    def _core_only_for_rings(self) -> Self:
        if self.core_celltype is not None and self.kind != "ring":
            msg = f"core_celltype={self.core_celltype!r} is only allowed for kind='ring', not kind={self.kind!r}."
            raise ValueError(msg)
        return self


class TissueConfig(StrictModel):
    """Tissue region, cell density and the spatial pattern of cell types."""

    # --- region and positions ------------------------------------------------------------
    density_per_mm2: float = Field(2200.0, gt=0, description="cells per mm² (Xenium-like: 2,000–2,500)")
    aspect_ratio: float = Field(1.0, gt=0, description="width / height of the rectangular tissue")
    mask_um: list[tuple[float, float]] | None = Field(
        None, description="polygon (x, y) vertices of the tissue, µm; None = a rectangle"
    )
    fit_mask_to_density: bool = Field(
        default=True,
        description="rescale the mask (same shape) so its area is n_cells / density; "
        "False keeps its µm coordinates and the density becomes n_cells / its area",
    )
    min_distance_ratio: float = Field(
        0.7,
        gt=0,
        le=0.85,
        description="hard-core distance between cell centres, as a fraction of the hexagonal "
        "lattice spacing at the density (0 → Poisson-like, 0.85 → nearly a lattice)",
    )
    section_thickness_um: float = Field(10.0, gt=0, description="z range of the section, µm")
    # --- cell types in space -------------------------------------------------------------
    proportions: list[float] | None = Field(
        None,
        description="fraction of cells per cell type (ct_0, ct_1 …); None = equal; must sum to 1 "
        "(program model: cell_type_specs[name].proportion instead)",
    )
    pattern: SpatialPattern = "mixed"
    domain_length_um: float = Field(
        150.0, gt=0, description="correlation length of the random fields of 'domains' and of layer wobble, µm"
    )
    layer_angle_deg: float = Field(90.0, description="direction along which layers are stacked (90 = along y)")
    layer_wobble_um: float = Field(0.0, ge=0, description="amplitude of the waviness of layer boundaries, µm")
    layer_order: list[str] | None = Field(None, description="cell types from the first layer to the last")
    fuzziness: float = Field(
        0.0, ge=0, le=1, description="fraction of cells typed at random, ignoring the pattern"
    )
    prototypes: list[PrototypeConfig] = Field(
        default_factory=list, description="clusters, rings and chains placed on top of the pattern"
    )

    @field_validator("density_per_mm2", "aspect_ratio", "domain_length_um", "section_thickness_um")
    @classmethod
    def _finite(cls, value: float, info: object) -> float:
        if not math.isfinite(value):
            msg = f"tissue.{info.field_name}={value!r} is not allowed; expected a finite positive number."  # type: ignore[attr-defined]
            raise ValueError(msg)
        return value

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
        polygon = shapely.Polygon(value)
        if not polygon.is_valid or polygon.area <= 0:
            reason = shapely.is_valid_reason(polygon)
            msg = f"tissue.mask_um is not a valid polygon ({reason}); give a simple, non-self-intersecting outline."
            raise ValueError(msg)
        return value


class NucleusShape(StrictModel):
    """Per-cell-type overrides of the nucleus shape; ``None`` keeps the global value."""

    nucleus_area_mean_um2: float | None = Field(None, gt=0)
    nucleus_area_cv: float | None = Field(None, ge=0, le=2)
    elongation_mean: float | None = Field(None, ge=1, le=5)
    roughness: float | None = Field(None, ge=0, le=0.3)


class MorphologyConfig(StrictModel):
    """Nucleus and cell shapes.

    A nucleus is an ellipse of area A (Gamma, mean ``nucleus_area_mean_um2``, CV
    ``nucleus_area_cv``), axis ratio 1 + Gamma(mean ``elongation_mean`` − 1, CV
    ``elongation_cv``), uniform orientation, whose radius is perturbed by Fourier harmonics
    2…``n_harmonics`` of total relative s.d. ``roughness``. A cell is the Voronoi cell of its
    nucleus centre ∩ the nucleus expanded radially by ``max_expansion_um`` ∩ the tissue.
    """

    nucleus_area_mean_um2: float = Field(50.0, gt=0, description="mean nucleus area, µm²")
    nucleus_area_cv: float = Field(0.3, ge=0, le=2, description="coefficient of variation of nucleus area")
    elongation_mean: float = Field(1.4, ge=1, le=5, description="mean ratio of major to minor axis")
    elongation_cv: float = Field(0.5, ge=0, le=3, description="CV of (elongation − 1)")
    roughness: float = Field(0.05, ge=0, le=0.3, description="relative s.d. of the radius from harmonics")
    n_harmonics: int = Field(5, ge=2, le=12, description="highest Fourier mode of the boundary perturbation")
    n_vertices: int = Field(32, ge=16, le=128, description="vertices of each nucleus polygon")
    max_expansion_um: float = Field(6.0, ge=0, description="cell = Voronoi ∩ nucleus expanded by this, µm")
    celltype_shapes: dict[str, NucleusShape] = Field(
        default_factory=dict, description="per-cell-type overrides of the nucleus shape, keyed by cell type"
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
    _check_nuclei_fit(tissue, morphology, n_cells=n_cells, names=names)
    _check_prototypes_fit(tissue, n_cells=n_cells, names=names)


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
