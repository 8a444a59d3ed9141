"""Benchmark of stage 2 (tissue): cells per second and peak memory of ``generate_cells``.

Each size runs in a fresh Python process (so peak RSS is that size's alone), with BLAS
threads pinned to one. Usage::

    python benchmarks/bench_cells.py                 # 100k and 1M cells
    python benchmarks/bench_cells.py 10000 100000 --pattern domains
    python benchmarks/bench_cells.py 100000 --elongated   # two of the five types long (stretched cells)

Targets (issue 3): 100k cells ≤ 10 s, 1M cells ≤ 2 min, peak ≤ 4 GB, on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

# --elongated: length/width of two of the five types (the stretched cells of docs/model_tissue.md §4a).
ELONGATED = {"ct_1": {"cell_elongation": 3.0}, "ct_3": {"cell_elongation": 2.5}}


def _one(n_cells: int, pattern: str, seed: int, *, elongated: bool) -> dict[str, float]:
    from STpuppeteer._random import stage_rng
    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.stages.tissue import generate_cells

    morphology = {"celltype_shapes": ELONGATED} if elongated else {}
    config = SimulationConfig(
        seed=seed, n_cells=n_cells, n_celltype=5, tissue={"pattern": pattern}, morphology=morphology
    )
    start, cpu = time.perf_counter(), time.process_time()
    cell_gdf = generate_cells(config, stage_rng(seed, "cells"))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "n_cells": n_cells,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "cells_per_s": n_cells / seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,  # KiB on Linux
        "median_cell_area": float(cell_gdf["cell_area"].median()),
        "mean_nucleus_area": float(cell_gdf["nucleus_area"].mean()),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one row per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--pattern", default="domains", choices=["mixed", "domains", "layers"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--elongated", action="store_true", help="make two of the five types long (3 and 2.5)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_one(args.sizes[0], args.pattern, args.seed, elongated=args.elongated)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    print(f"generate_cells, pattern={args.pattern}, seed={args.seed}, elongated={args.elongated}")
    columns = ("n_cells", "seconds", "CPU s", "cells/s", "peak RSS GB", "median cell µm²", "mean nucleus µm²")
    widths = (10, 9, 9, 10, 12, 16, 17)
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for n in args.sizes:
        cmd = [sys.executable, __file__, str(n), "--pattern", args.pattern, "--seed", str(args.seed), "--child"]
        cmd += ["--elongated"] if args.elongated else []
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{row['n_cells']:>10,} {row['seconds']:>9.1f} {row['cpu_seconds']:>9.1f} {row['cells_per_s']:>10,.0f}"
            f" {row['peak_rss_gb']:>12.2f}"
            f" {row['median_cell_area']:>16.0f} {row['mean_nucleus_area']:>17.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
