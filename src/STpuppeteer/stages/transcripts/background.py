"""Background molecules: ambient and control molecules over the tissue's box, FOV tile by tile."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from STpuppeteer._random import Block, block_rng, tile_key
from STpuppeteer.stages.instrument import control_names, draw_qv
from STpuppeteer.stages.transcripts.labels import AMBIENT, CONTROL, compartment_codes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.geometry.locate import CellLocator
    from STpuppeteer.stages.transcripts.context import TranscriptContext

__all__ = ["ambient_weights", "background_parts", "locate_part", "unlocated_background"]


def ambient_weights(gene_totals: np.ndarray, config: SimulationConfig) -> np.ndarray:
    """Probability of each gene for an ambient molecule, from the genes' total true counts."""
    total = np.asarray(gene_totals, dtype=np.float64)
    if config.instrument.ambient_genes == "uniform" or total.sum() <= 0:
        return np.full(len(total), 1.0 / len(total))
    return total / total.sum()


def background_parts(
    ctx: TranscriptContext, weights: np.ndarray, rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """Ambient molecules and controls, uniform over the cells' bounding box, tile by tile."""
    return [locate_part(part, ctx.geo.locator) for part in unlocated_background(ctx, weights, rng)]


def locate_part(part: dict[str, np.ndarray], locator: CellLocator) -> dict[str, np.ndarray]:
    """Add the landed cell (row of the locator's cells) and compartment of background molecules."""
    landed, in_nuc = locator.locate(part["x"], part["y"])
    return {**part, "landed": landed.astype(np.int32), "compartment": compartment_codes(landed, in_nuc)}


def unlocated_background(
    ctx: TranscriptContext, weights: np.ndarray, rng: np.random.Generator, *, max_molecules: int | None = None
) -> Iterator[dict[str, np.ndarray]]:
    """Background molecules without their landed cell (see :func:`locate_part`), in parts.

    Each FOV tile draws from its own keyed generator; the parts are runs of consecutive
    tiles holding about ``max_molecules`` molecules (``None``: one part), drawn only when
    the next part is asked for, so a whole slide's background is never in memory at once.
    Joined, the parts are the same molecules however they are cut.
    """
    inst = ctx.config.instrument
    rates = np.array([inst.ambient_rate_per_um2, inst.neg_control_probe_rate_per_um2,
                      inst.neg_control_codeword_rate_per_um2, inst.unassigned_codeword_rate_per_um2])
    if not np.any(rates > 0):
        return
    cum_w = np.cumsum(weights)
    b, size = ctx.bounds, inst.fov_size_um
    draws: list[tuple[np.ndarray, ...]] = []
    n_pending = 0
    for i in range(int(np.floor(b[0] / size)), int(np.floor(b[2] / size)) + 1):
        for j in range(int(np.floor(b[1] / size)), int(np.floor(b[3] / size)) + 1):
            x0, x1 = max(b[0], i * size), min(b[2], (i + 1) * size)
            y0, y1 = max(b[1], j * size), min(b[3], (j + 1) * size)
            area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
            if area <= 0:
                continue
            # Per tile only the keyed draws; the arithmetic runs once over a part's tiles.
            trng = block_rng(rng, tile_key(Block.BACKGROUND_TILES, i, j))
            k = trng.poisson(rates * area)
            n = int(k.sum())
            u = trng.random((4, n))
            qv = draw_qv(np.ones(n, dtype=bool), trng, config=inst)
            draws.append((np.repeat(np.arange(4, dtype=np.int8), k), u, np.array([x0, x1, y0, y1]), qv))
            n_pending += n
            if max_molecules is not None and n_pending >= max_molecules:
                yield _background_part(ctx, draws, cum_w)
                draws, n_pending = [], 0
    if draws and (n_pending or max_molecules is None):
        yield _background_part(ctx, draws, cum_w)


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
