"""The difficulty ladder at a realistic size: the table of docs/presets.md ("Difficulty ladder").

Run from the repository: ``python benchmarks/bench_difficulty_ladder.py [N_CELLS] [PRESET ...]``
(default 3,000 cells, the xenium and xenium_breast presets). Prints one Markdown row per
preset and level: clustering ARI from the observed matrix and from the true counts, and the
assignment accuracy of the nucleus-only and true-polygon baselines.
"""

from __future__ import annotations

import sys

from STpuppeteer.config import SimulationConfig
from STpuppeteer.io.anndata import observed_gene_counts
from STpuppeteer.metrics import clustering_ari, nucleus_assignment, oracle_assignment, score
from STpuppeteer.pipeline.simulator import simulate


def ladder_row(preset: str, level: str | None, n_cells: int, seed: int = 0) -> str:
    """One Markdown table row of a preset at a level (``None``: the preset as it is)."""
    extra = {} if level is None else {"difficulty": level}
    result = simulate(SimulationConfig.from_preset(preset, n_cells=n_cells, seed=seed, **extra))
    celltype = result.cell_gdf["celltype"].to_numpy()
    observed = clustering_ari(observed_gene_counts(result), celltype)
    true = clustering_ari(result.count_array, celltype)
    accuracy = [
        score(result, assignment=table, cell_col="cell_id", unassigned=(-1,))["assignment"]["accuracy"]
        for table in (nucleus_assignment(result), oracle_assignment(result, "polygons"))
    ]
    n_types = result.config.n_celltype
    return (
        f"| {preset} | {level or '(none)'} | {n_types} | {observed:.3f} | {true:.3f} | {accuracy[0]:.3f} | "
        f"{accuracy[1]:.3f} |"
    )


def main(argv: list[str]) -> None:
    n_cells = int(argv[0]) if argv else 3000
    presets = argv[1:] or ["xenium", "xenium_breast"]
    print("| preset | difficulty | types | ARI observed | ARI true counts | nucleus accuracy | polygon accuracy |")
    print("|---|---|---|---|---|---|---|")
    for preset in presets:
        for level in (None, "easy", "medium", "hard"):
            print(ladder_row(preset, level, n_cells), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
