"""Instrument effects on molecules: control names, per-FOV detection, optics, mis-calls, quality scores, jitter.

The models, their knobs and their sources are in ``docs/model_instrument.md``.

Everything here draws from generators keyed by a fixed block (a block of cells, a tile of
the tissue or a field of view), never by call order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
from scipy.special import ndtr

from STpuppeteer._random import Block, block_rng, tile_key
from STpuppeteer.stages.optics import resolve_molecules

if TYPE_CHECKING:
    from STpuppeteer.config import InstrumentConfig

__all__ = [
    "CONTROL_PREFIXES",
    "FovEfficiency",
    "apply_instrument",
    "control_names",
    "draw_qv",
    "qv_cap_probability",
    "qv_cdf",
]

# Xenium's names of negative controls (spatialdata-io filters on these prefixes).
CONTROL_PREFIXES = ("NegControlProbe_", "NegControlCodeword_", "UnassignedCodeword_")
QV_MAX = 40.0
# Points per chunk of the per-point FOV lookup.
_CHUNK = 16384


def control_names(config: InstrumentConfig) -> list[list[str]]:
    """Names of the negative-control probes, control codewords and unassigned codewords.

    Parameters
    ----------
    config
        The instrument config (how many of each).

    Returns
    -------
    Three lists of names, one per control kind, in :data:`CONTROL_PREFIXES` order.

    Examples
    --------
    >>> from STpuppeteer.config import InstrumentConfig
    >>> [names[0] for names in control_names(InstrumentConfig())]
    ['NegControlProbe_00000', 'NegControlCodeword_0000', 'UnassignedCodeword_0000']
    """
    probe, codeword, unassigned = CONTROL_PREFIXES
    return [
        [f"{probe}{i:05d}" for i in range(config.n_neg_control_probes)],
        [f"{codeword}{i:04d}" for i in range(config.n_neg_control_codewords)],
        [f"{unassigned}{i:04d}" for i in range(config.n_unassigned_codewords)],
    ]


@dataclass(frozen=True)
class FovEfficiency:
    """Detection efficiency of every field of view (square tiles from the origin).

    Each FOV's factor is drawn from its own keyed generator, so it does not depend on the
    extent of the tissue or on which FOVs are simulated together.
    """

    efficiency: float
    size: float
    i0: int
    j0: int
    table: np.ndarray

    @classmethod
    def build(cls, config: InstrumentConfig, bounds: np.ndarray, rng: np.random.Generator) -> FovEfficiency:
        """Draw the factor of every FOV covering ``bounds`` (xmin, ymin, xmax, ymax).

        Parameters
        ----------
        config
            The instrument config.
        bounds
            Region to cover; points beyond it use the nearest FOV's factor.
        rng
            The stage generator (each FOV draws from ``block_rng(rng, tile_key(Block.FOV_TILES, i, j))``).

        Returns
        -------
        The FOV table.
        """
        size = config.fov_size_um
        i0, j0 = int(np.floor(bounds[0] / size)), int(np.floor(bounds[1] / size))
        i1, j1 = int(np.floor(bounds[2] / size)), int(np.floor(bounds[3] / size))
        table = np.ones((i1 - i0 + 1, j1 - j0 + 1))
        if config.fov_efficiency_sd > 0:
            for a in range(table.shape[0]):
                for b in range(table.shape[1]):
                    draw = block_rng(rng, tile_key(Block.FOV_TILES, i0 + a, j0 + b)).standard_normal()
                    table[a, b] = max(0.0, 1.0 + config.fov_efficiency_sd * draw)
        return cls(config.detection_efficiency, size, i0, j0, table)

    @property
    def perfect(self) -> bool:
        """Whether every molecule is detected."""
        return self.efficiency >= 1.0 and bool(np.all(self.table >= 1.0))

    def at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Detection probability at each point (clipped to [0, 1])."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        # The clipped probabilities of the (few) FOVs once, then one flat gather per point,
        # chunk by chunk so that the index arithmetic stays in cache.
        prob = np.minimum(self.efficiency * self.table, 1.0).ravel()
        na, nb = self.table.shape
        x, y = np.broadcast_arrays(x, y)
        out = np.empty(x.shape)
        flat_x, flat_y, flat_out = x.ravel(), y.ravel(), out.ravel()
        if flat_out.size and _fov_lookup(np.ascontiguousarray(flat_x), np.ascontiguousarray(flat_y), float(self.size),
                                         self.i0, self.j0, na, nb, prob, flat_out):
            return out
        # A coordinate the compiled lookup does not take (not finite, or beyond int64 in FOVs).
        for lo in range(0, flat_out.size, _CHUNK):
            hi = min(lo + _CHUNK, flat_out.size)
            a = np.floor(flat_x[lo:hi] / self.size).astype(np.int64)
            a -= self.i0
            np.clip(a, 0, na - 1, out=a)
            b = np.floor(flat_y[lo:hi] / self.size).astype(np.int64)
            b -= self.j0
            np.clip(b, 0, nb - 1, out=b)
            a *= nb
            a += b
            np.take(prob, a, out=flat_out[lo:hi])
        return out


@numba.njit(cache=True, nogil=True)
def _fov_lookup(x: np.ndarray, y: np.ndarray, size: float, i0: int, j0: int, na: int, nb: int, prob: np.ndarray,
                out: np.ndarray) -> bool:
    # FovEfficiency.at's chunks in one loop (floor, shift, clip, gather: the same integers); False, with
    # nothing trusted written, at the first coordinate whose FOV index is not a finite int64.
    for k in range(len(x)):
        fa = np.floor(x[k] / size)
        fb = np.floor(y[k] / size)
        if not (abs(fa) < 2.0**62 and abs(fb) < 2.0**62):
            return False
        a = min(max(np.int64(fa) - i0, 0), na - 1)
        b = min(max(np.int64(fb) - j0, 0), nb - 1)
        out[k] = prob[a * nb + b]
    return True


def qv_cap_probability(
    background: np.ndarray, density: np.ndarray | float | None = None, *, config: InstrumentConfig
) -> np.ndarray:
    """Probability that a molecule's quality score is the cap (40): the mixture's weight at the cap.

    ``qv_cap_fraction`` (``qv_background_cap_fraction`` for background molecules) times
    ``exp(-density / qv_density_scale_per_um2)``: the low tail's weight grows with crowding.

    Parameters
    ----------
    background
        Whether each molecule is background (ambient, control or mis-called).
    density
        Each molecule's local density, molecules per µm² (its source cell's true molecules over
        its area); ``None`` or 0 for none.
    config
        The instrument config.

    Returns
    -------
    float64 probabilities, one per molecule.

    Examples
    --------
    >>> from STpuppeteer.config import InstrumentConfig
    >>> cfg = InstrumentConfig(qv_cap_fraction=0.8, qv_background_cap_fraction=0.2, qv_density_scale_per_um2=1.0)
    >>> qv_cap_probability(np.array([False, True, False]), np.array([0.0, 0.0, 1.0]), config=cfg).round(3).tolist()
    [0.8, 0.2, 0.294]
    """
    background = np.asarray(background, dtype=bool)
    cap = np.where(background, config.qv_background_cap_fraction, config.qv_cap_fraction)
    if density is not None and config.qv_density_scale_per_um2 is not None:
        cap = cap * np.exp(-np.asarray(density, dtype=np.float64) / config.qv_density_scale_per_um2)
    return cap


def qv_cdf(
    qv: np.ndarray | float, *, background: bool = False, density: float = 0.0, config: InstrumentConfig
) -> np.ndarray:
    """The model's distribution function of the quality score, P(score ≤ qv), for one kind of molecule.

    A mass ``c`` (:func:`qv_cap_probability`) at the cap 40, and with weight ``1 − c`` a
    normal (``qv_mean``, ``qv_sd``; background: ``qv_background_*``) clipped to [0, 40].

    Parameters
    ----------
    qv
        Scores to evaluate at.
    background
        The background molecules' distribution.
    density
        Local density, molecules per µm².
    config
        The instrument config.

    Returns
    -------
    float64 probabilities.

    Examples
    --------
    >>> from STpuppeteer.config import InstrumentConfig
    >>> cfg = InstrumentConfig(qv_cap_fraction=0.8, qv_mean=20.0, qv_sd=5.0)
    >>> qv_cdf(np.array([20.0, 39.9, 40.0]), config=cfg).round(3).tolist()
    [0.1, 0.2, 1.0]
    """
    qv = np.asarray(qv, dtype=np.float64)
    mean = config.qv_background_mean if background else config.qv_mean
    sd = config.qv_background_sd if background else config.qv_sd
    cap = float(qv_cap_probability(np.array([background]), np.array([density]), config=config)[0])
    below = ndtr((qv - mean) / sd) if sd > 0 else (qv >= mean).astype(np.float64)
    return np.where(qv >= QV_MAX, 1.0, np.where(qv < 0, 0.0, (1.0 - cap) * below))


def draw_qv(
    background: np.ndarray,
    rng: np.random.Generator,
    *,
    config: InstrumentConfig,
    density: np.ndarray | None = None,
) -> np.ndarray:
    """Quality score of each molecule: a mass at the cap (40) and a normal low tail clipped to [0, 40].

    The tail (``qv_mean``, ``qv_sd``; background: ``qv_background_*``) is drawn first, one
    normal per molecule, as before the cap existed; with a mass at the cap
    (:func:`qv_cap_probability`) each molecule then draws one uniform from the keyed child
    ``block_rng(rng, Block.QV_CAP)``, so turning the cap on moves no other draw.

    Parameters
    ----------
    background
        Whether each molecule is background (ambient, control or mis-called).
    rng
        Generator; one normal per molecule.
    config
        The mixture's weights, means and s.d.
    density
        Each molecule's local density, molecules per µm² (``None``: none).

    Returns
    -------
    float32 quality scores.
    """
    background = np.asarray(background, dtype=bool)
    qv = rng.standard_normal(len(background), dtype=np.float32)
    capped = config.qv_cap_fraction > 0 or config.qv_background_cap_fraction > 0
    u = block_rng(rng, Block.QV_CAP).random(len(qv)) if capped else np.zeros(0)
    crowding = capped and density is not None and config.qv_density_scale_per_um2 is not None
    # The low tail's weight falls with crowding (qv_cap_probability); exp stays numpy's.
    factor = np.exp(-np.asarray(density, dtype=np.float64) / config.qv_density_scale_per_um2) if crowding else (
        np.zeros(0))
    # Scale, shift and clip each score in float32, then the cap: qv_cap_probability's arithmetic, one loop.
    _finish_scores(qv, background, np.float32(config.qv_sd), np.float32(config.qv_mean),
                   np.float32(config.qv_background_sd), np.float32(config.qv_background_mean), np.float32(QV_MAX),
                   u, float(config.qv_cap_fraction), float(config.qv_background_cap_fraction), factor)
    return qv


@numba.njit(cache=True, nogil=True)
def _finish_scores(qv: np.ndarray, background: np.ndarray, sd: np.float32, mean: np.float32, bg_sd: np.float32,
                   bg_mean: np.float32, top: np.float32, u: np.ndarray, cap: float, bg_cap: float,
                   factor: np.ndarray) -> None:
    # draw_qv after its normals, as it was written in numpy: sd·z + mean in float32 (the background's own),
    # clipped to [0, top] by np.clip's rule (NaN stays, else max then min); then, with uniforms u (the cap
    # on), top where u falls below the cap probability (times factor, when given: the crowding).
    zero = np.float32(0.0)
    capped, crowding = len(u) > 0, len(factor) > 0
    for k in range(len(qv)):
        v = qv[k] * bg_sd + bg_mean if background[k] else qv[k] * sd + mean
        if v == v:
            v = v if v > zero else zero
            v = v if v < top else top
        qv[k] = v
        if capped:
            p = bg_cap if background[k] else cap
            if crowding:
                p = p * factor[k]
            if u[k] < p:
                qv[k] = top


def apply_instrument(
    part: dict[str, np.ndarray],
    rng: np.random.Generator,
    *,
    config: InstrumentConfig,
    fov: FovEfficiency,
    n_genes: int,
    cell_area: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Detection, optics, mis-calls, quality scores and localisation error of one block of true molecules.

    The order is the instrument's: a molecule is detected (or not), then resolved from its
    neighbours of the same gene and source cell (or merged into one of them, or lost:
    :mod:`STpuppeteer.stages.optics`), then decoded (mis-calls, quality score), then located
    with an error. The optics draw from the keyed child ``block_rng(rng, Block.OPTICS)``;
    with them off nothing is drawn and no column added, so the output is as before they
    existed. Jitter is drawn last, so switching it on or off leaves the detected and
    mis-called molecules as they were: runs that differ only in jitter compare like for like.
    Detection depends on the true position (where the molecule is), not on where it is recorded.

    Parameters
    ----------
    part
        The block's true molecules: ``row`` (source cell), ``gene``, ``true_gene``, ``x``,
        ``y``, ``z`` and the truth columns, one array each.
    rng
        The block's generator.
    config
        The instrument config.
    fov
        Detection probability by field of view.
    n_genes
        Genes of the panel (mis-calls pick another of them).
    cell_area
        Area of each cell (indexed by ``row``), µm²: with it the quality score's low tail grows
        with the source cell's density of true molecules (``qv_density_scale_per_um2``).

    Returns
    -------
    The detected molecules' columns, with ``qv``; with the optics on also ``merged`` and ``lost``
    (per detection, the true molecules of its gene and cell it stands for besides itself).
    """
    inst = config
    n = len(part["row"])
    density = None
    if cell_area is not None and inst.qv_density_scale_per_um2 is not None and n:
        # The source cell's true molecules (before detection) per µm² of it.
        first = int(part["row"].min())
        per_cell = np.bincount(part["row"] - first)
        density = per_cell[part["row"] - first] / cell_area[part["row"]]
    keep = None
    if not fov.perfect:
        keep = np.flatnonzero(rng.random(n) < fov.at(part["x"], part["y"]))
    if inst.min_distance_um > 0:
        idx = np.arange(n) if keep is None else keep
        res = resolve_molecules(
            part["x"][idx], part["y"][idx], part["z"][idx],
            part["row"][idx].astype(np.int64) * n_genes + part["true_gene"][idx],
            block_rng(rng, Block.OPTICS),
            min_distance_um=inst.min_distance_um,
            min_distance_z_um=inst.min_distance_um if inst.min_distance_z_um is None else inst.min_distance_z_um,
            merge_fraction=inst.merge_fraction,
        )
        keep = idx[res.keep]
    if keep is not None:
        # One index for every column, and a column shared by two keys (gene, true_gene) taken once.
        taken: dict[int, np.ndarray] = {}
        for v in part.values():
            if id(v) not in taken:
                taken[id(v)] = v.take(keep)
        part = {k: taken[id(v)] for k, v in part.items()}
        if density is not None:
            density = density[keep]
        n = len(keep)
    if inst.min_distance_um > 0:
        part["x"], part["y"] = res.x, res.y
        part["z"] = res.z.astype(np.float32)
        part["merged"], part["lost"] = res.merged, res.lost
    miscalled = np.zeros(n, dtype=bool)
    if inst.miscall_rate > 0 and n_genes > 1:
        miscalled = rng.random(n) < inst.miscall_rate
        shift = rng.integers(1, n_genes, size=int(miscalled.sum()))
        gene = part["gene"].copy()
        gene[miscalled] = (gene[miscalled] + shift) % n_genes
        part["gene"] = gene
    part["qv"] = draw_qv(miscalled, rng, config=inst, density=density)
    sigma_z = inst.jitter_um if inst.jitter_z_um is None else inst.jitter_z_um
    if inst.jitter_um > 0 or sigma_z > 0:
        jit = rng.standard_normal((3, n), dtype=np.float32)
        jit[:2] *= np.float32(inst.jitter_um)
        jit[2] *= np.float32(sigma_z)
        part["x"] = part["x"] + jit[0]
        part["y"] = part["y"] + jit[1]
        part["z"] = part["z"] + jit[2]
    return part
