"""Slide scale: a whole simulation streamed into a Xenium bundle, 10^3 … 10^6 cells.

Usage::

    python benchmarks/bench_scale.py [--sizes 1000,10000,100000] [--preset xenium|default] [--workers N]
                                     [--images] [--expression-scale X] [--timeout 600] [--profile]
                                     [--no-write-limit]

Each size runs in its own process (so its peak RSS is its own) through
:func:`STpuppeteer.pipeline.streamed.simulate_to_xenium`, and prints one row: cells/s,
molecules/s, the tissue's share of the time, peak RSS, the bundle's size, the random-number
ceiling (``rng.random`` drawing the 3 uniforms per molecule that placement consumes, in the
same process, block by block) and the run's speed as a fraction of it, and the load average
(the machine may be shared). The last line fits time ∝ cells^k over the sizes run. A small
unreported run goes first: it compiles the numba kernels into their on-disk cache, which every
later run (and every later use of the package) loads instead of compiling again.
With ``--profile`` each size also prints its phase table (``_phases.py``): each phase's wall and
CPU time and the CPU of each step summed over threads, as multiples of two limits measured in
the same process: the random-number ceiling and a plain ``pyarrow`` write of the same final
molecule tables; and the peak memory as the cell store's term (grows with cells) plus the rest.
Targets (2-core machine): 10^6 cells in ≤ 5 minutes with ≤ 4 GB peak RSS, k ≈ 1.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _child(
    n_cells: int,
    preset: str,
    *,
    workers: int | None,
    images: bool,
    seed: int,
    expression_scale: float | None,
    profile: bool = False,
    write_limit: bool = True,
) -> dict[str, float]:
    from STpuppeteer._parallel import dask_client
    from STpuppeteer.config import preset_config
    from STpuppeteer.pipeline.cell_store import CellStore
    from STpuppeteer.pipeline.streamed import simulate_to_xenium

    if preset == "default":
        from STpuppeteer import SimulationConfig

        config = SimulationConfig(seed=seed, n_cells=n_cells)
    else:
        config = preset_config(preset, seed=seed, n_cells=n_cells)
    if expression_scale is not None:
        config = config.model_copy(update={"expression_scale": expression_scale})
    if profile:
        sys.path.insert(0, str(Path(__file__).parent))
        from _phases import traced_run

        out = Path(tempfile.mkdtemp(prefix="bench_scale_")) / "bundle"
        load0 = os.getloadavg()[0]
        try:
            with dask_client(workers=workers) as client:
                trace = traced_run(config, out, client=client, images=images, write_limit=write_limit)
            size_gb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e9
        finally:
            shutil.rmtree(out.parent, ignore_errors=True)
        seconds = sum(p["wall"] for p in trace["phases"].values())
        return {
            "n_cells": n_cells,
            "n_molecules": trace["n_molecules"],
            "seconds": seconds,
            "tissue_seconds": trace["phases"]["tissue"]["wall"],
            "peak_rss_gb": trace["peak_bytes"] / 1e9,
            "bundle_gb": size_gb,
            "rng_seconds": trace["rng_seconds"],
            "load_start": load0,
            "load_end": os.getloadavg()[0],
            "trace": trace,
        }
    spent: dict[str, float] = {}
    generate = CellStore.generate.__func__

    def timed_cells(cls, *args, **kwargs):  # noqa: ANN001, ANN202
        t0 = time.perf_counter()
        out = generate(cls, *args, **kwargs)
        spent["tissue"] = time.perf_counter() - t0
        return out

    CellStore.generate = classmethod(timed_cells)  # simulate_to_xenium looks it up at call time
    out = Path(tempfile.mkdtemp(prefix="bench_scale_")) / "bundle"
    load0 = os.getloadavg()[0]
    try:
        with dask_client(workers=workers) as client:
            t0 = time.perf_counter()
            simulate_to_xenium(config, out, client=client, images=images)
            seconds = time.perf_counter() - t0
        import pyarrow.parquet as pq

        n_molecules = pq.ParquetFile(out / "transcripts.parquet").metadata.num_rows
        size_gb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e9
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    # The ceiling: the uniforms placement needs (3 per molecule), drawn block by block as
    # the run draws them, best of three.
    rng = np.random.default_rng(seed)
    block = 1_000_000

    def ceiling() -> float:
        t = time.perf_counter()
        for lo in range(0, 3 * n_molecules, block):
            rng.random(min(block, 3 * n_molecules - lo))
        return time.perf_counter() - t

    rng_seconds = min(ceiling() for _ in range(3))
    return {
        "n_cells": n_cells,
        "n_molecules": n_molecules,
        "seconds": seconds,
        "tissue_seconds": spent.get("tissue", float("nan")),
        "peak_rss_gb": peak_gb,
        "bundle_gb": size_gb,
        "rng_seconds": rng_seconds,
        "load_start": load0,
        "load_end": os.getloadavg()[0],
    }


def _run_size(n: int, args: argparse.Namespace) -> dict[str, float] | str:
    cmd = [sys.executable, __file__, "--child", str(n), "--preset", args.preset, "--seed", str(args.seed)]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    if args.images:
        cmd.append("--images")
    if args.expression_scale is not None:
        cmd += ["--expression-scale", str(args.expression_scale)]
    if args.profile:
        cmd.append("--profile")
    if args.no_write_limit:
        cmd.append("--no-write-limit")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"timed out after {args.timeout} s"
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated numbers of cells")
    parser.add_argument("--preset", default="xenium", help="a platform preset, or 'default' (the default config)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="run the blocks on a local Dask cluster")
    parser.add_argument("--images", action="store_true", help="also write the morphology image and masks")
    parser.add_argument(
        "--expression-scale",
        type=float,
        default=None,
        help="override the preset's expression_scale (Xenium: 4.9; 2.4 gives ~200 molecules a cell)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per size")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print each size's phase table against the two limits, and its memory terms",
    )
    parser.add_argument(
        "--no-write-limit",
        action="store_true",
        help="with --profile, skip the plain pyarrow write of the molecule tables (minutes at 10^8 molecules)",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(
            json.dumps(
                _child(
                    args.child,
                    args.preset,
                    workers=args.workers,
                    images=args.images,
                    seed=args.seed,
                    expression_scale=args.expression_scale,
                    profile=args.profile,
                    write_limit=not args.no_write_limit,
                )
            )
        )
        return

    scale = "" if args.expression_scale is None else f", expression_scale {args.expression_scale}"
    print(
        f"preset {args.preset}{scale}, {os.cpu_count()} CPUs, workers: {args.workers or 'in-process threads'}, "
        f"images: {args.images}"
    )
    header = (
        f"{'cells':>9} {'molecules':>12} {'time s':>8} {'tissue %':>8} {'cells/s':>9} {'Mmol/s':>7} "
        f"{'peak GB':>7} {'bundle GB':>9} {'RNG Mmol/s':>10} {'vs RNG':>6} {'load':>9}"
    )
    print(header)
    warm_up = _run_size(200, args)
    if isinstance(warm_up, str):
        print(f"warm-up run {warm_up}")
    rows, traces = [], []
    for n in (int(s) for s in args.sizes.split(",")):
        row = _run_size(n, args)
        if isinstance(row, str):
            print(f"{n:>9,} {row}")
            continue
        rows.append(row)
        if "trace" in row:
            traces.append((n, row.pop("trace")))
        t = row["seconds"]
        print(
            f"{n:>9,} {row['n_molecules']:>12,} {t:>8.1f} {100 * row['tissue_seconds'] / t:>8.0f} "
            f"{n / t:>9,.0f} {row['n_molecules'] / t / 1e6:>7.2f} {row['peak_rss_gb']:>7.2f} "
            f"{row['bundle_gb']:>9.2f} {row['n_molecules'] / row['rng_seconds'] / 1e6:>10.1f} "
            f"{row['rng_seconds'] / t:>6.1%} {row['load_start']:>4.1f}/{row['load_end']:<4.1f}",
            flush=True,
        )
    if len(rows) >= 2:
        n = np.log([r["n_cells"] for r in rows])
        t = np.log([r["seconds"] for r in rows])
        k = np.polyfit(n, t, 1)[0]
        big = [r for r in rows if r["n_cells"] >= 10_000]
        k_big = (
            np.polyfit(np.log([r["n_cells"] for r in big]), np.log([r["seconds"] for r in big]), 1)[0]
            if len(big) >= 2
            else float("nan")
        )
        print(f"time ∝ cells^k: k = {k:.2f} over all sizes, {k_big:.2f} from 10^4 cells on (1 = linear in area)")
    if traces:
        sys.path.insert(0, str(Path(__file__).parent))
        from _phases import print_trace

        for n, trace in traces:
            print_trace(n, trace)


if __name__ == "__main__":
    main()
