"""Phase trace of one streamed run, for ``bench_scale.py --profile``.

:func:`traced_run` wraps the streamed driver's steps (looked up at call time, so wrapping the
module's names is enough) and returns, per phase, its wall time, the CPU time of every thread of
the process during it, and the CPU time spent inside each step summed over threads. It also
measures the run's two limits in the same process: the random-number ceiling (the uniform draws
placement needs, ``UNIFORMS_PER_MOLECULE`` a molecule, at ``rng.random``'s speed) and a plain
``pyarrow.parquet.write_table`` of the same final molecule tables; and the two terms of the peak
memory: the cell store (grows with cells) and the rest (should not grow with molecules). A
thread samples the resident memory (``/proc/self/statm``, every :data:`RSS_EVERY` seconds) so
each phase and each step also gets the largest RSS seen while it ran: where the peak comes from.
"""

from __future__ import annotations

import functools
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Uniform draws per molecule that placement consumes (angle, radius, z).
UNIFORMS_PER_MOLECULE = 3

#: The main phases, in run order: what marks each one's end. The cell blocks draw the
#: background tiles they own, so the background has no phase of its own.
PHASES = ("genes", "tissue", "cell blocks", "closing")

#: Seconds between two samples of the resident memory.
RSS_EVERY = 0.05


class _RssSampler:
    """A thread reading this process's resident memory every :data:`RSS_EVERY` seconds."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.rss: list[int] = []
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with open("/proc/self/statm") as statm:
            while not self._stop.is_set():
                statm.seek(0)
                self.rss.append(int(statm.read().split()[1]) * self._page)
                self.times.append(time.perf_counter())
                self._stop.wait(RSS_EVERY)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, spans: list[tuple[float, float]]) -> int:
        """The largest sample within any of ``spans`` (the sample just before each too: it held then)."""
        times, rss = np.asarray(self.times), np.asarray(self.rss)
        best = 0
        for t0, t1 in spans:
            lo, hi = max(int(np.searchsorted(times, t0)) - 1, 0), int(np.searchsorted(times, t1, side="right"))
            if hi > lo:
                best = max(best, int(rss[lo:hi].max()))
        return best


class _Clock:
    """Time stamps of the phase boundaries and CPU sums of the wrapped steps."""

    def __init__(self) -> None:
        self.marks: dict[str, tuple[float, float]] = {}
        self.steps: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.spans: dict[str, list[tuple[float, float]]] = {}

    def mark(self, name: str) -> None:
        if name not in self.marks:
            self.marks[name] = (time.perf_counter(), time.process_time())

    def step(self, name: str, func: Any) -> Any:  # noqa: ANN401
        @functools.wraps(func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            t0, w0 = time.thread_time(), time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                # Dict updates of floats under the GIL: good enough for a benchmark's sums.
                self.steps[name] = self.steps.get(name, 0.0) + time.thread_time() - t0
                self.calls[name] = self.calls.get(name, 0) + 1
                self.spans.setdefault(name, []).append((w0, time.perf_counter()))

        return wrapped


def _store_bytes(store: Any) -> int:  # noqa: ANN401
    frame_bytes = int(store.frame.memory_usage(deep=True).sum())
    arrays = (
        store.cells.coords,
        store.cells.start,
        store.nuclei.coords,
        store.nuclei.start,
        store.cell_bounds,
        store.nucleus_centroid,
        store.nucleus_centre,
    )
    return frame_bytes + sum(a.nbytes for a in arrays) + store.box_tree.n * 2 * 8 * 3  # the tree: data + index


def traced_run(
    config: Any, out: Path, *, client: Any = None, images: bool = False, write_limit: bool = True  # noqa: ANN401
) -> dict[str, Any]:
    """Run :func:`simulate_to_xenium` with its phases traced; return the trace and the limits.

    ``write_limit=False`` skips the plain pyarrow write (minutes at 10⁸ molecules); its
    multiples are then printed as ``nan``.
    """
    import pyarrow.parquet as pq

    import STpuppeteer.pipeline.streamed as streamed
    from STpuppeteer.io.xenium import XeniumBundle, XeniumStream
    from STpuppeteer.stages.counts import PriorCountModel, ProgramCountModel

    clock = _Clock()
    seen: dict[str, Any] = {}
    originals = {
        name: getattr(streamed, name)
        for name in (
            "generate_gene_parameters",
            "block_background",
            "_local_context",
            "cell_block_molecules",
            "long_counts",
            "locate_part",
            "_block_task",
        )
    }
    generate = streamed.CellStore.generate.__func__
    rows, append, close = streamed._Shared.rows, XeniumStream.append, XeniumStream.close
    encode = streamed._Shared.encode
    # Each count model draws its blocks with its own method.
    count_blocks = {model: model.block for model in (PriorCountModel, ProgramCountModel)}
    closing_steps = {
        "closing: count matrix + cell totals": "write_feature_matrix",
        "closing: cells.parquet": "write_cells_table",
        "closing: boundaries (thread)": "write_boundaries",
    }
    bundle_methods = {method: getattr(XeniumBundle, method) for method in closing_steps.values()}

    def genes(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        out = originals["generate_gene_parameters"](*args, **kwargs)
        clock.mark("genes")
        return out

    def cells(cls: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        store = generate(cls, *args, **kwargs)
        clock.mark("tissue")
        seen["store"] = store
        return store

    def closing(self: Any) -> None:  # noqa: ANN401
        clock.mark("cell blocks")
        close(self)

    patches = {
        "generate_gene_parameters": genes,
        "block_background": clock.step("blocks: background draw", originals["block_background"]),
        "_local_context": clock.step("blocks: cell geometry", originals["_local_context"]),
        "cell_block_molecules": clock.step("blocks: molecules", originals["cell_block_molecules"]),
        "long_counts": clock.step("blocks: true counts", originals["long_counts"]),
        "locate_part": clock.step("blocks: background locate", originals["locate_part"]),
        "_block_task": clock.step("blocks: all", originals["_block_task"]),
        "write_ground_truth_files": clock.step("closing: ground truth cells (thread)",
                                               streamed.write_ground_truth_files),
    }
    originals["write_ground_truth_files"] = streamed.write_ground_truth_files
    try:
        for name, func in patches.items():
            setattr(streamed, name, func)
        streamed.CellStore.generate = classmethod(cells)
        for model, block in count_blocks.items():
            model.block = clock.step("blocks: counts", block)
        streamed._Shared.rows = clock.step("tabulate (nearest nucleus, tables)", rows)
        streamed._Shared.encode = clock.step("blocks: encode (waits on 3 encoders)", encode)
        XeniumStream.append = clock.step("writer: place row groups (ids, copy)", append)
        XeniumStream.close = closing
        for name, method in closing_steps.items():
            setattr(XeniumBundle, method, clock.step(name, bundle_methods[method]))
        with _RssSampler() as sampler:
            clock.mark("start")
            streamed.simulate_to_xenium(config, out, client=client, images=images)
            clock.mark("closing")
    finally:
        for method, func in bundle_methods.items():
            setattr(XeniumBundle, method, func)
        for name, func in originals.items():
            setattr(streamed, name, func)
        streamed.CellStore.generate = classmethod(generate)
        for model, block in count_blocks.items():
            model.block = block
        streamed._Shared.rows, XeniumStream.append, XeniumStream.close = rows, append, close
        streamed._Shared.encode = encode
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    n_molecules = pq.ParquetFile(out / "transcripts.parquet").metadata.num_rows
    # Limit 1: the uniforms placement consumes, drawn a million at a time (best of three).
    rng = np.random.default_rng(0)

    def draw() -> float:
        t = time.perf_counter()
        for lo in range(0, UNIFORMS_PER_MOLECULE * n_molecules, 1_000_000):
            rng.random(min(1_000_000, UNIFORMS_PER_MOLECULE * n_molecules - lo))
        return time.perf_counter() - t

    rng_seconds = min(draw() for _ in range(3))
    # Limit 2: pyarrow writing the same final molecule tables with its defaults, a row group at a
    # time (a whole 10^6-cell table read at once took over 20 GB: its strings decoded).
    write_seconds = 0.0 if write_limit else float("nan")
    for name in ("transcripts.parquet", "ground_truth/molecules.parquet") if write_limit else ():
        source = pq.ParquetFile(out / name)
        writer = None
        for g in range(source.num_row_groups):
            table = source.read_row_group(g)
            t = time.perf_counter()
            writer = writer or pq.ParquetWriter(out.parent / "plain.parquet", table.schema)
            writer.write_table(table)
            write_seconds += time.perf_counter() - t
            del table
        if writer is not None:
            t = time.perf_counter()
            writer.close()
            write_seconds += time.perf_counter() - t
        (out.parent / "plain.parquet").unlink(missing_ok=True)

    names = ("start", *PHASES)
    phases = {}
    for before, name in zip(names, names[1:], strict=False):
        (w0, c0), (w1, c1) = clock.marks[before], clock.marks.get(name, clock.marks["closing"])
        phases[name] = {"wall": w1 - w0, "cpu": c1 - c0, "peak": sampler.peak([(w0, w1)])}
    step_peaks = {name: sampler.peak(spans) for name, spans in clock.spans.items()}
    return {
        "n_molecules": n_molecules,
        "phases": phases,
        "steps": clock.steps,
        "calls": clock.calls,
        "step_peaks": step_peaks,
        "rng_seconds": rng_seconds,
        "write_seconds": write_seconds,
        "peak_bytes": peak,
        "store_bytes": _store_bytes(seen["store"]),
    }


def print_trace(n_cells: int, trace: dict[str, Any]) -> None:
    """Print the phase table, the two limits and the memory terms of one traced run."""
    rng_s, write_s = trace["rng_seconds"], trace["write_seconds"]
    total_wall = sum(p["wall"] for p in trace["phases"].values())
    total_cpu = sum(p["cpu"] for p in trace["phases"].values())
    print(f"\n{n_cells:,} cells, {trace['n_molecules']:,} molecules: wall {total_wall:.1f} s, CPU {total_cpu:.1f} s")
    print(
        f"limits: RNG {rng_s:.3f} s ({UNIFORMS_PER_MOLECULE} uniforms a molecule), "
        f"plain pyarrow write of the molecule tables {write_s:.2f} s"
    )
    print(f"{'phase':<40} {'wall s':>7} {'CPU s':>7} {'x RNG':>7} {'x write':>7} {'peak GB':>7}")
    for name, p in trace["phases"].items():
        print(f"{name:<40} {p['wall']:>7.2f} {p['cpu']:>7.2f} {p['wall'] / rng_s:>7.1f} {p['wall'] / write_s:>7.1f} "
              f"{p['peak'] / 1e9:>7.2f}")
    steps = "steps (CPU summed over threads)"
    print(f"{steps:<40} {'calls':>7} {'CPU s':>7} {'x RNG':>7} {'x write':>7} {'peak GB':>7}")
    for name, cpu in sorted(trace["steps"].items()):
        print(f"  {name:<38} {trace['calls'][name]:>7} {cpu:>7.2f} {cpu / rng_s:>7.1f} {cpu / write_s:>7.1f} "
              f"{trace['step_peaks'][name] / 1e9:>7.2f}")
    peak, cells = trace["peak_bytes"], trace["store_bytes"]
    print(
        f"peak RSS {peak / 1e9:.2f} GB = cells term {cells / 1e9:.3f} GB ({cells / n_cells:,.0f} B a cell, "
        f"the cell store) + the rest {(peak - cells) / 1e9:.2f} GB "
        f"({(peak - cells) / max(trace['n_molecules'], 1):.1f} B a molecule if it grew with them)"
    )
