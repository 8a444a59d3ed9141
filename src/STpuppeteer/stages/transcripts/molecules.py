"""The molecules of one block of cells: leak or stay, where in the cell, how far out, then the instrument.

Within a block the draws come in a fixed order (leakage, compartment, position, leak
distance, z, then the instrument: detection, optics, mis-calls, quality, jitter), so turning an
instrument knob never moves the true molecules. The localisation patterns draw from the
block's own ``Block.LOCALISATION`` stream and move molecules after the baseline has placed
them, so they move no leak, z or instrument draw either.
"""

from __future__ import annotations

import numpy as np

from STpuppeteer.stages.instrument import apply_instrument
from STpuppeteer.stages.transcripts.context import TranscriptContext
from STpuppeteer.stages.transcripts.from_counts import expand_counts
from STpuppeteer.stages.transcripts.labels import CELL, CYTOPLASM, LEAKED, NUCLEUS, compartment_codes
from STpuppeteer.stages.transcripts.leakage import draw_leaks, leak_distances, leak_probability
from STpuppeteer.stages.transcripts.localisation import place_patterns
from STpuppeteer.stages.transcripts.regions import CYTOPLASM_TEST, reject_into_region

__all__ = ["cell_block_molecules"]


_MAX_REJECTION_ROUNDS = 1000


def cell_block_molecules(
    ctx: TranscriptContext, start: int, stop: int, rng: np.random.Generator, counts: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Molecules of cells ``start:stop`` (rows), drawn from the block's generator.

    ``counts`` are the block's own rows of the count matrix (default: ``ctx.counts[start:stop]``).
    """
    geo, cfg = ctx.geo, ctx.config
    row, gene = expand_counts(ctx.counts[start:stop] if counts is None else counts)
    row += np.int32(start)
    n = len(row)
    # 1. Leakage (union rule), then compartment of those that stay.
    if ctx.cell_leak.any() or ctx.gene_leak.any():
        leaked = draw_leaks(leak_probability(ctx.cell_leak[row], ctx.gene_leak[gene]), rng)
    else:
        leaked = np.zeros(n, dtype=bool)
    stay = np.flatnonzero(~leaked)
    go = np.flatnonzero(leaked)
    x = np.empty(n)
    y = np.empty(n)
    in_nuc = np.zeros(len(stay), dtype=bool)
    # 2a. Uniform in the cell (the default): one point in the cell's fan, its compartment by
    # the analytic nucleus test: exactly "nucleus with probability of its area share".
    frac = ctx.nuclear[gene[stay]]
    ratio = cfg.transcripts.localisation.nuclear_density_ratio
    if ratio is not None:
        # The nuclear enrichment: the nucleus holds ρ·a_n / (ρ·a_n + a_c) of a cell's molecules
        # (a_n, a_c the areas of nucleus and cytoplasm), then uniform within each (as 2b).
        free = np.flatnonzero(np.isnan(frac))
        r = row[stay[free]]
        a_n = np.minimum(geo.nuclei.area[r], geo.cells.area[r])
        frac[free] = ratio * a_n / (ratio * a_n + (geo.cells.area[r] - a_n))
    uniform = np.isnan(frac)
    if uniform.any():
        idx = stay[uniform] if not uniform.all() else stay
        x[idx], y[idx] = geo.cells.sample(row[idx], rng)
        in_nuc[uniform] = geo.nuclei.contains(row[idx], x[idx], y[idx])
    # 2b. A set nuclear fraction: the compartment first, then uniform within it (cytoplasm by
    # rejection of cell points that fall in the nucleus).
    chosen = np.flatnonzero(~uniform)
    if len(chosen):
        r = row[stay[chosen]]
        cell_area = geo.cells.area[r]
        no_cytoplasm = cell_area - np.minimum(geo.nuclei.area[r], cell_area) <= 1e-9 * cell_area
        in_nuc[chosen] = (rng.random(len(chosen)) < frac[chosen]) | no_cytoplasm
        nuc_idx = stay[chosen[in_nuc[chosen]]]
        x[nuc_idx], y[nuc_idx] = geo.nuclei.sample(row[nuc_idx], rng)
        todo = stay[chosen[~in_nuc[chosen]]]
        if geo.cells.star[row[todo]].all() and geo.nuclei.star[row[todo]].all():
            # The rounds of the loop below, each one compiled loop (regions.py): the same points.
            todo = reject_into_region(CYTOPLASM_TEST, 0.0, geo.cells, geo.nuclei, row, todo, rng, x=x, y=y,
                                      max_rounds=_MAX_REJECTION_ROUNDS)
        else:
            for _ in range(_MAX_REJECTION_ROUNDS):
                if len(todo) == 0:
                    break
                px, py = geo.cells.sample(row[todo], rng)
                x[todo], y[todo] = px, py
                todo = todo[geo.nuclei.contains(row[todo], px, py)]
        if len(todo):
            msg = "could not place cytoplasmic molecules: a cell's nucleus covers (almost) all of it."
            raise RuntimeError(msg)
    # 2c. Patterns: a gene's molecules move to its pattern's region with its strength.
    if ctx.localisation is not None and ctx.localisation.any:
        place_patterns(ctx.localisation, geo, (stay, row[stay], gene[stay]), rng, x=x, y=y, in_nuc=in_nuc)
    # 3. Leaked molecules: out through the boundary, truncated-exponential distance along the ray.
    bx, by, ux, uy = geo.cells.exit_points(row[go], rng)
    dist = leak_distances(geo.radius[row[go]], rng.random(len(go)), config=cfg)
    x[go], y[go] = bx + dist * ux, by + dist * uy
    z_lo = geo.z_lo[row]
    z = (z_lo + rng.random(n) * (geo.z_hi[row] - z_lo)).astype(np.float32)
    # Truth of where each molecule is (before the instrument's localisation error).
    landed = row.copy()
    compartment = np.where(in_nuc, NUCLEUS, CYTOPLASM).astype(np.int8)
    comp_all = np.empty(n, dtype=np.int8)
    comp_all[stay] = compartment
    landed_go, nuc_go = geo.locator.locate(x[go], y[go])
    landed[go] = landed_go
    comp_all[go] = compartment_codes(landed_go, nuc_go)
    origin = np.where(leaked, LEAKED, CELL).astype(np.int8)
    part = {"row": row, "gene": gene, "true_gene": gene, "x": x, "y": y, "z": z, "origin": origin,
            "landed": landed, "compartment": comp_all}
    return apply_instrument(part, rng, config=cfg.instrument, fov=ctx.fov, n_genes=len(ctx.nuclear),
                            cell_area=geo.cells.area)
