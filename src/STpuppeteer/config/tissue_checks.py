"""The tissue's size from its config, and the checks that need several config parts at once.

:func:`check_tissue_consistency` (cell-type names, ``n_cells`` together with the density and
the nucleus size) is called by the tissue stage before it does any work.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from STpuppeteer.config._base import MAX_EXTENT_UM
from STpuppeteer.config.architecture import architecture_roles

if TYPE_CHECKING:
    from STpuppeteer.config.morphology import MorphologyConfig
    from STpuppeteer.config.tissue import TissueConfig

__all__ = ["check_tissue_consistency", "hardcore_distance_um", "tissue_area_um2", "tissue_extent_um"]


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
