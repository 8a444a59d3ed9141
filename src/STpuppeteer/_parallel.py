"""Run the fixed blocks of a stage as ``dask.distributed`` tasks.

Every block draws from its own generator keyed by the block's index (see
:func:`STpuppeteer._random.block_rng`), and the generators are derived here, before any task
is submitted, so neither the number of workers nor how blocks are grouped into tasks can
change a number. Results come back in block order.

``dask.distributed`` is an optional dependency (``pip install "dask[distributed]"``); it is
imported only when a client is asked for.
"""

from __future__ import annotations

import os
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from dask.distributed import Client

    from STpuppeteer.config import SimulationConfig

__all__ = ["dask_client", "local_threads", "map_blocks", "require_distributed", "thread_map"]

# [protocol://]host:port, or a scheduler file's protocol alone is not enough.
_SCHEDULER_ADDRESS = re.compile(r"^([a-z][a-z0-9+.-]*://)?[^\s:/]+(:\d+)?$")
_CONNECT_TIMEOUT_S = 10

T = TypeVar("T")
R = TypeVar("R")


def local_threads(config: SimulationConfig) -> int:
    """Threads for the fixed tiles and blocks run in this process (``config.transcripts.n_threads``).

    ``None`` means the CPUs, at most 4. Never changes a result: every tile and block draws
    from its own keyed generator and results are gathered in order.
    """
    n = config.transcripts.n_threads
    return min(os.cpu_count() or 1, 4) if n is None else n


def thread_map(func: Callable[[T], R], items: Iterable[T], *, n_threads: int, window: int) -> Iterator[R]:
    """``func(item)`` over ``items`` on ``n_threads`` threads, results in order, at most ``window`` ahead.

    ``items`` is consumed here, one item per task handed out (so items drawn from a random
    stream are drawn in order), and no more than ``window`` results wait at once.
    """
    if n_threads <= 1:
        for item in items:
            yield func(item)
        return
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        pending: deque = deque()
        todo = iter(items)
        for item in todo:
            pending.append(pool.submit(func, item))
            if len(pending) >= window:
                break
        while pending:
            result = pending.popleft().result()
            for item in todo:
                pending.append(pool.submit(func, item))
                break
            yield result


def require_distributed() -> Any:  # noqa: ANN401 - the module itself
    """Import ``dask.distributed`` or explain how to install it.

    Returns
    -------
    The ``dask.distributed`` module.

    Raises
    ------
    ModuleNotFoundError
        When dask's distributed scheduler is not installed.
    """
    try:
        import dask.distributed as dd
    except ModuleNotFoundError as err:
        msg = (
            "running on Dask needs dask.distributed, which is not installed; "
            'install it with `pip install "dask[distributed]"` or run without a client/--workers/--scheduler.'
        )
        raise ModuleNotFoundError(msg) from err
    return dd


@contextmanager
def dask_client(*, workers: int | None = None, scheduler: str | None = None) -> Iterator[Client | None]:
    """A client for the CLI's ``--workers N`` / ``--scheduler ADDRESS`` (``None`` if neither is given).

    Parameters
    ----------
    workers
        Start a local cluster of this many single-threaded worker processes.
    scheduler
        Connect to a running scheduler at this address (e.g. ``tcp://10.0.0.1:8786``).

    Yields
    ------
    The client, closed (and the local cluster shut down) on exit.
    """
    if workers is not None and scheduler is not None:
        msg = f"workers={workers!r} and scheduler={scheduler!r} were both given; pass one of them."
        raise ValueError(msg)
    if workers is None and scheduler is None:
        yield None
        return
    dd = require_distributed()
    if scheduler is not None:
        if not _SCHEDULER_ADDRESS.match(scheduler):
            msg = (f"scheduler={scheduler!r} (CLI: --scheduler) is not an address; "
                   "expected e.g. tcp://10.0.0.1:8786 or 10.0.0.1:8786.")
            raise ValueError(msg)
        try:
            client = dd.Client(scheduler, timeout=_CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as err:
            msg = (f"scheduler={scheduler!r} (CLI: --scheduler): no Dask scheduler answered within "
                   f"{_CONNECT_TIMEOUT_S} s ({type(err).__name__}); is it running and reachable?")
            raise ConnectionError(msg) from None
        with client:
            yield client
        return
    if workers < 1:
        msg = f"workers={workers!r} is not allowed; expected a number of worker processes ≥ 1."
        raise ValueError(msg)
    with (
        dd.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        dd.Client(cluster) as client,
    ):
        yield client


def _run_group(func: Callable[[Any, T], R], shared: Any, items: list[T]) -> list[R]:  # noqa: ANN401
    return [func(shared, item) for item in items]


def map_blocks(
    func: Callable[[Any, T], R],
    items: Sequence[T],
    *,
    shared: Any,  # noqa: ANN401 - whatever the blocks share
    client: Client,
    blocks_per_task: int = 1,
    max_tasks_in_flight: int | None = None,
) -> Iterator[R]:
    """``func(shared, item)`` for every item on the cluster, yielded in the order of ``items``.

    Parameters
    ----------
    func
        A module-level (picklable) function of the shared object and one block's item.
    items
        One item per block (e.g. its rows and its already-keyed generator).
    shared
        What every block reads (e.g. the cells' geometry); scattered to the workers once.
    client
        A ``dask.distributed.Client``.
    blocks_per_task
        Consecutive blocks grouped into one task (fewer, larger tasks); never changes results.
    max_tasks_in_flight
        Submit at most this many tasks ahead of the one being collected, so that a consumer
        writing results as they come holds only that many in memory (default: all at once).

    Yields
    ------
    Each block's result, in block order.
    """
    if blocks_per_task < 1:
        msg = f"blocks_per_task={blocks_per_task!r} is not allowed; expected an integer ≥ 1."
        raise ValueError(msg)
    if max_tasks_in_flight is not None and max_tasks_in_flight < 1:
        msg = f"max_tasks_in_flight={max_tasks_in_flight!r} is not allowed; expected an integer ≥ 1 or None."
        raise ValueError(msg)
    groups = [list(items[i : i + blocks_per_task]) for i in range(0, len(items), blocks_per_task)]
    if not groups:
        return
    [shared_future] = client.scatter([shared], broadcast=True, hash=False)
    window = len(groups) if max_tasks_in_flight is None else max_tasks_in_flight
    pending: deque = deque()
    todo = iter(groups)
    try:
        for group in todo:
            pending.append(client.submit(_run_group, func, shared_future, group, pure=False))
            if len(pending) >= window:
                break
        while pending:
            future = pending.popleft()
            results = future.result()
            future.release()
            for group in todo:
                pending.append(client.submit(_run_group, func, shared_future, group, pure=False))
                break
            yield from results
    finally:
        for future in pending:
            future.cancel()
        shared_future.release()
