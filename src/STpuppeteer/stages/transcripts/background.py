"""Background molecules: ambient and control molecules over the tissue's box, tile by tile.

The background is a Poisson process over the cells' bounding box, cut into fixed square
tiles of :data:`BACKGROUND_TILE_UM` (each drawing from its own keyed generator). Its gene
weights come from the *expected* gene totals of the count model, not the drawn counts, so
the background depends on no cell's counts and each tile can be drawn by the cell block
that owns it (:class:`BackgroundTiles`), beside its cells' molecules, with that block's
geometry. Why this is exact in distribution: ``docs/model_instrument.md``, "Background".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from STpuppeteer._random import Block, block_rng, tile_key
from STpuppeteer.stages.instrument import control_names, draw_qv
from STpuppeteer.stages.transcripts.labels import AMBIENT, CONTROL, compartment_codes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.geometry.locate import CellLocator
    from STpuppeteer.stages.transcripts.context import TranscriptContext

__all__ = [
    "BACKGROUND_TILE_UM",
    "BackgroundTiles",
    "ambient_weights",
    "background_parts",
    "block_background",
    "locate_part",
    "unlocated_background",
]

#: Side of the background's keyed tiles, µm (part of the model's keys, like the tissue's
#: 1000 µm tiles): small enough that the tiles a cell block owns lie close to its cells, large
#: enough that a slide of 10⁶ cells has only a few thousand (a keyed generator costs ~20 µs).
BACKGROUND_TILE_UM = 250.0


def ambient_weights(gene_totals: np.ndarray, config: SimulationConfig) -> np.ndarray:
    """Probability of each gene for an ambient molecule, from the genes' (expected) total counts."""
    total = np.asarray(gene_totals, dtype=np.float64)
    if config.instrument.ambient_genes == "uniform" or total.sum() <= 0:
        return np.full(len(total), 1.0 / len(total))
    return total / total.sum()


@dataclass(frozen=True)
class BackgroundTiles:
    """Background tiles, in the order they are drawn, and the cell block that draws each.

    Attributes
    ----------
    i, j
        Column and row of each tile in the grid of :data:`BACKGROUND_TILE_UM` squares.
    box
        ``(n, 4)`` ``x0, x1, y0, y1`` of each tile cut to the background's box.
    block
        The cell block that draws each tile: the block of the lowest row whose nucleus centre
        lies in the tile; a tile holding no centre goes with the nearest tile that holds one.
    """

    i: np.ndarray
    j: np.ndarray
    box: np.ndarray
    block: np.ndarray

    def __len__(self) -> int:
        return len(self.i)

    @classmethod
    def build(cls, bounds: np.ndarray, *, centres: np.ndarray | None = None, block_size: int = 1) -> BackgroundTiles:
        """The tiles over ``bounds`` (``[xmin, ymin, xmax, ymax]``), column by column.

        Parameters
        ----------
        bounds
            The background's box.
        centres
            ``(n_cells, 2)`` nucleus centres, rows in cell order (``None``: every tile in block 0).
        block_size
            Cells per block (``config.transcripts.block_size``).

        Returns
        -------
        The tiles with a positive area.

        Examples
        --------
        >>> tiles = BackgroundTiles.build(np.array([0.0, 0.0, 300.0, 100.0]),
        ...                               centres=np.array([[10.0, 10.0], [290.0, 50.0]]), block_size=1)
        >>> tiles.i.tolist(), tiles.block.tolist()
        ([0, 1], [0, 1])
        """
        size = BACKGROUND_TILE_UM
        b = np.asarray(bounds, dtype=np.float64)
        if not np.all(np.isfinite(b)):
            return cls(*(np.zeros(0, dtype=np.int64),) * 2, np.zeros((0, 4)), np.zeros(0, dtype=np.int64))
        i_range = np.arange(int(np.floor(b[0] / size)), int(np.floor(b[2] / size)) + 1)
        j_range = np.arange(int(np.floor(b[1] / size)), int(np.floor(b[3] / size)) + 1)
        i, j = (a.ravel() for a in np.meshgrid(i_range, j_range, indexing="ij"))
        box = np.column_stack([np.maximum(b[0], i * size), np.minimum(b[2], (i + 1) * size),
                               np.maximum(b[1], j * size), np.minimum(b[3], (j + 1) * size)])
        keep = (box[:, 1] > box[:, 0]) & (box[:, 3] > box[:, 2])
        i, j, box = i[keep], j[keep], box[keep]
        grid = (int(i_range[0]), int(j_range[0]), len(i_range), len(j_range))
        return cls(i, j, box, _owners(i, j, box, grid=grid, centres=centres, block_size=block_size))

    def of_block(self, block: int) -> BackgroundTiles:
        """The tiles block ``block`` draws, in drawing order."""
        sel = self.block == block
        return BackgroundTiles(self.i[sel], self.j[sel], self.box[sel], self.block[sel])

    def bounds(self) -> np.ndarray:
        """``(n, 4)`` ``xmin, ymin, xmax, ymax`` of each tile."""
        return self.box[:, [0, 2, 1, 3]]


def _owners(i: np.ndarray, j: np.ndarray, box: np.ndarray, *, grid: tuple[int, int, int, int],
            centres: np.ndarray | None, block_size: int) -> np.ndarray:
    """The block of each tile (see :class:`BackgroundTiles`); ``grid``: first column and row, columns, rows."""
    owner = np.zeros(len(i), dtype=np.int64)
    if centres is None or not len(centres) or not len(i):
        return owner
    i0, j0, n_cols, n_rows = grid
    size = BACKGROUND_TILE_UM
    # The lowest row whose centre lies in each tile of the whole grid (centres lie in the box).
    c_col = np.clip(np.floor(centres[:, 0] / size) - i0, 0, n_cols - 1).astype(np.int64)
    c_row = np.clip(np.floor(centres[:, 1] / size) - j0, 0, n_rows - 1).astype(np.int64)
    none = np.iinfo(np.int64).max
    lowest = np.full(n_cols * n_rows, none)
    np.minimum.at(lowest, c_col * n_rows + c_row, np.arange(len(centres)))
    tile_lowest = lowest[(i - i0) * n_rows + (j - j0)]
    held = tile_lowest < none
    owner[held] = tile_lowest[held] // block_size
    if held.any() and not held.all():
        mid = np.column_stack([0.5 * (box[:, 0] + box[:, 1]), 0.5 * (box[:, 2] + box[:, 3])])
        _, nearest = cKDTree(mid[held]).query(mid[~held])
        owner[~held] = owner[held][nearest]
    return owner


def background_parts(
    ctx: TranscriptContext, weights: np.ndarray, rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """Ambient molecules and controls, uniform over the cells' bounding box, tile by tile."""
    return [locate_part(part, ctx.geo.locator) for part in unlocated_background(ctx, weights, rng)]


def locate_part(part: dict[str, np.ndarray], locator: CellLocator) -> dict[str, np.ndarray]:
    """Add the landed cell (row of the locator's cells) and compartment of background molecules."""
    landed, in_nuc = locator.locate(part["x"], part["y"])
    return {**part, "landed": landed.astype(np.int32), "compartment": compartment_codes(landed, in_nuc)}


def block_background(
    ctx: TranscriptContext, weights: np.ndarray, rng: np.random.Generator, tiles: BackgroundTiles
) -> dict[str, np.ndarray] | None:
    """The background molecules of ``tiles`` (a block's, :meth:`BackgroundTiles.of_block`), unlocated.

    ``rng`` is the stage's generator (each tile draws from its keyed child); ``None`` when the
    tiles hold no molecule.
    """
    rates = _rates(ctx)
    if rates is None or not len(tiles):
        return None
    draws = [_draw_tile(rng, rates, i, j, box, ctx=ctx) for i, j, box in zip(tiles.i, tiles.j, tiles.box, strict=True)]
    if not sum(len(d[0]) for d in draws):
        return None
    return _background_part(ctx, draws, np.cumsum(weights))


def unlocated_background(
    ctx: TranscriptContext, weights: np.ndarray, rng: np.random.Generator, *, max_molecules: int | None = None
) -> Iterator[dict[str, np.ndarray]]:
    """All the background molecules without their landed cell (see :func:`locate_part`), in parts.

    Each tile draws from its own keyed generator; the parts are runs of consecutive tiles
    (in :class:`BackgroundTiles` order) holding about ``max_molecules`` molecules (``None``: one
    part), drawn only when the next part is asked for, so a whole slide's background is never
    in memory at once. Joined, the parts are the same molecules however they are cut.
    """
    rates = _rates(ctx)
    if rates is None:
        return
    cum_w = np.cumsum(weights)
    tiles = BackgroundTiles.build(ctx.bounds)
    draws: list[tuple[np.ndarray, ...]] = []
    n_pending = 0
    for i, j, box in zip(tiles.i, tiles.j, tiles.box, strict=True):
        draws.append(_draw_tile(rng, rates, i, j, box, ctx=ctx))
        n_pending += len(draws[-1][0])
        if max_molecules is not None and n_pending >= max_molecules:
            yield _background_part(ctx, draws, cum_w)
            draws, n_pending = [], 0
    if draws and (n_pending or max_molecules is None):
        yield _background_part(ctx, draws, cum_w)


def _rates(ctx: TranscriptContext) -> np.ndarray | None:
    """Ambient and the three control rates per µm², or ``None`` when all are 0."""
    inst = ctx.config.instrument
    rates = np.array([inst.ambient_rate_per_um2, inst.neg_control_probe_rate_per_um2,
                      inst.neg_control_codeword_rate_per_um2, inst.unassigned_codeword_rate_per_um2])
    return rates if np.any(rates > 0) else None


def _draw_tile(rng: np.random.Generator, rates: np.ndarray, i: int, j: int, box: np.ndarray, *,
               ctx: TranscriptContext) -> tuple[np.ndarray, ...]:
    """One tile's keyed draws: each molecule's kind, four uniforms, the tile's box and the qv."""
    trng = block_rng(rng, tile_key(Block.BACKGROUND_TILES, i, j))
    k = trng.poisson(rates * (box[1] - box[0]) * (box[3] - box[2]))
    n = int(k.sum())
    u = trng.random((4, n))
    qv = draw_qv(np.ones(n, dtype=bool), trng, config=ctx.config.instrument)
    return np.repeat(np.arange(4, dtype=np.int8), k), u, box, qv


def _background_part(
    ctx: TranscriptContext, draws: list[tuple[np.ndarray, ...]], cum_w: np.ndarray
) -> dict[str, np.ndarray]:
    """The molecules of some tiles' draws (kind, uniforms, tile box, qv)."""
    n_genes = len(ctx.nuclear)
    names = control_names(ctx.config.instrument)
    offsets = np.cumsum([n_genes] + [len(k) for k in names])[:-1]
    sizes = [len(k) for k in names]
    kind = np.concatenate([d[0] for d in draws])
    u = np.concatenate([d[1] for d in draws], axis=1)
    box = np.repeat(np.stack([d[2] for d in draws]), [len(d[0]) for d in draws], axis=0)
    qv = np.concatenate([d[3] for d in draws])
    n = len(kind)
    gene = np.empty(n, dtype=np.int32)
    amb = kind == 0
    gene[amb] = np.minimum(np.searchsorted(cum_w, u[3, amb] * cum_w[-1], side="right"), n_genes - 1)
    for c in range(3):
        sel = kind == c + 1
        gene[sel] = offsets[c] + np.minimum((u[3, sel] * sizes[c]).astype(np.intp), sizes[c] - 1)
    x = box[:, 0] + u[0] * (box[:, 1] - box[:, 0])
    y = box[:, 2] + u[1] * (box[:, 3] - box[:, 2])
    return {
        "row": np.full(n, -1, dtype=np.int32), "gene": gene, "true_gene": gene, "x": x, "y": y,
        "z": (u[2] * ctx.config.tissue.section_thickness_um).astype(np.float32),
        "origin": np.where(amb, AMBIENT, CONTROL).astype(np.int8),
        "qv": qv,
    }
