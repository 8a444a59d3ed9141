"""Random streams: one independent generator per stage, keyed by the stage's name.

Keys are fixed (never derived from call order, worker count or tile order), so a stage's
draws do not change when other stages are added, skipped or run elsewhere.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["block_rng", "stage_rng"]


def _key(name: str) -> int:
    return zlib.crc32(name.encode())


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """Generator for one stage of the simulation.

    Parameters
    ----------
    seed
        The config's seed.
    stage
        Stage name, e.g. ``"cells"``, ``"counts"``, ``"transcripts"``.

    Returns
    -------
    A generator independent of every other stage's.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_key(stage),))))


def block_rng(parent: np.random.Generator, block: int | tuple[int, ...]) -> np.random.Generator:
    """Generator for one fixed block (of cells, or a tile of the tissue) within a stage.

    The child is derived from the parent's seed sequence and the block's key alone, never
    from how many children were taken before, so blocks can be drawn in any order, on any
    worker, and give the same numbers.

    Parameters
    ----------
    parent
        The stage's generator (from :func:`stage_rng`).
    block
        The block's index (or indices, e.g. a tile's row and column).

    Returns
    -------
    A generator that depends only on the parent's seed sequence and ``block``.
    """
    seq = parent.bit_generator.seed_seq
    block = (block,) if isinstance(block, int | np.integer) else tuple(block)
    key = (*seq.spawn_key, *(int(b) for b in block))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seq.entropy, spawn_key=key)))
