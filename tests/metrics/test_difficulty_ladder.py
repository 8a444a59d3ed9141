"""The difficulty ladder measured by the package's own baselines: each score falls easy → medium → hard.

Measured on the Xenium preset, 300 cells, seeds 0–3 (mean, s.d. over seeds):

==========  ============  ============  ============
level       clustering    nucleus acc.  polygon acc.
==========  ============  ============  ============
easy        1.000, 0.000  0.169, 0.003  0.934, 0.002
medium      0.921, 0.008  0.150, 0.003  0.772, 0.004
hard        0.870, 0.012  0.137, 0.004  0.559, 0.007
==========  ============  ============  ============

The smallest step (nucleus, medium → hard: 0.013) is three times the largest s.d. of a step
between two seeds' values (about √2 · 0.004), so every seed's values are ordered; the test asks
exactly that of two seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from STpuppeteer.config import SimulationConfig
from STpuppeteer.config.difficulty import DIFFICULTY_LEVELS
from STpuppeteer.io.anndata import observed_gene_counts
from STpuppeteer.metrics import clustering_ari, nucleus_assignment, oracle_assignment, score
from STpuppeteer.pipeline.simulator import simulate


def _ladder_scores(level: str, seed: int) -> tuple[float, float, float]:
    result = simulate(SimulationConfig.from_preset("xenium", difficulty=level, n_cells=300, seed=seed))
    ari = clustering_ari(observed_gene_counts(result), result.cell_gdf["celltype"].to_numpy())
    accuracy = [
        score(result, assignment=table, cell_col="cell_id", unassigned=(-1,))["assignment"]["accuracy"]
        for table in (nucleus_assignment(result), oracle_assignment(result, "polygons"))
    ]
    return ari, *accuracy


@pytest.mark.parametrize("seed", [0, 1])
def test_every_score_falls_from_easy_to_hard(seed: int) -> None:
    scores = np.array([_ladder_scores(level, seed) for level in DIFFICULTY_LEVELS])
    for column, name in enumerate(("clustering ARI", "nucleus accuracy", "polygon accuracy")):
        steps = np.diff(scores[:, column])
        assert np.all(steps < 0), f"{name} by level {DIFFICULTY_LEVELS}: {scores[:, column]}"


def test_clustering_ari_finds_separate_types_and_not_noise(rng: np.random.Generator) -> None:
    celltype = np.repeat(["a", "b", "c"], 40)
    means = np.where(np.arange(30)[None, :] // 10 == np.arange(3)[:, None], 8.0, 0.2)
    counts = rng.poisson(means[np.repeat(np.arange(3), 40)])
    assert clustering_ari(counts, celltype) == 1.0
    noise = rng.poisson(1.0, size=(120, 30))
    assert abs(clustering_ari(noise, celltype)) < 0.1
