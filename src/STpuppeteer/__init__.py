"""STpuppeteer: simulate imaging-based spatial transcriptomics with full ground truth."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from STpuppeteer.config import SimulationConfig
from STpuppeteer.pipeline.simulator import SpotlessSimulator, simulate
from STpuppeteer.result import SimulationResult

try:
    __version__ = version("stpuppeteer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["SimulationConfig", "SimulationResult", "SpotlessSimulator", "__version__", "simulate"]
