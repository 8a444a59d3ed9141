"""Peak memory and time of one CLI run of a preset: the 5,000-gene check of ``docs/presets.md``.

Usage::

    python benchmarks/bench_preset_memory.py [--preset xenium_prime_5k] [--n-cells 100000]
                                             [--stream] [--format h5ad]

Runs ``stpuppeteer simulate`` in a child process (so the peak RSS is the run's own) into a
temporary folder and prints wall time, the child's peak RSS and the output's size. In memory,
the CLI first estimates the run's memory and refuses a run that would not fit the machine
(exit status 2, the estimate in the message); ``--stream`` writes a Xenium bundle block by
block. Not a test: it takes minutes at 10⁵ cells.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Run once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="xenium_prime_5k")
    parser.add_argument("--n-cells", type=int, default=100_000)
    parser.add_argument("--format", default="h5ad")
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_preset_memory_"))
    out = folder / "run"
    fmt = "xenium" if args.stream else args.format
    command = [
        sys.executable,
        "-m",
        "STpuppeteer",
        "simulate",
        "--preset",
        args.preset,
        "--n-cells",
        str(args.n_cells),
        "--format",
        fmt,
        "--quiet",
        "--out",
        str(out),
    ]
    if args.stream:
        command.append("--stream")
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # kB on Linux
    size_gb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e9 if out.exists() else 0.0
    shutil.rmtree(folder, ignore_errors=True)
    mode = "streamed xenium" if args.stream else f"in memory, {fmt}"
    print(
        f"{args.preset}, {args.n_cells:,} cells, {mode}: exit {done.returncode}, {seconds:.0f} s, "
        f"peak RSS {peak_gb:.2f} GB, output {size_gb:.2f} GB"
    )
    if done.returncode:
        print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "(no message)")


if __name__ == "__main__":
    main()
