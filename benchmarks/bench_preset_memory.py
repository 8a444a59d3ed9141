"""Peak memory and time of one CLI run of a preset: the 5,000-gene check of ``docs/presets.md``.

Usage::

    python benchmarks/bench_preset_memory.py [--preset xenium_prime_5k] [--n-cells 100000]
                                             [--stream] [--format h5ad] [--timeline 5]

Runs ``stpuppeteer simulate`` in a child process (so the peak RSS is the run's own) into a
temporary folder and prints wall and CPU seconds (the child's user + system time), the
child's peak RSS, the molecules written (``transcripts.parquet``'s rows), the output's size
and the load average at start and end (the machine may be shared). ``--timeline S`` also
prints the child's resident memory every ``S`` seconds (read from ``/proc``, Linux only), to
see when the peak comes. In memory, the CLI first estimates the run's memory and refuses a run
that would not fit the machine (exit status 2, the estimate in the message); ``--stream``
writes a Xenium bundle block by block. A 200-cell run goes first, unreported: it compiles the
numba kernels into their on-disk cache. Not a test: it takes minutes at 10⁵ cells.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_bytes(pid: int) -> int:
    """Resident memory of a live process (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _run(command: list[str], *, every: float) -> tuple[int, float, list[tuple[float, int]], str]:
    """Run ``command``; return its exit status, wall seconds, (seconds, RSS) samples and its stderr."""
    samples: list[tuple[float, int]] = []
    with tempfile.TemporaryFile(mode="w+") as err:
        t0 = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, text=True)
        while child.poll() is None:
            samples.append((time.perf_counter() - t0, _rss_bytes(child.pid)))
            time.sleep(every)
        seconds = time.perf_counter() - t0
        err.seek(0)
        return child.returncode, seconds, samples, err.read()


def _command(preset: str, n_cells: int, fmt: str, out: Path, *, stream: bool) -> list[str]:
    command = [sys.executable, "-m", "STpuppeteer", "simulate", "--preset", preset, "--n-cells", str(n_cells),
               "--format", fmt, "--quiet", "--out", str(out)]
    return [*command, "--stream"] if stream else command


def main() -> None:
    """Run once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="xenium_prime_5k")
    parser.add_argument("--n-cells", type=int, default=100_000)
    parser.add_argument("--format", default="h5ad")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--timeline", type=float, default=None, help="print the child's RSS every this many seconds")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_preset_memory_"))
    fmt = "xenium" if args.stream else args.format
    try:
        # Compile the numba kernels first (cached on disk), so the measured run does not.
        subprocess.run(_command(args.preset, 200, fmt, folder / "warm", stream=args.stream), capture_output=True,
                       check=False)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load0 = os.getloadavg()[0]
        out = folder / "run"
        status, seconds, samples, stderr = _run(_command(args.preset, args.n_cells, fmt, out, stream=args.stream),
                                                every=min(args.timeline or 0.5, 0.5))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        load1 = os.getloadavg()[0]
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # ru_maxrss of the children is the largest of any child's: the measured run is the larger.
        peak_gb = max(after.ru_maxrss * 1024, max((r for _, r in samples), default=0)) / 1e9  # KiB on Linux
        size_gb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e9 if out.exists() else 0.0
        n_molecules = _molecules(out, stream=args.stream)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    mode = "streamed xenium" if args.stream else f"in memory, {fmt}"
    molecules = f"{n_molecules:,} molecules" if n_molecules is not None else "molecules not counted"
    print(
        f"{args.preset}, {args.n_cells:,} cells, {mode}: exit {status}, wall {seconds:.0f} s, CPU {cpu:.0f} s, "
        f"peak RSS {peak_gb:.2f} GB, {molecules}, output {size_gb:.2f} GB, load {load0:.1f}/{load1:.1f}"
    )
    if args.timeline:
        step = args.timeline
        shown = [s for i, s in enumerate(samples) if i == 0 or int(s[0] / step) > int(samples[i - 1][0] / step)]
        print("RSS timeline (s: GB): " + ", ".join(f"{t:.0f}: {r / 1e9:.2f}" for t, r in shown))
    if status:
        print(stderr.strip().splitlines()[-1] if stderr.strip() else "(no message)")


def _molecules(out: Path, *, stream: bool) -> int | None:
    """Rows of the run's ``transcripts.parquet`` (the streamed bundle's), if there is one."""
    path = out / "transcripts.parquet" if stream else out / "xenium" / "transcripts.parquet"
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


if __name__ == "__main__":
    main()
