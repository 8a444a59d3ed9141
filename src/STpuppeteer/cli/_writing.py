"""The writers of a run side by side: how many at once, and running them on threads.

Once the stages have run, the writers only read the result, and each draws its images from
its own keyed generator (``SimulationResult.stage_rng``), so the order they run in, or
running them at once, changes no byte. Their heavy parts release the GIL (the rasteriser is
compiled with ``nogil``; SciPy's filters, the TIFF, Parquet, CSV and Zarr encoders and NumPy's
large loops run outside it), so threads share the cores without copying the result.

Writers that run together hold their images together. :func:`writer_threads` estimates each
writer's peak from its rasters (bytes per pixel measured on a 3,000-cell run of the Xenium
preset) and runs as many at once as the cores allow while the largest of them fit, beside the
result, in this machine's memory; otherwise one at a time, as before.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from STpuppeteer.cli._progress import Steps
    from STpuppeteer.config import SimulationConfig

__all__ = ["WRITE_ORDER", "run_writers", "writer_peak_bytes", "writer_threads"]

#: The writers, longest first (a 3,000-cell run of the Xenium preset), so that the longest starts at
#: once and the short ones fill the other threads.
WRITE_ORDER = ("xenium", "cosmx", "spatialdata", "merscope", "ground_truth", "h5ad")

# Peak memory of each image writer above the result, bytes per pixel of its raster (resident set
# measured on 3,000 cells of the Xenium preset: Xenium's four stains +960 MB for 30 Mpx, SpatialData
# +635 MB for 7.5 Mpx with its points and table, MERSCOPE +280 MB for 7.3 Mpx, CosMx +440 MB for one
# 4256 × 4256 field of view at a time).
_BYTES_PER_PIXEL = {"xenium": 32.0, "spatialdata": 85.0, "merscope": 40.0, "cosmx": 25.0}


def writer_peak_bytes(config: SimulationConfig, name: str) -> float:
    """Estimated peak memory of one writer above the result it reads, bytes (0 for the tables-only ones).

    Examples
    --------
    >>> from STpuppeteer.config import preset_config
    >>> round(writer_peak_bytes(preset_config("xenium", n_cells=3000), "xenium") / 1e9, 1)
    1.0
    """
    from STpuppeteer.config.budget import raster_pixels
    from STpuppeteer.io._cosmx_constants import FOV_SIZE_PX

    images = config.images
    pixels = {
        "xenium": lambda: raster_pixels(config, pixel_size=images.xenium_pixel_size_um),
        "spatialdata": lambda: raster_pixels(config, pixel_size=images.spatialdata_pixel_size_um),
        "merscope": lambda: raster_pixels(config, pixel_size=images.merscope_pixel_size_um),
        "cosmx": lambda: float(FOV_SIZE_PX) ** 2,
    }
    return _BYTES_PER_PIXEL[name] * pixels[name]() if name in pixels else 0.0


def writer_threads(config: SimulationConfig, names: list[str], *, available_bytes: float | None = None) -> int:
    """How many of the writers ``names`` run at once: the cores, while the largest together fit in memory.

    Parameters
    ----------
    config
        The run's config.
    names
        The writers (``WRITE_ORDER``'s names).
    available_bytes
        Memory to fit in (default: this machine's physical memory less the in-memory result's estimate).

    Returns
    -------
    1 to ``min(cores, len(names))``.
    """
    from STpuppeteer.config.budget import estimate_resources, physical_memory_bytes

    if available_bytes is None:
        physical = physical_memory_bytes()
        available_bytes = float("inf") if physical is None else physical - estimate_resources(config).memory_bytes
    peaks = sorted((writer_peak_bytes(config, name) for name in names), reverse=True)
    threads = max(1, min(os.cpu_count() or 1, len(names)))
    while threads > 1 and sum(peaks[:threads]) > available_bytes:
        threads -= 1
    return threads


def run_writers(steps: Steps, jobs: dict[str, tuple[Callable[[], object], Path]], *, threads: int) -> None:
    """Run each job ``name: (write, path)`` as a step of ``steps``, ``threads`` at a time, in ``jobs``' order.

    The first failure is raised once every started job has ended (and the jobs not yet started are
    dropped), so the caller's temporary folder is never removed under a writer still writing.
    """
    if threads <= 1:
        for name, (write, path) in jobs.items():
            steps.run(name, write, writes=path)
        return
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stpuppeteer-write")
    try:
        futures = [pool.submit(steps.run, name, write, writes=path) for name, (write, path) in jobs.items()]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future in done and future.exception() is not None:
                raise future.exception()
    finally:
        # On a failure or an interrupt: drop the jobs not started, wait for the running ones.
        pool.shutdown(wait=True, cancel_futures=True)
