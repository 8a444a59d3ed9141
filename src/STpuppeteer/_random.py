"""Random streams: the one registry of every stream key, and the generators made from them.

A simulation's seed becomes random numbers only here. Each stage draws from its own
generator, keyed by the stage's name (:class:`Stage`); within a stage, fixed blocks (a
block of cells, a tile of the tissue, a field of view) draw from children keyed by the
block (:class:`Block`, :func:`tile_key`). Keys are fixed, never derived from call order,
worker count or tile order, so a stage's draws do not change when other stages are added,
skipped or run elsewhere. The values are part of the output's identity: changing one
changes every file drawn from it.
"""

from __future__ import annotations

import zlib
from enum import IntEnum, StrEnum, unique

import numpy as np

__all__ = ["Block", "Stage", "block_rng", "gene_rng", "stage_rng", "tile_key"]


@unique  # two streams under one key would draw the same numbers: an import error instead
class Stage(StrEnum):
    """Names of the stage streams (hashed with CRC-32 into the seed sequence's spawn key)."""

    CELLS = "cells"
    COUNTS = "counts"
    TRANSCRIPTS = "transcripts"
    #: The morphology image and label noise of the writers (Xenium, SpatialData).
    IMAGE = "image"
    #: The UUIDs in the Xenium morphology image's OME-XML.
    IMAGE_UUID = "image_uuid"
    MERSCOPE_MOSAIC = "merscope_mosaic"
    COSMX_IMAGES = "cosmx_images"
    #: The calibration simulations of a fit (``STpuppeteer.fit``), keyed by the fit's own seed;
    #: never drawn by a simulation, so fitting changes no simulated number.
    FIT = "fit"
    #: Which genes of the panel get which localisation pattern (``transcripts.localisation.pattern_mix``);
    #: drawn once per seed, so changing the mix moves no other stage's numbers.
    LOCALISATION = "localisation"


@unique
class Block(IntEnum):
    """Block keys of the sub-streams inside a stage (under its :func:`stage_rng`)."""

    #: Stage 4, background molecules: tiles ``tile_key(BACKGROUND_TILES, i, j)``.
    BACKGROUND_TILES = 1
    #: Stage 4, per-FOV detection efficiency: ``tile_key(FOV_TILES, i, j)``.
    FOV_TILES = 2
    #: Stage 4, a cell block's localisation draws (pattern or baseline, the pattern's points, foci):
    #: ``block_rng(block's generator, LOCALISATION)``, so a config with no pattern draws exactly
    #: what it drew before patterns existed, and a pattern moves no leak, z or instrument draw.
    LOCALISATION = 3
    #: Stage 4, under a cell block's (or background tile's) generator: the optics of the block
    #: (which unresolved molecule is merged, which lost; the brightness order) and the quality
    #: score's mass at the cap. Children of their own, so switching them on moves no other draw.
    OPTICS = 3_000_001
    QV_CAP = 3_000_002
    #: Stage 2 (``Stage.CELLS``): the cell centres, the cell types, the nuclei and z.
    POSITIONS = 1_000_001
    CELLTYPES = 1_000_002
    NUCLEI = 1_000_003
    Z = 1_000_004
    #: The confluent cells' target areas, the orientation field, the tissue's gaps.
    CELL_AREAS = 1_000_005
    ORIENTATION = 1_000_006
    GAPS = 1_000_007
    #: The confluent model's nucleus shifts along elongated cells (``morphology.nucleus_offset``):
    #: one child per tile, ``block_rng(block_rng(cells, NUCLEUS_OFFSET), (row, column))``; a child of
    #: its own, so the offset moves no nucleus shape, cell or z draw.
    NUCLEUS_OFFSET = 1_000_008
    #: The named tissue architecture (``tissue.architecture``): ``block_rng(block_rng(cells, CELLTYPES),
    #: ARCHITECTURE)``, drawn after the prototypes and the fuzzy cells, whose draws it leaves alone.
    ARCHITECTURE = 1_000_009
    #: Stage 2: each cell's expression level beyond its size (``size_factor_cv``), one normal per cell in
    #: cell order over the whole tissue (as ``Z``); a child of its own, drawn only when the CV is > 0, so
    #: a config without it draws exactly what it drew before.
    SIZE_FACTOR = 1_000_010
    #: The writers' stains beyond DAPI (under ``Stage.IMAGE`` and the platform's image streams): the
    #: boundary (membrane) stain and the two interior stains of Xenium's segmentation kit. Children of
    #: their own, so DAPI draws the same with or without them and each channel can be drawn alone.
    IMAGE_BOUNDARY = 4_000_001
    IMAGE_INTERIOR_RNA = 4_000_002
    IMAGE_INTERIOR_PROTEIN = 4_000_003
    #: The fit's calibrations (``Stage.FIT``): the tissue simulated to calibrate cell and nucleus
    #: sizes, the positions and patterns to calibrate the spatial statistic (one child per
    #: replicate), and the random labels of its null distribution.
    FIT_CELLS = 2_000_001
    FIT_PATTERN = 2_000_002
    FIT_NULL = 2_000_003


# Block keys are non-negative; tiles and FOVs may have negative indices.
_INDEX_OFFSET = 1 << 30


def _key(name: str) -> int:
    return zlib.crc32(name.encode())


def gene_rng(seed: int) -> np.random.Generator:
    """Generator of stage 1 (the gene parameters): ``np.random.default_rng(seed)`` itself.

    Not a keyed child: that is the stream the seed tutorial's printed table came from.
    """
    return np.random.default_rng(seed)


def stage_rng(seed: int, stage: Stage | str) -> np.random.Generator:
    """Generator for one stage of the simulation.

    Parameters
    ----------
    seed
        The config's seed.
    stage
        A :class:`Stage` (or its string value).

    Returns
    -------
    A generator independent of every other stage's.
    """
    stage = Stage(stage)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_key(stage.value),))))


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
        The block's index (or indices, e.g. a tile's row and column), or a :class:`Block`.

    Returns
    -------
    A generator that depends only on the parent's seed sequence and ``block``.
    """
    seq = parent.bit_generator.seed_seq
    block = (block,) if isinstance(block, int | np.integer) else tuple(block)
    key = (*seq.spawn_key, *(int(b) for b in block))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seq.entropy, spawn_key=key)))


def tile_key(stream: Block, i: int, j: int) -> tuple[int, int, int]:
    """Block key of tile (i, j) of a tiled stream (indices may be negative)."""
    return (int(stream), int(i) + _INDEX_OFFSET, int(j) + _INDEX_OFFSET)
