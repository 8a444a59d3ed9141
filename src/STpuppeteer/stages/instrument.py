"""Instrument effects on molecules: control names, per-FOV detection, mis-calls, quality scores, jitter.

Everything here draws from generators keyed by a fixed block (a block of cells, a tile of
the tissue or a field of view), never by call order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from STpuppeteer._random import Block, block_rng, tile_key

if TYPE_CHECKING:
    from STpuppeteer.config import InstrumentConfig

__all__ = [
    "CONTROL_PREFIXES",
    "FovEfficiency",
    "apply_instrument",
    "control_names",
    "draw_qv",
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


def draw_qv(
    background: np.ndarray, rng: np.random.Generator, *, config: InstrumentConfig
) -> np.ndarray:
    """Quality score of each molecule: normal, clipped to [0, 40], lower for background.

    Parameters
    ----------
    background
        Whether each molecule is background (ambient, control or mis-called).
    rng
        Generator; one normal per molecule.
    config
        Means and s.d. of the two distributions.

    Returns
    -------
    float32 quality scores.
    """
    qv = rng.standard_normal(len(background), dtype=np.float32)
    bg = np.flatnonzero(background)
    # Background scores from their own normals first, then the rest in place.
    if len(bg):
        qv_bg = qv[bg]
        qv_bg *= np.float32(config.qv_background_sd)
        qv_bg += np.float32(config.qv_background_mean)
    qv *= np.float32(config.qv_sd)
    qv += np.float32(config.qv_mean)
    if len(bg):
        qv[bg] = qv_bg
    return np.clip(qv, np.float32(0.0), np.float32(QV_MAX), out=qv)


def apply_instrument(
    part: dict[str, np.ndarray], rng: np.random.Generator, *, config: InstrumentConfig, fov: FovEfficiency, n_genes: int
) -> dict[str, np.ndarray]:
    """Detection, mis-calls, quality scores and localisation jitter of one block of true molecules.

    Jitter is drawn last, so switching it on or off leaves the detected and mis-called
    molecules as they were: runs that differ only in jitter compare like for like. Detection
    depends on the true position (where the molecule is), not on where it is recorded.
    """
    inst = config
    n = len(part["row"])
    if not fov.perfect:
        keep = np.flatnonzero(rng.random(n) < fov.at(part["x"], part["y"]))
        # One index for every column, and a column shared by two keys (gene, true_gene) taken once.
        taken: dict[int, np.ndarray] = {}
        for v in part.values():
            if id(v) not in taken:
                taken[id(v)] = v.take(keep)
        part = {k: taken[id(v)] for k, v in part.items()}
        n = len(keep)
    miscalled = np.zeros(n, dtype=bool)
    if inst.miscall_rate > 0 and n_genes > 1:
        miscalled = rng.random(n) < inst.miscall_rate
        shift = rng.integers(1, n_genes, size=int(miscalled.sum()))
        gene = part["gene"].copy()
        gene[miscalled] = (gene[miscalled] + shift) % n_genes
        part["gene"] = gene
    part["qv"] = draw_qv(miscalled, rng, config=inst)
    if inst.jitter_um > 0:
        jit = rng.standard_normal((3, n), dtype=np.float32)
        jit *= np.float32(inst.jitter_um)
        part["x"] = part["x"] + jit[0]
        part["y"] = part["y"] + jit[1]
        part["z"] = part["z"] + jit[2]
    return part
