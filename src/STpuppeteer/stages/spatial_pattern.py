"""Stage 2b: cell types in space — proportions, background pattern, prototypes, fuzziness.

Counts per type are fixed first (largest-remainder rounding of ``n_cells × proportions``),
so every pattern gives exactly those counts; the pattern only decides *where* each type
goes:

1. prototypes (clusters, rings, chains) claim the cells inside them (from their type's quota);
2. a ``fuzziness`` fraction of the remaining cells are typed at random (well mixed);
3. the rest follow the background pattern: ``mixed`` (random), ``domains`` (argmax of one
   smooth Gaussian random field per type, with per-type offsets tuned so the counts come
   out exact) or ``layers`` (cells ranked along a direction, cut into bands); or, in its
   place, a named architecture (glands, tumour, cortex: :mod:`.architecture`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy.spatial import cKDTree

from STpuppeteer._random import Block, block_rng
from STpuppeteer.stages.architecture import architecture_celltypes
from STpuppeteer.stages.fields import argmax_with_counts, gaussian_fields
from STpuppeteer.stages.positions import uniform_points

if TYPE_CHECKING:
    from STpuppeteer.config.tissue import PrototypeConfig, TissueConfig

__all__ = ["allocate_counts", "assign_celltypes", "gaussian_fields", "prototype_celltypes"]

_CHAIN_STEP_UM = 10.0


def allocate_counts(total: int, fractions: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``fractions`` (largest remainder).

    Parameters
    ----------
    total
        The integer to split.
    fractions
        Non-negative weights (normalised here).

    Returns
    -------
    Integer counts summing to ``total``, each within 1 of ``total * fraction``.

    Examples
    --------
    >>> allocate_counts(10, np.array([1, 1, 1])).tolist()
    [4, 3, 3]
    """
    weights = np.asarray(fractions, dtype=float)
    if total == 0 or weights.sum() == 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def _shuffled_labels(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.repeat(np.arange(len(counts)), counts))


def _chain_line(centre: np.ndarray, proto: PrototypeConfig, rng: np.random.Generator) -> shapely.LineString:
    n_steps = max(1, math.ceil(proto.length_um / _CHAIN_STEP_UM))
    step = proto.length_um / n_steps
    turns = rng.normal(0.0, proto.tortuosity * math.sqrt(step / _CHAIN_STEP_UM), n_steps)
    heading = rng.uniform(0.0, 2.0 * math.pi) + np.cumsum(turns)
    path = np.zeros((n_steps + 1, 2))
    path[1:, 0] = np.cumsum(step * np.cos(heading))
    path[1:, 1] = np.cumsum(step * np.sin(heading))
    return shapely.LineString(path - path[n_steps // 2] + centre)


def prototype_celltypes(
    xy: np.ndarray,
    region: shapely.Polygon,
    prototypes: list[PrototypeConfig],
    rng: np.random.Generator,
    *,
    celltype_names: list[str],
) -> np.ndarray:
    """Cell-type codes imposed by prototypes (``-1`` where none applies).

    Parameters
    ----------
    xy
        ``(n, 2)`` cell centres, µm.
    region
        The tissue polygon (prototype centres are uniform in it).
    prototypes
        The structures to place, in order (later ones win where they overlap).
    rng
        Source of randomness.
    celltype_names
        ``ct_0`` …, whose positions are the codes.

    Returns
    -------
    ``(n,)`` int64 array of codes or ``-1``.
    """
    code = {name: i for i, name in enumerate(celltype_names)}
    forced = np.full(len(xy), -1, dtype=np.int64)
    if not prototypes:
        return forced
    tree = cKDTree(xy)
    for proto in prototypes:
        centres = uniform_points(region, proto.n_instances, rng)
        for centre in centres:
            if proto.kind == "chain":
                line = _chain_line(centre, proto, rng)
                near = np.asarray(tree.query_ball_point(centre, 0.5 * proto.length_um + proto.width_um), dtype=np.int64)
                near = near[shapely.dwithin(line, shapely.points(xy[near]), 0.5 * proto.width_um)]
                targets = [(near, code[proto.celltype])]
            else:
                outer = proto.radius_um + (proto.width_um if proto.kind == "ring" else 0.0)
                near = np.asarray(tree.query_ball_point(centre, outer), dtype=np.int64)
                dist = np.hypot(*(xy[near] - centre).T)
                if proto.kind == "cluster":
                    targets = [(near, code[proto.celltype])]
                else:
                    targets = [(near[dist >= proto.radius_um], code[proto.celltype])]
                    if proto.core_celltype is not None:
                        targets.append((near[dist < proto.radius_um], code[proto.core_celltype]))
            for cells, value in targets:
                hit = cells[rng.random(len(cells)) < proto.purity]
                forced[hit] = value
    return forced


def assign_celltypes(
    xy: np.ndarray,
    region: shapely.Polygon,
    tissue: TissueConfig,
    rng: np.random.Generator,
    *,
    celltype_names: list[str],
    proportions: list[float] | None = None,
    gaps: shapely.Geometry | None = None,
) -> np.ndarray:
    """Cell-type code (index into ``celltype_names``) of every cell.

    Parameters
    ----------
    xy
        ``(n, 2)`` cell centres, µm.
    region
        The tissue polygon.
    tissue
        Proportions, pattern, prototypes and fuzziness.
    rng
        Source of randomness.
    celltype_names
        ``ct_0`` … (or free-text names).
    proportions
        Fraction of cells per type; ``None``: ``tissue.proportions`` (``None`` there: equal).
    gaps
        The tissue's gaps (the lumens of ``architecture: glands``); ``None``: the holes of ``region``.

    Returns
    -------
    ``(n,)`` int64 codes; type k occurs exactly ``allocate_counts(n, proportions)[k]`` times.

    Raises
    ------
    ValueError
        If prototypes claimed more cells of a type than its proportion allows.
    """
    n, k = len(xy), len(celltype_names)
    if proportions is None:
        proportions = tissue.proportions
    fractions = np.full(k, 1.0 / k) if proportions is None else np.asarray(proportions, dtype=float)
    counts = allocate_counts(n, fractions)

    label = prototype_celltypes(xy, region, tissue.prototypes, rng, celltype_names=celltype_names)
    claimed = np.bincount(label[label >= 0], minlength=k)
    if np.any(claimed > counts):
        t = int(np.argmax(claimed - counts))
        msg = (
            f"tissue.prototypes claimed {claimed[t]} cells of {celltype_names[t]} but its proportion allows "
            f"{counts[t]} of n_cells={n}; use fewer or smaller prototypes, or a larger proportion."
        )
        raise ValueError(msg)
    remaining = counts - claimed

    free = np.flatnonzero(label < 0)
    fuzzy = rng.random(len(free)) < tissue.fuzziness
    mixed_cells, pattern_cells = free[fuzzy], free[~fuzzy]
    mixed_counts = np.minimum(allocate_counts(len(mixed_cells), remaining), remaining)
    pattern_counts = remaining - mixed_counts
    label[mixed_cells] = _shuffled_labels(mixed_counts, rng)

    where = xy[pattern_cells]
    if tissue.architecture is not None:
        label[pattern_cells] = architecture_celltypes(
            where,
            pattern_counts,
            region,
            tissue,
            block_rng(rng, Block.ARCHITECTURE),
            celltype_names=celltype_names,
            gaps=gaps,
            spacing_um=math.sqrt(region.area / max(n, 1)),
        )
    elif tissue.pattern == "mixed" or k == 1:
        label[pattern_cells] = _shuffled_labels(pattern_counts, rng)
    elif tissue.pattern == "domains":
        scores = gaussian_fields(where, region.bounds, rng, length_um=tissue.domain_length_um, n_fields=k)
        label[pattern_cells] = argmax_with_counts(scores, pattern_counts)
    else:
        angle = math.radians(tissue.layer_angle_deg)
        depth = where[:, 0] * math.cos(angle) + where[:, 1] * math.sin(angle)
        if tissue.layer_wobble_um > 0:
            wobble = gaussian_fields(where, region.bounds, rng, length_um=tissue.domain_length_um, n_fields=1)
            depth = depth + tissue.layer_wobble_um * wobble[:, 0]
        order = (
            np.arange(k)
            if tissue.layer_order is None
            else np.array([celltype_names.index(name) for name in tissue.layer_order])
        )
        ranked = np.empty(len(pattern_cells), dtype=np.int64)
        ranked[np.argsort(depth, kind="stable")] = np.repeat(order, pattern_counts[order])
        label[pattern_cells] = ranked
    return label
