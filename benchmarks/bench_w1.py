"""Issue 17's W1: one square millimetre run in memory, time of ``run()`` after a warm-up.

Usage::

    python benchmarks/bench_w1.py [--repeats 10] [--threads 1|2] [--n-cells 2500]
                                  [--expression-scale 1.35] [--profile]

W1 is the Xenium preset at 2,500 cells (a 1.04 mm square) with ``expression_scale`` 1.35 in
place of the preset's 4.9, so the run has ≈ 3.3·10⁵ molecules (334,895 at seed 0: 206,693 in
cells, 36,638 leaked, 87,716 ambient, 3,848 controls), the issue's figure. One warm-up run
first (numba kernels loaded from their cache, imports, lazy tables), then ``--repeats`` timed
runs of ``SpotlessSimulator(config).run()``; prints the median and minimum wall seconds, the
CPU seconds of the process (``time.process_time``, all threads) and the load average, then
the median per stage (the facade's ``generate_*`` steps called one by one, the same work as
``run()``). ``--profile`` adds cProfile's top 25 functions by cumulative time over one more run.

Many users simulate many small replicates, so the fixed costs of a run (config copies, frame
building, thread pools, geometry objects) matter here more than at slide scale
(``bench_scale.py``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time
from collections.abc import Callable

from STpuppeteer.config import SimulationConfig
from STpuppeteer.config.budget import check_memory
from STpuppeteer.pipeline.simulator import SpotlessSimulator
from STpuppeteer.result import SimulationResult

#: Cells of W1 (one square millimetre of the Xenium preset's density).
N_CELLS = 2500
#: Expression scale giving ≈ 3.3·10⁵ molecules at 2,500 cells (the preset's own is 4.9: 9.7·10⁵).
EXPRESSION_SCALE = 1.35


def w1_config(*, n_cells: int, expression_scale: float, threads: int, seed: int) -> SimulationConfig:
    """The W1 config: the Xenium preset with the given size, expression scale and threads."""
    return SimulationConfig.from_preset(
        "xenium",
        seed=seed,
        n_cells=n_cells,
        expression_scale=expression_scale,
        transcripts={"n_threads": threads},
    )


def _timed(func: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - wall, time.process_time() - cpu


def staged_run(config: SimulationConfig) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each step of ``run()``, called one by one."""
    sim = SpotlessSimulator(config)
    steps: dict[str, Callable[[], object]] = {
        "check_memory": lambda: check_memory(config),
        "genes": sim.generate_gene_parameters,
        "cells": sim.generate_cells,
        "counts": sim.generate_counts,
        "transcripts": sim.generate_transcripts,
        "result": lambda: SimulationResult(
            config=config,
            gpar_df=sim.gpar_df,
            cell_gdf=sim.cell_gdf,
            count_array=sim.count_array,
            trs_df=sim.trs_df,
        ),
    }
    return {name: _timed(step) for name, step in steps.items()}


def main() -> None:
    """Time W1 and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, choices=[1, 2])
    parser.add_argument("--n-cells", type=int, default=N_CELLS)
    parser.add_argument("--expression-scale", type=float, default=EXPRESSION_SCALE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="cProfile's top 25 by cumulative time")
    args = parser.parse_args()
    config = w1_config(
        n_cells=args.n_cells, expression_scale=args.expression_scale, threads=args.threads, seed=args.seed
    )
    load0 = os.getloadavg()[0]
    warm = SpotlessSimulator(config).run()
    print(
        f"W1: xenium preset, {args.n_cells:,} cells, expression_scale {args.expression_scale}, "
        f"{len(warm.trs_df):,} molecules, threads {args.threads}, seed {args.seed}"
    )
    del warm
    walls, cpus = [], []
    for _ in range(args.repeats):
        wall, cpu = _timed(lambda: SpotlessSimulator(config).run())
        walls.append(wall)
        cpus.append(cpu)
    stages = [staged_run(config) for _ in range(args.repeats)]
    load1 = os.getloadavg()[0]
    print(
        f"run(): wall median {statistics.median(walls):.3f} s, min {min(walls):.3f} s; "
        f"CPU median {statistics.median(cpus):.3f} s, min {min(cpus):.3f} s "
        f"({args.repeats} runs, load {load0:.1f}/{load1:.1f})"
    )
    print(f"{'stage':<14}{'wall s':>8}{'CPU s':>8}")
    for name in stages[0]:
        wall = statistics.median(s[name][0] for s in stages)
        cpu = statistics.median(s[name][1] for s in stages)
        print(f"{name:<14}{wall:>8.3f}{cpu:>8.3f}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        SpotlessSimulator(config).run()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
