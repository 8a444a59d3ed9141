"""The package's public face: the config, the priors, the simulator and the program model's entry points.

``from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator, get_marker_gamma_prior``
is how the tutorial reaches the package. Other simulators call the program model without the
simulator: ``sample_counts_program_model(cell_gdf, cfg, rng)`` (counts of their own cells),
``counts_to_transcript_df(count_array, cell_ids, gene_names)`` (one row per molecule),
``classify_leakage(trs_df, cell_gdf, gpar_df, rng)`` (one leak decision per molecule) and
``build_program_gpar_df(cfg)`` (the gene table). The names live in their layers
(:mod:`STpuppeteer.config`, :mod:`STpuppeteer.stages`, :mod:`STpuppeteer.pipeline`).
"""

from __future__ import annotations

from STpuppeteer.config import CellTypeSpec, ProgramSpec, SimulationConfig
from STpuppeteer.pipeline.simulator import SpotlessSimulator, simulate
from STpuppeteer.result import SimulationResult
from STpuppeteer.stages.priors import (
    get_hk_gamma_prior,
    get_marker_gamma_prior,
    get_silence_gamma_prior,
    get_theta_gamma_prior,
)
from STpuppeteer.stages.programs import (
    build_program_gpar_df,
    expected_program_means,
    program_means,
    sample_counts_program_model,
)
from STpuppeteer.stages.transcripts import classify_leakage, counts_to_transcript_df

__all__ = [
    "CellTypeSpec",
    "ProgramSpec",
    "SimulationConfig",
    "SimulationResult",
    "SpotlessSimulator",
    "build_program_gpar_df",
    "classify_leakage",
    "counts_to_transcript_df",
    "expected_program_means",
    "get_hk_gamma_prior",
    "get_marker_gamma_prior",
    "get_silence_gamma_prior",
    "get_theta_gamma_prior",
    "program_means",
    "sample_counts_program_model",
    "simulate",
]
