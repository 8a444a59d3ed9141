"""STpuppeteer: simulate imaging-based spatial transcriptomics with full ground truth.

>>> import STpuppeteer as stp
>>> result = stp.simulate(seed=0, n_cells=100)  # doctest: +SKIP
>>> result.write_xenium("sim_xenium")  # doctest: +SKIP

Namespaces: ``stp.io`` (readers and writers), ``stp.metrics`` (scoring), ``stp.pl``
(figures). They, and ``stp.simulate_to_xenium``, are imported on first use: the writers
need the optional ``io`` extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from STpuppeteer._version import __version__
from STpuppeteer.config import SimulationConfig
from STpuppeteer.pipeline.simulator import SpotlessSimulator, simulate
from STpuppeteer.result import SimulationResult

if TYPE_CHECKING:
    from STpuppeteer import io, metrics
    from STpuppeteer import plotting as pl
    from STpuppeteer.pipeline.streamed import simulate_to_xenium

__all__ = [
    "SimulationConfig",
    "SimulationResult",
    "SpotlessSimulator",
    "__version__",
    "io",
    "metrics",
    "pl",
    "simulate",
    "simulate_to_xenium",
]

_NAMESPACES = {"io": "STpuppeteer.io", "metrics": "STpuppeteer.metrics", "pl": "STpuppeteer.plotting"}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - a module or a function
    if name in _NAMESPACES:
        return importlib.import_module(_NAMESPACES[name])
    if name == "simulate_to_xenium":  # it writes a bundle, so it needs the io extra too
        return importlib.import_module("STpuppeteer.pipeline.streamed").simulate_to_xenium
    msg = f"module 'STpuppeteer' has no attribute {name!r}"
    raise AttributeError(msg)
