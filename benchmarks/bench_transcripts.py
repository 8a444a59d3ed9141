"""Speed and memory of stages 3–4: ``run()`` end to end, and placement against the RNG ceiling.

Usage::

    python benchmarks/bench_transcripts.py [--n-cells 100000] [--preset xenium] [--seed 0] [--uniform]

Prints the time of each stage (wall and CPU), molecules per second of ``run()`` end to end
(target: ≥ 2 M/s), bytes per molecule of ``trs_df``, and the placement step's speed as a
fraction of the raw random-number ceiling measured in the same run: the time
``rng.random(n_uniforms)`` takes to draw the three uniforms per molecule that placement
consumes (target ≥ 20 %), once block by block as placement draws them and once as one
call. The load average is printed next to the timings: on a shared machine wall time
includes waiting for the CPU.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from STpuppeteer.config import preset_config
from STpuppeteer.config.localisation import LocalisationConfig
from STpuppeteer.simulation import SpotlessSimulator
from STpuppeteer.stages.transcripts import CellGeometry

CPU: dict[str, float] = {}


def _timed(fn, name=None):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    if name is not None:
        CPU[name] = time.process_time() - c0
    return out, time.perf_counter() - t0


def _load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=100_000)
    parser.add_argument("--preset", default="xenium")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="transcripts.n_threads (default: up to 4)")
    parser.add_argument("--uniform", action="store_true",
                        help="no localisation (every molecule uniform in its cell, as before the patterns)")
    args = parser.parse_args()

    cfg = preset_config(args.preset, seed=args.seed, n_cells=args.n_cells,
                        transcripts={"n_threads": args.threads})
    if args.uniform:
        cfg.transcripts.localisation = LocalisationConfig()
    sim = SpotlessSimulator(cfg)
    print(f"start: {_load()}  ({os.cpu_count()} CPUs)")
    times = {}
    _, times["genes"] = _timed(sim.generate_gene_parameters, "genes")
    _, times["cells"] = _timed(sim.generate_cells, "cells")
    _, times["counts"] = _timed(sim.generate_counts, "counts")
    trs, times["transcripts"] = _timed(sim.generate_transcripts, "transcripts")
    result, times["run (rest)"] = _timed(sim.run, "run (rest)")
    n = len(trs)
    total = sum(times.values())
    total_cpu = sum(CPU.values())
    # CPU time (all threads) next to wall time: on a shared machine wall time includes waiting.
    for stage, sec in times.items():
        print(f"{stage:>14}: {sec:7.2f} s wall, {CPU[stage]:7.2f} s CPU")
    print(f"cells: {args.n_cells:,}  molecules: {n:,}  ({n / args.n_cells:.0f} per cell)")
    print(f"end to end:        {n / total / 1e6:6.2f} M molecules/s ({total:.1f} s wall, {total_cpu:.1f} s CPU; "
          f"{n / total_cpu / 1e6:.2f} M/CPU-s)")
    print(f"stages 3-4 only:   {n / (times['counts'] + times['transcripts']) / 1e6:6.2f} M molecules/s")
    print(f"trs_df:            {trs.memory_usage(deep=True).sum() / n:6.1f} bytes/molecule")

    # Placement: every true molecule placed uniformly in its cell, block by block, as stage 4 does.
    geo, t_geo = _timed(lambda: CellGeometry.from_cells(sim.cell_gdf, thickness=cfg.tissue.section_thickness_um))
    per_cell = result.count_array.sum(axis=1)
    rows = np.repeat(np.arange(len(per_cell)), per_cell)
    size = cfg.transcripts.block_size
    bounds = np.searchsorted(rows, np.arange(0, len(per_cell) + size, size))
    # A generator of the benchmark's own: no simulation stream is drawn from here.
    rng = np.random.default_rng(args.seed)

    blocks = list(zip(bounds[:-1], bounds[1:], strict=True))

    def place():
        for lo, hi in blocks:
            geo.cells.sample(rows[lo:hi], rng)

    def ceiling():
        for lo, hi in blocks:
            rng.random((3, hi - lo))

    # Best of three, block by block for both: the least disturbed by other processes.
    t_place = min(_timed(place, "placement")[1] for _ in range(3))
    t_ceiling = min(_timed(ceiling, "ceiling")[1] for _ in range(3))
    t_one_shot = min(_timed(lambda: rng.random(3 * len(rows)), "one shot")[1] for _ in range(3))
    m = len(rows) / 1e6
    print(f"geometry build:    {t_geo:6.2f} s (fans of cells and nuclei, their tables, landing grid)")
    print(f"placement:         {m / t_place:6.2f} M molecules/s ({t_place:.3f} s wall, {CPU['placement']:.3f} s CPU "
          f"for {len(rows):,} molecules, {len(blocks)} blocks)")
    print(f"RNG ceiling:       {m / t_ceiling:6.2f} M molecules/s block by block ({t_ceiling:.3f} s), "
          f"{m / t_one_shot:.2f} M/s in one rng.random({3 * len(rows):,}) call ({t_one_shot:.3f} s)")
    print(f"placement / RNG ceiling: {t_ceiling / t_place:.0%} (block by block), "
          f"{t_one_shot / t_place:.0%} (one call); target >= 20%")
    print(f"end: {_load()}")


if __name__ == "__main__":
    main()
