"""STpuppeteer: simulate imaging-based spatial transcriptomics with full ground truth.

>>> import STpuppeteer as stp
>>> result = stp.simulate(seed=0, n_cells=100)  # doctest: +SKIP
>>> result.write_xenium("sim_xenium")  # doctest: +SKIP

Namespaces: ``stp.io`` (readers and writers), ``stp.metrics`` (scoring), ``stp.pl``
(figures). Every name here is imported on first use: ``import STpuppeteer`` (and so the
command line's ``--help`` and its refusals) stays fast, and the writers, which need the
optional ``io`` extra, load only when asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from STpuppeteer._version import __version__

if TYPE_CHECKING:
    from STpuppeteer import io, metrics
    from STpuppeteer import plotting as pl
    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.pipeline.simulator import SpotlessSimulator, simulate
    from STpuppeteer.pipeline.streamed import simulate_to_xenium
    from STpuppeteer.result import SimulationResult

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
_NAMES = {
    "SimulationConfig": "STpuppeteer.config",
    "SimulationResult": "STpuppeteer.result",
    "SpotlessSimulator": "STpuppeteer.pipeline.simulator",
    "simulate": "STpuppeteer.pipeline.simulator",
    "simulate_to_xenium": "STpuppeteer.pipeline.streamed",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - a module, a class or a function
    if name in _NAMESPACES:
        return importlib.import_module(_NAMESPACES[name])
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    msg = f"module 'STpuppeteer' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
