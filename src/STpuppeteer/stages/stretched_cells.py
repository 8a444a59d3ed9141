"""The confluent model with elongated types: power cells built in a stretched plane and mapped back.

:func:`stretched_layout` packs the centres as discs in the plane of :mod:`.cell_stretch`'s map
(where an elongated cell's target ellipse is a disc) and weights them there; per tile,
:func:`build_stretched_cells` builds their power cells in that plane, cuts them to a margin of
the tissue and to the union of the caps, splits their long edges so the mapped-back corners
follow the curved image of each edge, maps them back and cuts them to the tissue.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy.spatial import cKDTree

from STpuppeteer.geometry.clip import boundary_distance, clip_to_region, largest_part_at
from STpuppeteer.geometry.power import power_cells
from STpuppeteer.stages.morphology import star_polygons
from STpuppeteer.stages.packing import pack_ellipses
from STpuppeteer.stages.power_weights import power_weights
from STpuppeteer.stages.tissue_layout import TissueLayout

if TYPE_CHECKING:
    from STpuppeteer.geometry.stretch import GridMap
    from STpuppeteer.stages.cell_sizes import CellTargets

__all__ = ["build_stretched_cells", "stretched_layout"]

# Stretched cells (elongated types, cell_stretch.py): the bound on every cell's reach from its centre, in
# multiples of the largest target semi-major axis (checked on every cell; the tiles' halo is twice it).
_STRETCHED_REACH = 3.5
# Stretched cells are cut to this multiple of the radius of their target area's disc, in the stretched plane
# (where they are round; power cells exceed their target area by up to ~2× in the 95th percentile).
_STRETCHED_CAP = 3.5
# Corners of the polygons that stand for the caps' circles.
_CAP_VERTICES = 32
# Edges of stretched cells are split into pieces of at most this many steps of the map's grid.
_SEGMENT_STEPS = 3.0
# The stretched plane's cells are cut to the tissue grown by this fraction of a cell spacing (then to the
# tissue itself, back in the tissue's plane): a margin that keeps the cut's straight edges outside the tissue.
_STRETCH_MARGIN = 0.5


def stretched_layout(
    region: shapely.Polygon,
    inner: shapely.Polygon,
    centres: np.ndarray,
    codes: np.ndarray,
    rng: np.random.Generator,
    *,
    targets: CellTargets,
    radius: np.ndarray,
    stretch: GridMap,
) -> TissueLayout:
    """The confluent layout when some type is elongated: centres packed, and weighted, in the stretched plane.

    Parameters
    ----------
    region
        The tissue polygon.
    inner
        The part of it the centres keep to.
    centres
        ``(n, 2)`` the cells' centres, after :func:`~STpuppeteer.stages.cell_room.make_room`.
    codes
        Their cell-type codes.
    rng
        The stage's generator (kept in the layout).
    targets
        The cells' target areas and shapes (:func:`~STpuppeteer.stages.cell_sizes.cell_targets`).
    radius
        ``(n,)`` radii of the discs of the target areas, for the packing.
    stretch
        The map into the stretched plane (:func:`~STpuppeteer.stages.cell_stretch.stretch_map`).

    Returns
    -------
    The layout with ``stretch``, ``sites`` and ``clip``, cells in the order given.
    """
    # The cells are power cells of the centres' images in the stretched plane, where a length scales by
    # about √(area factor) of the map: the packing's discs and the weights take the radii scaled alike. The
    # centres are packed there as discs (an elongated cell's ellipse is a disc there), then mapped back.
    n = len(centres)
    sites = stretch.forward(centres)
    area_factor = np.linalg.det(stretch.jacobian(centres))
    inner_sites = shapely.transform(shapely.segmentize(inner, 0.5 * stretch.step), stretch.forward)
    shapely.prepare(inner_sites)
    moved = pack_ellipses(
        sites, inner_sites, radius=radius * np.sqrt(area_factor), aspect=np.ones(n), theta=np.zeros(n)
    )
    step_back = np.einsum("nij,nj->ni", np.linalg.inv(stretch.jacobian(centres)), moved - sites)
    packed = stretch.inverse(moved, centres + step_back)
    # The stretched image of `inner` has straight edges where the true image is curved: a centre the packing left
    # just outside `inner` keeps its place instead (as a move out of the region is not made).
    stays = shapely.contains_xy(inner, *packed.T)
    centres = np.where(stays[:, None], packed, centres)
    sites = np.where(stays[:, None], moved, sites)
    area_factor = np.linalg.det(stretch.jacobian(centres))
    spacing = math.sqrt(region.area / n * float(np.mean(area_factor)))
    weights, _ = power_weights(sites, radius * np.sqrt(area_factor), spacing)
    # Not used by the tiles: nuclei are fitted to their mapped-back cells (nucleus_room.py), which the tissue's
    # edge bounds; kept as the layout's bound for them.
    limit = boundary_distance(region, centres)
    # Caps in the stretched plane, where cells are round: _STRETCHED_CAP × the radius of the disc of the target area.
    cap = _STRETCHED_CAP * np.sqrt(targets.area * area_factor / math.pi)
    semi_major = np.sqrt(targets.area / math.pi * targets.aspect)
    angle = np.where(targets.aspect > 1.0, targets.theta, np.nan)
    margin = _STRETCH_MARGIN * math.sqrt(region.area / n)
    grown = shapely.segmentize(shapely.buffer(region, margin), 0.5 * stretch.step)
    clip = shapely.transform(grown, stretch.forward)
    if not shapely.is_valid(clip):
        clip = shapely.make_valid(clip)

    # Cut to the caps, every cell reaches at most about _STRETCHED_REACH × the largest semi-major axis from its
    # centre (checked when it is built), so two cells that share a corner have centres at most twice that apart;
    # and a cap that reaches a cell has its site at most that reach plus the cap's own reach back in the tissue's
    # plane away (the cap's radius over the map's least stretch at its site, with a tenth for the map's bending).
    reach = _STRETCHED_REACH * float(semi_major.max())
    least_stretch = np.linalg.svd(stretch.jacobian(centres), compute_uv=False)[:, 1]
    cap_reach = 1.1 * float(np.max(cap / math.cos(math.pi / _CAP_VERTICES) / least_stretch))
    halo = (reach + max(reach, cap_reach)) * 1.01 + 1e-6
    return TissueLayout(region=region, centres=centres, codes=codes, limit=limit, halo=halo, rng=rng,
                        weights=weights, cap=cap, nucleus_angle=angle, target_area=targets.area,
                        stretch=stretch, sites=sites, clip=clip)


def _reach(cells: np.ndarray, centres: np.ndarray) -> np.ndarray:
    # The largest distance of each polygon's corners from its centre.
    xy, index = shapely.get_coordinates(cells, return_index=True)
    far = np.zeros(len(cells))
    np.maximum.at(far, index, np.hypot(*(xy - centres[index]).T))
    return far


def _cut_to_caps(cells: np.ndarray, reach: np.ndarray, sites: np.ndarray, cap: np.ndarray) -> np.ndarray:
    # Cells reaching beyond their cap lose what no site's cap covers: one global region (the union of the caps),
    # so neighbours are cut alike and the cells' reach is bounded.
    n_own = len(cells)
    long = np.flatnonzero(reach > cap[:n_own])
    if len(long) == 0:
        return cells
    out = cells.copy()
    tree = cKDTree(sites)
    # Polygons around the caps' circles, so a cell within its cap lies in the union and is never cut.
    outer = cap / math.cos(math.pi / _CAP_VERTICES)
    piece = np.empty(1, dtype=object)
    for i in long:
        near = np.asarray(tree.query_ball_point(sites[i], reach[i] + float(outer.max())), dtype=np.int64)
        near = near[np.hypot(*(sites[near] - sites[i]).T) < reach[i] + outer[near]]
        discs = star_polygons(sites[near], np.repeat(outer[near, None], _CAP_VERTICES, axis=1))
        piece[0] = shapely.intersection(cells[i], shapely.union_all(discs))
        out[i] = largest_part_at(piece, sites[i : i + 1])[0]
    return out


def _split_long_edges(cells: np.ndarray, max_length: float) -> np.ndarray:
    # Like shapely.segmentize, but the points put on an edge depend on the edge alone, not on its direction: the
    # two cells that share it get the very same points.
    xy, index = shapely.get_coordinates(cells, return_index=True)
    step = np.hypot(*np.diff(xy, axis=0).T)
    long = np.zeros(len(cells), dtype=bool)
    long[index[1:][(step > max_length) & (index[1:] == index[:-1])]] = True
    if not long.any():
        return cells
    out = cells.copy()
    out[long] = _split_edges(cells[long], max_length)
    return out


def _split_edges(cells: np.ndarray, max_length: float) -> np.ndarray:
    _, coords, (ring_offsets, polygon_offsets) = shapely.to_ragged_array(cells)
    n_rings = len(ring_offsets) - 1
    ring = np.repeat(np.arange(n_rings), np.diff(ring_offsets))
    start = np.flatnonzero(ring[:-1] == ring[1:])
    a, b = coords[start], coords[start + 1]
    pieces = np.maximum(np.ceil(np.hypot(*(b - a).T) / max_length).astype(np.int64), 1)
    # Each edge gives its first corner and pieces − 1 inner points, in order; each ring then gets its closing corner.
    first = np.cumsum(pieces) - pieces
    k = np.arange(int(pieces.sum())) - np.repeat(first, pieces)
    n = np.repeat(pieces, pieces)
    a_first = (a[:, 0] < b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] <= b[:, 1]))
    lo, hi = np.where(a_first[:, None], a, b), np.where(a_first[:, None], b, a)
    t = np.where(np.repeat(a_first, pieces), k, n - k) / n
    points = np.repeat(lo, pieces, axis=0) + t[:, None] * np.repeat(hi - lo, pieces, axis=0)
    points[first] = a
    edge_ring = np.repeat(ring[start], pieces)
    counts = np.bincount(edge_ring, minlength=n_rings) + 1
    new_offsets = np.concatenate([[0], np.cumsum(counts)])
    out = np.empty((new_offsets[-1], 2))
    out[np.arange(len(points)) + edge_ring] = points  # every earlier ring's closing corner comes before
    out[new_offsets[1:] - 1] = coords[ring_offsets[1:] - 1]
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, out, (new_offsets, polygon_offsets))


def build_stretched_cells(
    layout: TissueLayout,
    own: slice,
    near: np.ndarray,
    region: shapely.Polygon,
    clip: shapely.Polygon,
) -> tuple[np.ndarray, np.ndarray]:
    """Confluent cells of a tile's own centres when elongated types are present (:mod:`.cell_stretch`).

    The power cells of the sites (the centres' images in the stretched plane) are cut to ``clip``
    (the tissue grown by a margin, in that plane) and to the union of the sites' caps, their long
    edges are split, their corners are mapped back to the tissue's plane, and the cells are cut to
    the tissue.

    Parameters
    ----------
    layout
        From :func:`tissue_layout`, with ``stretch``.
    own
        The tile's cells.
    near
        Every other cell that can cut them.
    region, clip
        The tissue polygon and ``layout.clip``, prepared by the caller.

    Returns
    -------
    ``(cells, nucleus_centre)``: ``(n_own,)`` valid polygons and ``(n_own, 2)`` a point inside each, the
    centre (unless mapping back left it outside its cell: then a point inside). All but a few cells in
    10⁴ are star-shaped about it (not where the map bends sharply within a cell; ``docs/model_tissue.md``).

    Raises
    ------
    RuntimeError
        If a cell reaches farther than half the tiles' halo (then tiles could differ from the whole
        tissue) or does not hold its centre (not seen in the tests).
    """
    stretch = layout.stretch
    centres = layout.centres[own]
    n_own = len(centres)
    sites = np.concatenate([layout.sites[own], layout.sites[near]])
    weights = np.concatenate([layout.weights[own], layout.weights[near]])
    cells, reach = power_cells(sites, weights, n_own)
    cut = ~shapely.contains(clip, cells)
    cells[cut] = largest_part_at(shapely.intersection(cells[cut], clip), sites[:n_own][cut])
    reach[cut] = _reach(cells[cut], sites[:n_own][cut])
    cells = _cut_to_caps(cells, reach, sites, np.concatenate([layout.cap[own], layout.cap[near]]))
    # A straight edge in the stretched plane is a curve in the tissue's: long edges are split so that the mapped-back
    # corners follow it.
    cells = _split_long_edges(cells, _SEGMENT_STEPS * stretch.step)
    # Corners go back by Newton's method, each distinct corner once (cells that share it get the very same point),
    # started from the first of its cells' centres and the map's derivative there.
    corners, index = shapely.get_coordinates(cells, return_index=True)
    _, first, where = np.unique(corners[:, 0] + 1j * corners[:, 1], return_index=True, return_inverse=True)
    owner = index[first]
    inverse_jacobian = np.linalg.inv(stretch.jacobian(centres))
    guess = centres[owner] + np.einsum("nij,nj->ni", inverse_jacobian[owner], corners[first] - sites[:n_own][owner])
    back = stretch.inverse(corners[first], guess)[where]
    cells = shapely.transform(cells, lambda _: back)
    if _reach(cells, centres).max(initial=0.0) > 0.5 * layout.halo:
        msg = (
            "a stretched cell reaches farther than the tiles' halo allows; lower morphology.cell_elongation "
            "or raise morphology.orientation_length_um"
        )
        raise RuntimeError(msg)
    # A cut cell's sliver along the margin can cross itself once mapped back (a chord against the curved image of
    # another edge); the margin lies outside the tissue, so the repaired piece is cut away below.
    crossed = ~shapely.is_valid(cells)
    if crossed.any():
        cells[crossed] = largest_part_at(shapely.make_valid(cells[crossed]), centres[crossed])
    cells = clip_to_region(cells, centres, region)
    # A centre lies in its cell in the stretched plane, at a distance from its edges; mapped back, a sharp bend of
    # the map could leave it outside (not seen since the centres are packed in the stretched plane): its nucleus
    # then goes to a point inside the cell.
    nucleus_centre = centres.copy()
    lost = ~shapely.contains_xy(cells, *centres.T)
    if lost.any():
        nucleus_centre[lost] = shapely.get_coordinates(shapely.point_on_surface(cells[lost]))
    return cells, nucleus_centre
