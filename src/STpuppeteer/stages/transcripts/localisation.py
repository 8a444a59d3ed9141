"""Per-gene compartment patterns: which gene has which, and where a patterned molecule goes.

A gene with pattern P and strength s: each of its molecules that stays in its cell is, with
probability s, moved to a point drawn from P's distribution; the others keep the baseline's
point (uniform in the cell, or the nuclear enrichment). Regions are defined along the ray from
the nucleus centre c at the point's angle θ, where the cell's boundary is at R(θ) and the
nucleus's at r_n(θ) (both polygons are star-shaped about c, so each test is one containment
test of a moved point):

- ``nuclear``: the nucleus; ``cytoplasmic``: the cell outside it;
- ``perinuclear``: outside the nucleus with r − r_n(θ) ≤ d (the point moved d towards c is in the
  nucleus);
- ``cell_edge``: R(θ) − r ≤ d (the point moved d away from c is outside the cell);
- ``distal``: r / R(θ) > q (the point c + (p − c) / q is outside the cell);
- ``foci``: k granules per cell and gene, centres uniform in the cytoplasm; a molecule picks one
  at random and sits at a Gaussian offset (s.d. σ per axis), redrawn until it is in the cell.

Region patterns are drawn uniformly in their region by rejection from uniform points of the
cell (the fan sampler, vectorised over the block). All draws come from the block's own
``Block.LOCALISATION`` stream, after the baseline, so a config without patterns draws exactly
what it drew before they existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from STpuppeteer._random import Block, Stage, block_rng, stage_rng
from STpuppeteer.config.localisation import PATTERNS
from STpuppeteer.stages.transcripts.regions import (
    CELL_EDGE_TEST,
    CYTOPLASM_TEST,
    DISTAL_TEST,
    PERINUCLEAR_TEST,
    reject_into_region,
)

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.config.localisation import LocalisationConfig
    from STpuppeteer.stages.transcripts.geometry import CellGeometry

__all__ = [
    "PATTERN_CODE",
    "PREFERENCE_COLUMN",
    "STRENGTH_COLUMN",
    "GeneLocalisation",
    "gene_localisation",
    "localisation_columns",
    "place_patterns",
]

#: The ``gpar_df`` columns of a gene's pattern and strength.
PREFERENCE_COLUMN = "compartment_preference"
STRENGTH_COLUMN = "compartment_strength"
#: Integer code of each pattern (its position in :data:`~STpuppeteer.config.localisation.PATTERNS`).
PATTERN_CODE = {name: code for code, name in enumerate(PATTERNS)}
UNIFORM, NUCLEAR, PERINUCLEAR, CYTOPLASMIC, CELL_EDGE, DISTAL, FOCI = range(len(PATTERNS))
# Rejection rounds before a molecule keeps its baseline point: a region is empty only in a cell
# whose nucleus fills it (perinuclear, cytoplasmic), where the baseline is all there is.
_MAX_ROUNDS = 200


def gene_localisation(config: SimulationConfig, feature_names: np.ndarray | list[str]) -> pd.DataFrame:
    """Each gene's pattern and strength: ``transcripts.localisation.genes``, else the gene table's, else the mix.

    Later sources override earlier ones: ``pattern_mix``, then a ``gene_table`` entry's
    ``compartment_preference``, then ``transcripts.localisation.genes``. ``pattern_mix`` gives
    each pattern round(share × n_genes) genes (largest remainders), taken in the order of one
    permutation of the panel drawn from the ``localisation`` stream of the seed.

    Returns
    -------
    A frame indexed like ``feature_names`` with :data:`PREFERENCE_COLUMN` and :data:`STRENGTH_COLUMN`.

    Examples
    --------
    >>> from STpuppeteer.config import SimulationConfig
    >>> cfg = SimulationConfig(seed=0, transcripts={"localisation": {"pattern_mix": {"nuclear": 0.5}}})
    >>> gene_localisation(cfg, ["a", "b", "c", "d"])[PREFERENCE_COLUMN].value_counts()["nuclear"]
    np.int64(2)
    """
    loc = config.transcripts.localisation
    names = np.asarray(feature_names, dtype=object)
    n = len(names)
    pattern = np.full(n, "uniform", dtype=object)
    strength = np.zeros(n)
    mix = {k: v for k, v in loc.pattern_mix.items() if k != "uniform" and v > 0}
    if mix and n:
        order = stage_rng(config.seed, Stage.LOCALISATION).permutation(n)
        exact = np.array([mix.get(p, 0.0) for p in PATTERNS]) * n
        count = np.floor(exact).astype(int)
        short = min(int(round(exact.sum())), n) - count.sum()
        if short > 0:  # largest remainders, ties to the earlier pattern
            count[np.argsort(-(exact - count), kind="stable")[:short]] += 1
        edges = np.concatenate([[0], np.cumsum(count)])
        for code, name in enumerate(PATTERNS):
            pattern[order[edges[code]:edges[code + 1]]] = name
        strength[pattern != "uniform"] = loc.strength
    table = config.gene_table
    if table is not None:
        # The table model's own entries (what a fit writes), where given.
        index = pd.Index(names)
        for gene, entry in table.genes.items():
            p = index.get_loc(gene) if gene in index else -1
            if p < 0 or entry.compartment_preference is None:
                continue
            pattern[p] = entry.compartment_preference
            strength[p] = loc.strength if entry.compartment_strength is None else entry.compartment_strength
    if loc.genes:
        pos = pd.Index(names).get_indexer(list(loc.genes))
        unknown = [g for g, p in zip(loc.genes, pos, strict=True) if p < 0]
        if unknown:
            msg = f"transcripts.localisation.genes names unknown genes {unknown[:5]}; use the panel's feature names."
            raise ValueError(msg)
        for p, entry in zip(pos, loc.genes.values(), strict=True):
            pattern[p], strength[p] = entry.pattern, entry.strength
    strength[pattern == "uniform"] = 0.0
    return pd.DataFrame({PREFERENCE_COLUMN: pattern, STRENGTH_COLUMN: strength})


def localisation_columns(config: SimulationConfig, feature_names: np.ndarray | list[str]) -> dict[str, np.ndarray]:
    """The ``gpar_df`` columns of :func:`gene_localisation`; none when nothing is localised.

    A config whose ``transcripts.localisation`` is the default keeps ``gpar_df`` as it was.
    """
    table = config.gene_table
    in_table = table is not None and any(e.compartment_preference is not None for e in table.genes.values())
    if config.transcripts.localisation.is_default and not in_table:
        return {}
    table = gene_localisation(config, feature_names)
    return {name: table[name].to_numpy() for name in (PREFERENCE_COLUMN, STRENGTH_COLUMN)}


@dataclass(frozen=True)
class GeneLocalisation:
    """What stage 4 reads of the patterns: a code and a strength per gene, the shapes' knobs."""

    code: np.ndarray
    strength: np.ndarray
    config: LocalisationConfig

    @classmethod
    def build(cls, config: SimulationConfig, gpar_df: pd.DataFrame) -> GeneLocalisation:
        """From ``gpar_df``'s columns when it has them, else from the config."""
        genes = np.asarray(gpar_df["feature_name"], dtype=object)
        table = gpar_df if PREFERENCE_COLUMN in gpar_df.columns else gene_localisation(config, genes)
        names = np.asarray(table[PREFERENCE_COLUMN], dtype=object)
        bad = sorted({str(v) for v in names} - set(PATTERNS))
        if bad:
            msg = f"gpar_df[{PREFERENCE_COLUMN!r}] holds {bad[:5]}; a pattern is one of {', '.join(PATTERNS)}."
            raise ValueError(msg)
        code = np.array([PATTERN_CODE[v] for v in names], dtype=np.int8)
        strength = np.asarray(table[STRENGTH_COLUMN], dtype=float) if STRENGTH_COLUMN in table.columns else (
            np.where(code != UNIFORM, config.transcripts.localisation.strength, 0.0))
        if np.any(~np.isfinite(strength) | (strength < 0) | (strength > 1)):
            msg = f"gpar_df[{STRENGTH_COLUMN!r}] must hold probabilities in [0, 1]."
            raise ValueError(msg)
        strength = np.where(code == UNIFORM, 0.0, strength)
        return cls(code=code, strength=strength, config=config.transcripts.localisation)

    @property
    def any(self) -> bool:
        """Whether any gene has a pattern of positive strength."""
        return bool(np.any(self.strength > 0))


def place_patterns(
    loc: GeneLocalisation,
    geo: CellGeometry,
    part: tuple[np.ndarray, np.ndarray, np.ndarray],
    block_generator: np.random.Generator,
    *,
    x: np.ndarray,
    y: np.ndarray,
    in_nuc: np.ndarray,
) -> None:
    """Move the patterned molecules ``idx`` (rows ``row``, genes ``gene``) in place; ``in_nuc`` follows.

    ``part`` is ``(idx, row, gene)``: the positions in ``x``/``y``/``in_nuc`` of the molecules that
    stayed in their cell, their cell rows and gene columns. Draws come from the block's
    ``Block.LOCALISATION`` child of ``block_generator``.
    """
    idx, row, gene = part
    p = loc.strength[gene]
    candidates = np.flatnonzero(p > 0)
    if len(candidates) == 0:
        return
    rng = block_rng(block_generator, Block.LOCALISATION)
    chosen = candidates[rng.random(len(candidates)) < p[candidates]]
    codes = loc.code[gene[chosen]]
    for code in range(1, len(PATTERNS)):
        sel = chosen[codes == code]
        if len(sel) == 0:
            continue
        if code == NUCLEAR:
            px, py = geo.nuclei.sample(row[sel], rng)
            placed = np.ones(len(sel), dtype=bool)
        elif code == FOCI:
            px, py, placed = _foci(loc.config, geo, row[sel], gene[sel], rng)
        else:
            px, py, placed = _region(code, loc.config, geo, row[sel], rng)
        sel, px, py = sel[placed], px[placed], py[placed]
        x[idx[sel]], y[idx[sel]] = px, py
        in_nuc[sel] = geo.nuclei.contains(row[sel], px, py)


def _in_region(code: int, cfg: LocalisationConfig, geo: CellGeometry, rows: np.ndarray, px: np.ndarray,
               py: np.ndarray) -> np.ndarray:
    """Whether point k, in cell ``rows[k]``, lies in the region of pattern ``code`` (module docstring)."""
    if code == DISTAL and cfg.distal_fraction == 0.0:
        return np.ones(len(rows), dtype=bool)
    centre = geo.cells.centre[rows]
    dx, dy = px - centre[:, 0], py - centre[:, 1]
    if code == DISTAL:
        scale = 1.0 / cfg.distal_fraction
        return ~geo.cells.contains(rows, centre[:, 0] + scale * dx, centre[:, 1] + scale * dy)
    r = np.hypot(dx, dy)
    safe = np.maximum(r, 1e-12)
    if code == CELL_EDGE:
        scale = (r + cfg.cell_edge_um) / safe
        return ~geo.cells.contains(rows, centre[:, 0] + scale * dx, centre[:, 1] + scale * dy)
    outside = ~geo.nuclei.contains(rows, px, py)
    if code == CYTOPLASMIC:
        return outside
    # Perinuclear: outside the nucleus, and within d of it along the ray (the point moved d
    # towards the centre is in the nucleus; within d of the centre, the centre itself is).
    scale = np.maximum(r - cfg.perinuclear_um, 0.0) / safe
    near = geo.nuclei.contains(rows, centre[:, 0] + scale * dx, centre[:, 1] + scale * dy)
    return outside & near


def _region(code: int, cfg: LocalisationConfig, geo: CellGeometry, rows: np.ndarray,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform points in each cell's region of ``code``, by rejection from uniform points of the cell."""
    n = len(rows)
    px, py = np.empty(n), np.empty(n)
    placed = np.zeros(n, dtype=bool)
    todo = np.arange(n)
    compiled = code != DISTAL or cfg.distal_fraction != 0.0
    if compiled and geo.cells.star[rows].all() and geo.nuclei.star[rows].all():
        # The same rounds as below, each one compiled loop (regions.py).
        test, parameter = {
            CYTOPLASMIC: (CYTOPLASM_TEST, 0.0),
            PERINUCLEAR: (PERINUCLEAR_TEST, cfg.perinuclear_um),
            CELL_EDGE: (CELL_EDGE_TEST, cfg.cell_edge_um),
            DISTAL: (DISTAL_TEST, 1.0 / cfg.distal_fraction if compiled else 0.0),
        }[code]
        left = reject_into_region(test, parameter, geo.cells, geo.nuclei, rows, todo, rng, x=px, y=py,
                                  max_rounds=_MAX_ROUNDS)
        placed[:] = True
        placed[left] = False
        return px, py, placed
    for _ in range(_MAX_ROUNDS):
        if len(todo) == 0:
            break
        qx, qy = geo.cells.sample(rows[todo], rng)
        ok = _in_region(code, cfg, geo, rows[todo], qx, qy)
        hit = todo[ok]
        px[hit], py[hit] = qx[ok], qy[ok]
        placed[hit] = True
        todo = todo[~ok]
    return px, py, placed


def _foci(cfg: LocalisationConfig, geo: CellGeometry, rows: np.ndarray, genes: np.ndarray,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points around k granules per (cell, gene): centres uniform in the cytoplasm, Gaussian offsets in the cell."""
    pair_key = rows.astype(np.int64) * (int(genes.max()) + 1) + genes
    _, pair_of = np.unique(pair_key, return_inverse=True)
    k = cfg.n_foci
    granule_rows = np.repeat(rows[np.unique(pair_of, return_index=True)[1]], k)
    gx, gy, found = _region(CYTOPLASMIC, cfg, geo, granule_rows, rng)
    if not found.all():  # no cytoplasm: a granule anywhere in the cell
        lost = np.flatnonzero(~found)
        gx[lost], gy[lost] = geo.cells.sample(granule_rows[lost], rng)
    granule = pair_of * k + np.minimum((rng.random(len(rows)) * k).astype(np.int64), k - 1)
    cx, cy = gx[granule], gy[granule]
    n = len(rows)
    px, py = cx.copy(), cy.copy()
    todo = np.arange(n)
    for _ in range(_MAX_ROUNDS):
        if len(todo) == 0:
            break
        off = rng.standard_normal((2, len(todo))) * cfg.foci_sigma_um
        qx, qy = cx[todo] + off[0], cy[todo] + off[1]
        ok = geo.cells.contains(rows[todo], qx, qy)
        px[todo[ok]], py[todo[ok]] = qx[ok], qy[ok]
        todo = todo[~ok]
    # A molecule still unplaced sits on its granule's centre (inside the cell).
    return px, py, np.ones(n, dtype=bool)
