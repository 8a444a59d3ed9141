"""Stage 2's ``scale`` column: each cell's size factor s, the multiplier of its expected counts.

A cell of type t makes on average s·μ_g,t molecules of gene g (stage 3). Cells of one type differ
in size, and mRNA concentration is roughly constant across cell sizes (transcription scales with
cell volume), so a bigger cell holds proportionally more molecules. So

    s_c ∝ a_c^β · ε_c,   ε_c ~ log-normal with mean 1 and CV ``size_factor_cv``,

with a the area named by ``size_factor`` and β ``size_factor_exponent``, scaled so that the mean of
s over a type's cells is exactly 1: μ keeps its meaning (a type's mean molecules per cell), so fits
and priors keep their numbers.

Which area. By default it follows the cell model. A confluent cell's size is the area it was drawn
to have (:mod:`.cell_sizes`: log-normal per type, CV 0.45), not its polygon's: the power cell
realises it only loosely (Spearman 0.72 between the two on 5,000 cells, 0.45 on 400) and the
tissue's outline cuts the cells along it, so the polygon's area would make a run's median
molecules per cell depend on its size (−7 % at 400 cells against 5,000 on ``xenium_breast``). An
expanded cell grows from its nucleus, so the nucleus area, as before these knobs (the fit, which
writes the expanded model, calibrates the nucleus areas' spread to a dataset's totals).

Why ε. A section holds the part of a cell that lies in its slab, which varies with the height at
which it cuts the cell whatever the cell's area, and cells of one size differ in state. With the
drawn area alone the Xenium preset's molecules per cell have mean/median 1.09 and Spearman
0.67–0.71 with the cell's area; ε of CV 0.3 (the default with the cell area) gives 1.12–1.13 and
0.59–0.62, inside what imaging data show (about 1.1–1.3 and 0.4–0.8; ``docs/model_genes.md``).
With the nucleus area ε defaults to 0, so expanded cells draw nothing new.

Determinism: the type means are taken over the whole tissue and ε is drawn per cell in cell order
from one keyed stream (``Block.SIZE_FACTOR``, only when its CV is > 0); every driver builds the
cell table from all cells at once, so neither depends on tiles, threads or blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

__all__ = ["DEFAULT_LEVEL_CV", "size_factor_area", "size_factor_cv", "size_factors", "sizing_area"]

#: CV of the level ε when the size factor follows the cell area and ``size_factor_cv`` is None.
DEFAULT_LEVEL_CV = 0.3


def size_factor_area(config: SimulationConfig) -> Literal["cell_area", "nucleus_area"]:
    """The area that sets the size factors: ``config.size_factor``, or the cell model's own when ``None``.

    Examples
    --------
    >>> from STpuppeteer.config import SimulationConfig
    >>> size_factor_area(SimulationConfig()), size_factor_area(SimulationConfig(morphology={"cell_model": "expanded"}))
    ('cell_area', 'nucleus_area')
    """
    if config.size_factor is not None:
        return config.size_factor
    return "cell_area" if config.morphology.cell_model == "confluent" else "nucleus_area"


def size_factor_cv(config: SimulationConfig) -> float:
    """CV of the level ε: ``config.size_factor_cv``, or if ``None`` :data:`DEFAULT_LEVEL_CV` (cell area) or 0.

    Examples
    --------
    >>> from STpuppeteer.config import SimulationConfig
    >>> size_factor_cv(SimulationConfig()), size_factor_cv(SimulationConfig(size_factor="nucleus_area"))
    (0.3, 0.0)
    """
    if config.size_factor_cv is not None:
        return config.size_factor_cv
    return DEFAULT_LEVEL_CV if size_factor_area(config) == "cell_area" else 0.0


def sizing_area(
    config: SimulationConfig, *, nucleus_area: np.ndarray, cell_area: np.ndarray, target_area: np.ndarray | None
) -> np.ndarray:
    """Each cell's area that its size factor follows (see the module's docstring).

    Parameters
    ----------
    config
        The simulation config (``size_factor``, ``morphology.cell_model``).
    nucleus_area, cell_area
        Areas of the polygons, µm².
    target_area
        The confluent model's drawn cell areas (``TissueLayout.target_area``); ``None`` for expanded cells.

    Returns
    -------
    ``(n,)`` areas, µm².
    """
    if size_factor_area(config) == "nucleus_area":
        return nucleus_area
    return cell_area if target_area is None else target_area


def size_factors(
    area: np.ndarray,
    codes: np.ndarray,
    *,
    n_types: int,
    exponent: float = 1.0,
    level_cv: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Each cell's ``area ** exponent`` × ε over the mean of that among its type's cells (mean 1 per type).

    Parameters
    ----------
    area
        ``(n,)`` areas, µm² (> 0).
    codes
        ``(n,)`` each cell's type code, 0 … ``n_types`` − 1.
    n_types
        Number of cell types.
    exponent
        β: 1 makes s proportional to the area, 0 removes the area.
    level_cv
        CV of the log-normal factor ε (mean 1); 0 draws nothing.
    rng
        The generator of ε (``n`` standard normals in cell order); needed when ``level_cv`` > 0.

    Returns
    -------
    ``(n,)`` size factors.

    Examples
    --------
    >>> size_factors(np.array([1.0, 3.0, 5.0]), np.array([0, 0, 1]), n_types=2)
    array([0.5, 1.5, 1. ])
    """
    # β = 1 skips the power so the nucleus-area factors stay bit for bit those of before the knob.
    weight = np.asarray(area, dtype=float)
    if exponent != 1.0:
        weight = weight**exponent
    if level_cv > 0:
        if rng is None:
            msg = f"size_factors: level_cv={level_cv!r} needs a generator (rng) to draw each cell's level."
            raise ValueError(msg)
        sigma = np.sqrt(np.log1p(level_cv**2))
        weight = weight * np.exp(sigma * rng.standard_normal(len(weight)) - 0.5 * sigma**2)
    type_mean = np.bincount(codes, weight, n_types) / np.maximum(np.bincount(codes, minlength=n_types), 1)
    return weight / type_mean[codes]
