"""How strongly cell types cluster in space, and the config's spatial pattern that clusters them as much.

The statistic: for each cell, the fraction of its k nearest neighbours (centroids, a k-d tree)
that share its type; its mean F over cells, over its expectation under random labels with the
same counts, E = Σ_t (n_t / n) (n_t − 1) / (n − 1), is the **neighbour enrichment** F / E: 1 for
well-mixed types, up to 1 / E when every neighbourhood is pure. Its noise under random labels is
measured by permuting the labels (``n_permutations``, stream ``Block.FIT_NULL`` of ``Stage.FIT``).

The pattern (``tissue.pattern``, ``tissue.domain_length_um``; ``stages/spatial_pattern.py``):
'mixed' types at random give enrichment 1; 'domains' (argmax of one Gaussian random field per
type, correlation length L) give an enrichment that rises with L, from 1 for L well below the
cell spacing to 1 / E when domains are much larger than a neighbourhood. Neither has a closed
form, so it is **calibrated by simulation**: cell centres and types are drawn as the tissue stage
draws them (``positions.sample_centres``, ``spatial_pattern.assign_celltypes``: no polygons) at the
fitted density and proportions, for L on a geometric grid of spacings, ``n_replicates`` times
(stream ``Block.FIT_PATTERN``, one child per replicate; the same centres for every L). The mean
curve, made monotone by a running maximum, is inverted by linear interpolation in log L.

'mixed' is chosen when the enrichment is within ``z_mixed`` null standard errors of 1;
otherwise 'domains' with the interpolated L. At the curve's plateau the length is only bounded
below: the shortest L whose tissues reach the enrichment within two replicate standard deviations
is given, with a note; below the grid, its shortest L. 'layers',
prototypes and fuzziness are not told apart from domains: they are left at their defaults.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from STpuppeteer._random import Block, Stage, block_rng, stage_rng
from STpuppeteer.config.tissue import TissueConfig
from STpuppeteer.config.tissue_checks import hardcore_distance_um
from STpuppeteer.fit.cells import grown_hull_area
from STpuppeteer.fit.estimates import Estimates
from STpuppeteer.stages.positions import sample_centres, tissue_region
from STpuppeteer.stages.spatial_pattern import assign_celltypes

if TYPE_CHECKING:
    from STpuppeteer.fit.reference import Reference

__all__ = ["LENGTH_GRID", "estimate_spatial", "neighbour_enrichment"]

#: Domain lengths of the calibration, in cell spacings 1/√ρ.
LENGTH_GRID = (0.25, 0.5, 1.0, 2.0, 3.0, 4.5, 6.5, 9.0, 13.0, 19.0, 27.0, 38.0)
_ASPECT_RANGE = (0.2, 5.0)


def neighbour_enrichment(xy: np.ndarray, codes: np.ndarray, *, k: int = 10) -> tuple[float, float]:
    """Mean fraction of each cell's ``k`` nearest neighbours sharing its type, and its random-label expectation.

    Parameters
    ----------
    xy
        ``(n, 2)`` cell centroids.
    codes
        Each cell's type code.
    k
        Neighbours per cell (at most n − 1).

    Returns
    -------
    ``(F, E)``; the enrichment is F / E.

    Examples
    --------
    >>> xy = np.array([[0, 0], [1, 0], [10, 0], [11, 0]], dtype=float)
    >>> neighbour_enrichment(xy, np.array([0, 0, 1, 1]), k=1)
    (1.0, 0.3333333333333333)
    """
    n = len(codes)
    k = min(k, n - 1)
    neighbours = cKDTree(xy).query(xy, k=k + 1)[1][:, 1:]
    same = float(np.mean(codes[neighbours] == codes[:, None]))
    counts = np.bincount(codes).astype(float)
    return same, float(np.sum(counts / n * (counts - 1) / (n - 1)))


def estimate_spatial(
    reference: Reference,
    codes: np.ndarray,
    celltypes: list[str],
    *,
    density_per_mm2: float | None = None,
    k: int = 10,
    n_permutations: int = 20,
    n_replicates: int = 3,
    n_calibration_cells: int = 3000,
    z_mixed: float = 3.0,
    seed: int = 0,
) -> Estimates:
    """``tissue.pattern`` and ``tissue.domain_length_um`` from the cells' types and centroids.

    Parameters
    ----------
    reference
        The dataset (its cells' ``x``, ``y`` and types).
    codes
        Each cell's type code, an index into ``celltypes``.
    celltypes
        The type names.
    density_per_mm2
        Cells per mm² for the calibration (default: over the reference's ``region_area_um2``, else
        over :func:`~STpuppeteer.fit.cells.grown_hull_area` of the centroids).
    k
        Neighbours per cell of the statistic.
    n_permutations
        Random labellings for the statistic's null noise.
    n_replicates
        Simulated tissues per domain length.
    n_calibration_cells
        Most cells of a simulated tissue (fewer when the data has fewer).
    z_mixed
        Enrichments within this many null standard errors of 1 are 'mixed'.
    seed
        Seed of the calibration's stream.

    Returns
    -------
    The fields, the statistic in ``measured`` (``neighbour_enrichment``, its null s.e.), and the
    calibration curve as ``enrichment_at_<L>um`` entries.
    """
    out = Estimates()
    codes = np.asarray(codes, dtype=np.intp)
    cells = reference.cells
    for key in ("tissue.prototypes", "tissue.fuzziness", "tissue.layer_order"):
        out.missing[key] = "not told apart from domains (only the strength of clustering is measured)"
    if reference.celltypes is None or len(np.unique(codes)) < 2:
        reason = "the data has fewer than two cell types" if reference.celltypes is not None else "no cell types"
        out.missing.update({"tissue.pattern": reason, "tissue.domain_length_um": reason})
        return out
    if not {"x", "y"} <= set(cells.columns) or not np.all(np.isfinite(cells[["x", "y"]].to_numpy(float))):
        out.missing.update({"tissue.pattern": "no cell positions", "tissue.domain_length_um": "no cell positions"})
        return out
    xy = cells[["x", "y"]].to_numpy(float)
    same, expected = neighbour_enrichment(xy, codes, k=k)
    null = _null_enrichment(xy, codes, k=k, n_permutations=n_permutations, seed=seed)
    enrichment = same / expected
    null_se = float(np.std(null, ddof=1))
    out.measured.update({"same_type_neighbour_fraction": same, "same_type_neighbour_expected": expected,
                         "neighbour_enrichment": enrichment, "neighbour_enrichment_null_se": null_se,
                         "neighbours_k": float(k)})
    if enrichment - 1 <= z_mixed * null_se:
        out.fields["tissue.pattern"] = "mixed"
        out.missing["tissue.domain_length_um"] = "types are mixed: the length does not apply"
        return out
    started = time.perf_counter()
    span = np.ptp(xy, axis=0)
    if density_per_mm2 is None:
        area = reference.region_area_um2 if reference.region_area_um2 is not None else grown_hull_area(xy)[0]
        density_per_mm2 = len(xy) / area * 1e6
    lengths, curve, spread = _calibration_curve(
        n_cells=min(n_calibration_cells, len(xy)), density=density_per_mm2,
        aspect=float(np.clip(span[0] / span[1], *_ASPECT_RANGE)),
        proportions=np.bincount(codes, minlength=len(celltypes)) / len(codes), k=k,
        n_replicates=n_replicates, seed=seed,
    )
    out.measured.update({f"enrichment_at_{length:.0f}um": float(e) for length, e in zip(lengths, curve, strict=True)})
    out.measured["pattern_calibration_seconds"] = time.perf_counter() - started
    mono = np.maximum.accumulate(curve)
    top = int(np.argmax(mono >= mono[-1]))
    if enrichment >= mono[-1]:
        # At the plateau the length is bounded below only: the shortest one whose tissues reach the
        # measured enrichment within two of their own standard deviations.
        length = float(lengths[int(np.argmax(mono >= enrichment - 2 * spread[top]))])
        out.notes.append(f"domain_length_um: enrichment {enrichment:.3g} at the calibrated plateau "
                         f"({mono[-1]:.3g}); domains of at least about {length:.0f} µm")
    elif enrichment <= mono[0]:
        length = float(lengths[0])
        out.notes.append(f"domain_length_um: enrichment {enrichment:.3g} below the shortest calibrated length's")
    else:
        xs, keep = mono[: top + 1], np.r_[True, np.diff(mono[: top + 1]) > 0]
        length = float(np.exp(np.interp(enrichment, xs[keep], np.log(lengths[: top + 1][keep]))))
    out.fields["tissue.pattern"] = "domains"
    out.fields["tissue.domain_length_um"] = max(length, 1.0)
    return out


def _null_enrichment(xy: np.ndarray, codes: np.ndarray, *, k: int, n_permutations: int, seed: int) -> np.ndarray:
    """Enrichments of randomly permuted labels (same counts)."""
    rng = block_rng(stage_rng(seed, Stage.FIT), Block.FIT_NULL)
    k = min(k, len(codes) - 1)
    neighbours = cKDTree(xy).query(xy, k=k + 1)[1][:, 1:]
    _, expected = neighbour_enrichment(xy, codes, k=k)
    out = np.empty(n_permutations)
    for i in range(n_permutations):
        perm = rng.permutation(codes)
        out[i] = np.mean(perm[neighbours] == perm[:, None]) / expected
    return out


def _calibration_curve(*, n_cells: int, density: float, aspect: float, proportions: np.ndarray, k: int,
                       n_replicates: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Domain lengths (µm), and the mean and s.d. over replicates of simulated 'domains' tissues' enrichment."""
    tissue = TissueConfig(density_per_mm2=density, aspect_ratio=aspect, pattern="domains")
    region = tissue_region(tissue, n_cells)
    distance = hardcore_distance_um(tissue, n_cells)
    lengths = np.array(LENGTH_GRID) * 1e3 / math.sqrt(density)
    names = [f"ct_{t}" for t in range(len(proportions))]
    parent = block_rng(stage_rng(seed, Stage.FIT), Block.FIT_PATTERN)
    curve = np.zeros((n_replicates, len(lengths)))
    for rep in range(n_replicates):
        rng = block_rng(parent, rep)
        xy = sample_centres(region, n_cells, block_rng(rng, 0), min_distance_um=distance, margin_um=0.5 * distance)
        for i, length in enumerate(lengths):
            pattern = tissue.model_copy(update={"domain_length_um": float(length)})
            codes = assign_celltypes(xy, region, pattern, block_rng(rng, 1), celltype_names=names,
                                     proportions=[float(p) for p in proportions])
            same, expected = neighbour_enrichment(xy, codes, k=k)
            curve[rep, i] = same / expected
    spread = curve.std(axis=0, ddof=1) if n_replicates > 1 else np.zeros(len(lengths))
    return lengths, curve.mean(axis=0), spread
