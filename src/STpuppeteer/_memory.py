"""Hand freed heap memory back to the operating system (glibc only; a no-op elsewhere).

Shapely polygons are many small allocations, made on worker threads (each with its own
malloc arena) and freed on the main thread; glibc keeps such freed memory for reuse instead
of returning it, so a slide's resident memory can stay gigabytes above what it uses.
``malloc_trim(0)`` returns it; the streamed writer calls it between stages. This is the
remedy dask's own worker documentation gives for the same effect.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["release_free_memory"]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def release_free_memory() -> None:
    """Return the heap's free memory to the operating system, where the C library allows it."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
