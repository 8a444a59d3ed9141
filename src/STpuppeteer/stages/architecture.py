"""Stage 2b″: named tissue architectures — glands, a tumour with its infiltrate, cortical layers.

An architecture takes the place of the background pattern (``tissue.architecture``; the
prototypes and ``fuzziness`` still come first). Each type's count is fixed before (the quotas
of :func:`~STpuppeteer.stages.spatial_pattern.assign_celltypes`); the architecture only decides
which cells each role's types take, so the counts stay exact. Within a role of several types
(but the immune cells and the cortex's scattered cells, which mix), and in the stroma, the types
form domains (:func:`~STpuppeteer.stages.fields.argmax_with_counts`
of one smooth field per type, as the ``domains`` pattern).

* **glands**: the cells nearest the lumens (the tissue's gaps) are the epithelium, the next
  ones the myoepithelial ring, the rest stroma. With ``gap_fraction`` 0 the lumens are cut here
  (:func:`tissue_with_lumens`): as many as the epithelial cells line ``lining_cells`` deep.
* **tumour**: nests are where one smooth field is highest; immune cells are drawn (weighted,
  without replacement) with weight 1 in the invasive margin, ``infiltration`` × exp(−depth /
  ``infiltration_depth_um``) inside a nest and a low weight in the far stroma; the tumour type
  takes the nest cells the immune cells left.
* **cortex**: the scattered types (glia, interneurons) take cells drawn uniformly; the others
  are ranked by depth — the distance from a centre of curvature beyond the last layer, plus the
  wobble field and a per-cell shift of s.d. ``border_um`` — and cut into bands in order.

All draws come from one generator, ``block_rng(cell types' generator, Block.ARCHITECTURE)``, in a
fixed order, over the whole tissue at once (as the patterns): threads, Dask workers and tile
sizes build polygons later and cannot change them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy.spatial import cKDTree

from STpuppeteer.config.architecture import architecture_roles
from STpuppeteer.stages.fields import argmax_with_counts, gaussian_fields

if TYPE_CHECKING:
    from STpuppeteer.config.architecture import CortexArchitecture, GlandsArchitecture, TumourArchitecture
    from STpuppeteer.config.tissue import TissueConfig

    AnyArchitecture = GlandsArchitecture | TumourArchitecture | CortexArchitecture

__all__ = ["architecture_celltypes", "gland_lumen_fraction", "tissue_with_lumens"]

#: Weight of a far-stroma cell (beyond the invasive margin) in the draw of the immune cells, against 1 in the
#: margin: immune cells also lie scattered in stroma, an order of magnitude sparser than at the margin.
FAR_STROMA_IMMUNE_WEIGHT = 0.1
#: Most lumens' share of the tissue the glands cut for themselves (the bound of ``tissue.gap_fraction``).
MAX_LUMEN_FRACTION = 0.5
# Rounds of settling the nests' size against the immune cells inside them (converges in one or two).
_NEST_ROUNDS = 4
# Spacing of the points of the gaps' outlines the glands measure distances to, µm.
_OUTLINE_STEP_UM = 2.0
# Log-normal spread of the gaps' radii (stages/gaps.py): E[r] is the mean radius, E[r²] = mean² e^{σ²}.
_GAP_RADIUS_CV = 0.4


def gland_lumen_fraction(tissue: TissueConfig, *, epithelial_share: float, lining_cells: float) -> float:
    """Share of the tissue the lumens take when the epithelium lines them ``lining_cells`` deep.

    A lumen of radius r lined to depth t holds π(2 r t + t²) of epithelium around π r² of
    gap (expected over the gaps' log-normal radii); with t = ``lining_cells`` cell widths
    (√ of the area per cell) and the epithelium a share p of the cells, the lumens take
    f = p / (lining / lumen + p) of the section. Lumens that merge or share a lining make it a
    little less in practice.

    Parameters
    ----------
    tissue
        ``density_per_mm2`` and ``gap_radius_um``.
    epithelial_share
        Fraction of the cells in the epithelium.
    lining_cells
        Depth of the lining, in cell widths.

    Returns
    -------
    The fraction, at most :data:`MAX_LUMEN_FRACTION`.

    Examples
    --------
    >>> from STpuppeteer.config.tissue import TissueConfig
    >>> round(gland_lumen_fraction(TissueConfig(), epithelial_share=1 / 3, lining_cells=2.0), 3)
    0.074
    """
    if epithelial_share <= 0:
        return 0.0
    radius = tissue.gap_radius_um
    depth = lining_cells * math.sqrt(1e6 / tissue.density_per_mm2)
    lumen = math.pi * radius**2 * (1.0 + _GAP_RADIUS_CV**2)
    lining = math.pi * (2.0 * radius * depth + depth**2)
    return min(epithelial_share / (lining / lumen + epithelial_share), MAX_LUMEN_FRACTION)


def tissue_with_lumens(
    tissue: TissueConfig, *, celltype_names: list[str], proportions: list[float] | None = None
) -> TissueConfig:
    """The tissue config whose gaps the stage cuts: glands with ``gap_fraction`` 0 get their lumens.

    Parameters
    ----------
    tissue
        The tissue config.
    celltype_names
        The cell types.
    proportions
        Fraction of cells per type; ``None``: ``tissue.proportions`` (``None`` there: equal).

    Returns
    -------
    ``tissue`` itself, or a copy with the :func:`gland_lumen_fraction` of its epithelium as
    ``gap_fraction``.
    """
    architecture = tissue.architecture
    if architecture is None or architecture.kind != "glands" or tissue.gap_fraction > 0:
        return tissue
    names = list(celltype_names)
    shares = proportions if proportions is not None else tissue.proportions
    shares = [1.0 / len(names)] * len(names) if shares is None else list(shares)
    epithelium = set(architecture_roles(architecture, names)["epithelium"])
    share = sum(p for name, p in zip(names, shares, strict=True) if name in epithelium)
    fraction = gland_lumen_fraction(tissue, epithelial_share=share, lining_cells=architecture.lining_cells)
    return tissue.model_copy(update={"gap_fraction": fraction})


def _domains(
    cells: np.ndarray,
    codes: np.ndarray,
    counts: np.ndarray,
    xy: np.ndarray,
    bounds: tuple,
    rng: np.random.Generator,
    *,
    length_um: float,
) -> np.ndarray:
    # Codes for `cells` from the types `codes` (their quotas `counts`), arranged as domains.
    if len(codes) == 1 or len(cells) == 0:
        return np.repeat(codes, counts)[: len(cells)] if len(codes) else np.empty(0, dtype=np.int64)
    scores = gaussian_fields(xy[cells], bounds, rng, length_um=length_um, n_fields=len(codes))
    return codes[argmax_with_counts(scores, counts)]


def _distance_to(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    if len(targets) == 0:
        return np.full(len(points), np.inf)
    return cKDTree(targets).query(points)[0] if len(points) else np.empty(0)


def _gap_distance(xy: np.ndarray, gaps: shapely.Geometry | None) -> np.ndarray | None:
    # Distance to the nearest gap's outline, through a k-d tree of its points every _OUTLINE_STEP_UM: a
    # centre at distance d is over-estimated by at most √(d² + step²/4) − d (0.05 µm at 10 µm), far below
    # a cell; exact nearest-hole distances (shapely's STRtree) took 3 s at 50,000 cells and ~400 holes.
    parts = np.empty(0, dtype=object) if gaps is None else shapely.get_parts(gaps)
    parts = parts[shapely.area(parts) > 0] if len(parts) else parts
    if len(parts) == 0:
        return None
    outline = shapely.get_coordinates(shapely.segmentize(shapely.boundary(parts), _OUTLINE_STEP_UM))
    return _distance_to(xy, outline)


def _glands(
    xy: np.ndarray,
    counts: np.ndarray,
    roles: dict[str, np.ndarray],
    gaps: shapely.Geometry | None,
    bounds: tuple,
    rng: np.random.Generator,
    *,
    length_um: float,
) -> np.ndarray:
    distance = _gap_distance(xy, gaps)
    if distance is None:
        # No lumen at all (a tissue too small for one): the epithelium gathers where a smooth field is highest.
        distance = -gaussian_fields(xy, bounds, rng, length_um=length_um, n_fields=1)[:, 0]
    nearest_first = np.argsort(distance, kind="stable")
    label = np.empty(len(xy), dtype=np.int64)
    start = 0
    for role in ("epithelium", "myoepithelium", "stroma"):
        codes = roles[role]
        n_role = int(counts[codes].sum())
        cells = nearest_first[start : start + n_role]
        label[cells] = _domains(cells, codes, counts[codes], xy, bounds, rng, length_um=length_um)
        start += n_role
    return label


def _immune_weights(
    xy: np.ndarray, nest: np.ndarray, architecture: TumourArchitecture, *, spacing_um: float
) -> np.ndarray:
    # Distance of each cell to the nests' border, taken half a spacing from the nearest cell across it.
    inside = _distance_to(xy[nest], xy[~nest]) - 0.5 * spacing_um
    outside = _distance_to(xy[~nest], xy[nest]) - 0.5 * spacing_um
    weight = np.empty(len(xy))
    weight[nest] = architecture.infiltration * np.exp(-np.maximum(inside, 0.0) / architecture.infiltration_depth_um)
    weight[~nest] = np.where(outside <= architecture.margin_um, 1.0, FAR_STROMA_IMMUNE_WEIGHT)
    return weight


def _tumour(
    xy: np.ndarray,
    counts: np.ndarray,
    roles: dict[str, np.ndarray],
    architecture: TumourArchitecture,
    bounds: tuple,
    rng: np.random.Generator,
    *,
    length_um: float,
    spacing_um: float,
) -> np.ndarray:
    field = gaussian_fields(xy, bounds, rng, length_um=architecture.nest_length_um, n_fields=1)[:, 0]
    uniform = rng.random(len(xy))
    highest_first = np.argsort(-field, kind="stable")
    n_tumour = int(counts[roles["tumour"]].sum())
    n_immune = int(counts[roles["immune"]].sum())
    immune = np.zeros(len(xy), dtype=bool)
    n_inside = 0
    for _ in range(_NEST_ROUNDS if n_immune else 0):
        # The nests hold the tumour cells and the immune cells among them: grow them by the latter.
        nest = np.zeros(len(xy), dtype=bool)
        nest[highest_first[: n_tumour + n_inside]] = True
        weight = _immune_weights(xy, nest, architecture, spacing_um=spacing_um)
        # Weighted draw without replacement: the n largest u^(1/w) (Efraimidis & Spirakis 2006).
        with np.errstate(divide="ignore"):
            key = np.log(uniform) / weight
        immune = np.zeros(len(xy), dtype=bool)
        immune[np.argsort(-key, kind="stable")[:n_immune]] = True
        inside = int((immune & nest).sum())
        if inside == n_inside:
            break
        n_inside = inside
    label = np.empty(len(xy), dtype=np.int64)
    rest = highest_first[~immune[highest_first]]
    parts = {"immune": np.flatnonzero(immune), "tumour": rest[:n_tumour], "stroma": rest[n_tumour:]}
    for role in ("tumour", "stroma"):
        codes, cells = roles[role], parts[role]
        label[cells] = _domains(cells, codes, counts[codes], xy, bounds, rng, length_um=length_um)
    # Immune types mix where they gather (T cells beside macrophages at the margin), rather than form domains.
    codes = roles["immune"]
    label[parts["immune"]] = rng.permutation(np.repeat(codes, counts[codes]))
    return label


def _cortex(
    xy: np.ndarray,
    counts: np.ndarray,
    roles: dict[str, np.ndarray],
    architecture: CortexArchitecture,
    tissue: TissueConfig,
    bounds: tuple,
    rng: np.random.Generator,
) -> np.ndarray:
    label = np.empty(len(xy), dtype=np.int64)
    scattered_codes, layer_codes = roles["scattered"], roles["layers"]
    n_scattered = int(counts[scattered_codes].sum())
    shuffled = rng.permutation(len(xy))
    scattered, layered = shuffled[:n_scattered], np.sort(shuffled[n_scattered:])
    label[scattered] = rng.permutation(np.repeat(scattered_codes, counts[scattered_codes]))

    angle = math.radians(tissue.layer_angle_deg)
    axis = np.array([math.cos(angle), math.sin(angle)])
    where = xy[layered]
    if architecture.curvature_radius_um is None:
        depth = where @ axis
    else:
        # The centre of curvature lies beyond the last layer, on the tissue's axis: layers are arcs
        # about it, the first (pial) layer the farthest from it.
        x0, y0, x1, y1 = bounds
        half_extent = 0.5 * (abs((x1 - x0) * axis[0]) + abs((y1 - y0) * axis[1]))
        centre = np.array([0.5 * (x0 + x1), 0.5 * (y0 + y1)]) + (architecture.curvature_radius_um + half_extent) * axis
        depth = -np.hypot(*(where - centre).T)
    if tissue.layer_wobble_um > 0 and len(where):
        wobble = gaussian_fields(where, bounds, rng, length_um=tissue.domain_length_um, n_fields=1)[:, 0]
        depth = depth + tissue.layer_wobble_um * wobble
    if architecture.border_um > 0:
        depth = depth + architecture.border_um * rng.standard_normal(len(where))
    ranked = np.empty(len(layered), dtype=np.int64)
    ranked[np.argsort(depth, kind="stable")] = np.repeat(layer_codes, counts[layer_codes])
    label[layered] = ranked
    return label


def architecture_celltypes(
    xy: np.ndarray,
    counts: np.ndarray,
    region: shapely.Polygon,
    tissue: TissueConfig,
    rng: np.random.Generator,
    *,
    celltype_names: list[str],
    gaps: shapely.Geometry | None = None,
    spacing_um: float | None = None,
) -> np.ndarray:
    """Cell-type codes of cells placed by ``tissue.architecture``, each type exactly its quota.

    Parameters
    ----------
    xy
        ``(m, 2)`` centres of the cells to type, µm.
    counts
        ``(k,)`` how many of them each type takes (summing to ``m``).
    region
        The tissue polygon (its bounds lay out the random fields).
    tissue
        ``architecture`` and, for the stroma's domains and the cortex's wobble, ``domain_length_um``,
        ``layer_angle_deg`` and ``layer_wobble_um``.
    rng
        Source of randomness (``Block.ARCHITECTURE`` under the cell types' stream).
    celltype_names
        The types, whose positions are the codes.
    gaps
        The tissue's gaps (glands: the lumens), e.g. the tissue's outline minus ``region``;
        ``None``: the holes of ``region``.
    spacing_um
        Typical distance between neighbouring cells (tumour: where a nest's border lies);
        ``None``: from ``region``'s area per cell of ``xy``.

    Returns
    -------
    ``(m,)`` int64 codes; code t occurs exactly ``counts[t]`` times.
    """
    architecture = tissue.architecture
    if architecture is None:
        msg = "architecture_celltypes needs tissue.architecture; it is None."
        raise ValueError(msg)
    code = {name: i for i, name in enumerate(celltype_names)}
    roles = {
        role: np.array([code[name] for name in names], dtype=np.int64)
        for role, names in architecture_roles(architecture, celltype_names).items()
    }
    counts = np.asarray(counts, dtype=np.int64)
    bounds = region.bounds
    if architecture.kind == "glands":
        if gaps is None:
            gaps = shapely.polygons(list(region.interiors)) if len(region.interiors) else None
        return _glands(xy, counts, roles, gaps, bounds, rng, length_um=tissue.domain_length_um)
    if architecture.kind == "tumour":
        spacing = spacing_um if spacing_um is not None else math.sqrt(region.area / max(len(xy), 1))
        return _tumour(
            xy, counts, roles, architecture, bounds, rng, length_um=tissue.domain_length_um, spacing_um=spacing
        )
    return _cortex(xy, counts, roles, architecture, tissue, bounds, rng)
