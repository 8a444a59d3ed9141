"""Configuration: :class:`SimulationConfig` and its nested models, presets, the panel's layout.

The lowest layer above :mod:`STpuppeteer._random`: it imports no stage. Each nested model
configures the stage of the same name (``config/tissue.py`` → ``stages/tissue.py``).
"""

from __future__ import annotations

from STpuppeteer.config.images import ImageConfig
from STpuppeteer.config.instrument import InstrumentConfig
from STpuppeteer.config.make import as_config, preset_config
from STpuppeteer.config.panel import CelltypePrior, GeneLayout, SharedMarkerSet, gene_layout
from STpuppeteer.config.presets import PRESETS
from STpuppeteer.config.programs import CellTypeSpec, ProgramSpec
from STpuppeteer.config.simulation import SimulationConfig
from STpuppeteer.config.tissue import MorphologyConfig, NucleusShape, PrototypeConfig, TissueConfig
from STpuppeteer.config.transcripts import TranscriptConfig

__all__ = [
    "PRESETS",
    "CellTypeSpec",
    "CelltypePrior",
    "GeneLayout",
    "ImageConfig",
    "InstrumentConfig",
    "MorphologyConfig",
    "NucleusShape",
    "ProgramSpec",
    "PrototypeConfig",
    "SharedMarkerSet",
    "SimulationConfig",
    "TissueConfig",
    "TranscriptConfig",
    "as_config",
    "gene_layout",
    "preset_config",
]
