"""Time and size of every output format: a 3,000-cell run written as Xenium, MERSCOPE, CosMx, SpatialData, h5ad.

Usage::

    python benchmarks/bench_outputs.py [--n-cells 3000] [--preset xenium] [--seed 0] [--out DIR] [--repeat 1]

Runs the stages and writes the five formats as ``stpuppeteer simulate`` does (the run's ground
truth once, then each format), and prints the seconds of each stage and writer (wall and CPU)
and the megabytes of each format on disk, against the targets of issue 19: all five formats of
3,000 cells in at most 300 MB and 15 s on 2 cores. A first, untimed small run compiles the numba
kernels (their cache lives beside the sources), so that no writer is charged for compiling.
The load average is printed next to the timings: on a shared machine wall time includes
waiting for the CPU, and CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path

from STpuppeteer.cli.simulate import FORMAT_PATHS, run_stages
from STpuppeteer.config import preset_config
from STpuppeteer.io.ground_truth import write_ground_truth
from STpuppeteer.summary import disk_bytes

TARGET_SECONDS = 15.0
TARGET_MB = 300.0


def _load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _timed(fn, name: str, wall: dict[str, float], cpu: dict[str, float]):  # noqa: ANN202
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall[name], cpu[name] = time.perf_counter() - t0, time.process_time() - c0
    return out


def _run(n_cells: int, preset: str, seed: int, out: Path) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """Seconds (wall) and CPU seconds of each stage and writer, and bytes of each format and the truth."""
    config = preset_config(preset, seed=seed, n_cells=n_cells)
    wall, cpu = {}, {}
    result, stage_seconds = _timed(lambda: run_stages(config, progress=False), "stages", wall, cpu)
    wall |= {f"  {name}": s for name, s in stage_seconds.items()}
    # As the CLI writes them: the truth once, the bundles without it.
    writers = {
        "ground_truth": partial(write_ground_truth, result),
        "xenium": partial(result.write_xenium, ground_truth=False),
        "merscope": partial(result.write_merscope, ground_truth=False),
        "cosmx": partial(result.write_cosmx, ground_truth=False),
        "spatialdata": result.write_spatialdata,
        "h5ad": result.write_h5ad,
    }
    out.mkdir(parents=True)
    sizes: dict[str, int] = {}
    for name, writer in writers.items():
        target = out / (name if name == "ground_truth" else FORMAT_PATHS[name])
        _timed(partial(writer, out if name == "ground_truth" else target), f"write {name}", wall, cpu)
        sizes[name] = disk_bytes(target)
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return wall, cpu, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=3_000)
    parser.add_argument("--preset", default="xenium")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="scratch folder, created with its parents if missing (default: the system temp)")
    args = parser.parse_args()

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench_outputs_", dir=args.out))
    try:
        _run(300, args.preset, args.seed, scratch / "warm-up")  # compiles (or loads) the numba kernels
        print(f"start: {_load()}  ({os.cpu_count()} CPUs)")
        wall, cpu, sizes = _run(args.n_cells, args.preset, args.seed, scratch / "run")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n{args.n_cells:,} cells, preset {args.preset}, seed {args.seed}")
    print(f"{'step':<22}{'wall s':>9}{'CPU s':>9}")
    for name, seconds in wall.items():
        print(f"{name:<22}{seconds:>9.1f}{cpu[name]:>9.1f}" if name in cpu else f"{name:<22}{seconds:>9.1f}")
    total = sum(s for name, s in wall.items() if not name.startswith(" "))
    total_cpu = sum(cpu.values())
    print(f"{'total':<22}{total:>9.1f}{total_cpu:>9.1f}   target ≤ {TARGET_SECONDS:g} s wall on 2 cores")
    print(f"\n{'format':<22}{'MB':>9}")
    for name, n_bytes in sizes.items():
        print(f"{name:<22}{n_bytes / 1e6:>9.1f}")
    total_mb = sum(sizes.values()) / 1e6
    print(f"{'total':<22}{total_mb:>9.1f}   target ≤ {TARGET_MB:g} MB")
    print(f"end: {_load()}")


if __name__ == "__main__":
    main()
