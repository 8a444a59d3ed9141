"""The seed tutorial's entry point: the config, the priors and the simulator, in one import.

``from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator, get_marker_gamma_prior``
is how the tutorial (and other simulators) reach the package; the names live in their
layers (:mod:`STpuppeteer.config`, :mod:`STpuppeteer.stages`, :mod:`STpuppeteer.pipeline`).
"""

from __future__ import annotations

from STpuppeteer.config import SimulationConfig
from STpuppeteer.pipeline.simulator import SpotlessSimulator, simulate
from STpuppeteer.result import SimulationResult
from STpuppeteer.stages.priors import (
    get_hk_gamma_prior,
    get_marker_gamma_prior,
    get_silence_gamma_prior,
    get_theta_gamma_prior,
)

__all__ = [
    "SimulationConfig",
    "SimulationResult",
    "SpotlessSimulator",
    "get_hk_gamma_prior",
    "get_marker_gamma_prior",
    "get_silence_gamma_prior",
    "get_theta_gamma_prior",
    "simulate",
]
