"""Time and size of every output format: a 3,000-cell run written as Xenium, MERSCOPE, CosMx, SpatialData, h5ad.

Usage::

    python benchmarks/bench_outputs.py [--n-cells 3000] [--preset xenium] [--seed 0] [--out DIR] [--threads N]

Runs the stages and writes the run exactly as ``stpuppeteer simulate --format
xenium,merscope,cosmx,spatialdata,h5ad`` does, through the same two functions
(``run_stages``, ``write_outputs``: the config, the ground truth once, the five formats side by
side on threads, the manifest). It prints the wall and CPU seconds of the stages and of the
writing, each writer's own wall seconds (overlapping when they run at once), and the megabytes
of the truth and each format on disk, against the targets of issue 19: all five formats of
3,000 cells in at most 300 MB and 15 s on 2 cores. ``--threads 1`` writes one output after
another, which gives each writer's time alone. A first, untimed small run compiles the numba
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
from pathlib import Path

from STpuppeteer.cli._writing import WRITE_ORDER, writer_threads
from STpuppeteer.cli.simulate import FORMATS, run_stages, write_outputs
from STpuppeteer.config import preset_config

TARGET_SECONDS = 15.0
TARGET_MB = 300.0


def _load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _run(
    n_cells: int, preset: str, seed: int, out: Path, *, threads: int | None
) -> tuple[dict[str, tuple[float, float | None]], dict[str, int], int]:
    """Wall and CPU seconds of the stages and the writing (each writer's wall), bytes per output, threads used."""
    config = preset_config(preset, seed=seed, n_cells=n_cells)
    times: dict[str, tuple[float, float | None]] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    result, stage_seconds = run_stages(config, progress=False)
    times["stages"] = (time.perf_counter() - t0, time.process_time() - c0)
    times |= {f"  {name}": (s, None) for name, s in stage_seconds.items()}
    threads = writer_threads(config, list(WRITE_ORDER)) if threads is None else threads
    t0, c0 = time.perf_counter(), time.process_time()
    _, write_seconds, sizes = write_outputs(result, out, list(FORMATS), progress=False, threads=threads)
    times[f"writing, {threads} at once"] = (time.perf_counter() - t0, time.process_time() - c0)
    times |= {f"  {name}": (s, None) for name, s in write_seconds.items()}
    shutil.rmtree(out)
    return times, sizes, threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=3_000)
    parser.add_argument("--preset", default="xenium")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="scratch folder, created with its parents if missing (default: the system temp)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="writers at once (default: as stpuppeteer simulate chooses)"
    )
    args = parser.parse_args()

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench_outputs_", dir=args.out))
    try:
        _run(300, args.preset, args.seed, scratch / "warm-up", threads=1)  # compiles (or loads) the numba kernels
        print(f"start: {_load()}  ({os.cpu_count()} CPUs)")
        times, sizes, threads = _run(args.n_cells, args.preset, args.seed, scratch / "run", threads=args.threads)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n{args.n_cells:,} cells, preset {args.preset}, seed {args.seed}, {threads} writer thread(s)")
    print(f"{'step':<26}{'wall s':>9}{'CPU s':>9}")
    for name, (wall, cpu) in times.items():
        print(f"{name:<26}{wall:>9.1f}" + (f"{cpu:>9.1f}" if cpu is not None else ""))
    total = sum(wall for name, (wall, _) in times.items() if not name.startswith(" "))
    total_cpu = sum(cpu for cpu in (c for _, c in times.values()) if cpu is not None)
    print(f"{'total':<26}{total:>9.1f}{total_cpu:>9.1f}   target ≤ {TARGET_SECONDS:g} s wall on 2 cores")
    print(f"\n{'output':<26}{'MB':>9}")
    for name, n_bytes in sizes.items():
        print(f"{name:<26}{n_bytes / 1e6:>9.1f}")
    total_mb = sum(sizes.values()) / 1e6
    print(f"{'total':<26}{total_mb:>9.1f}   target ≤ {TARGET_MB:g} MB")
    print(f"end: {_load()}")


if __name__ == "__main__":
    main()
