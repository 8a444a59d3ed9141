"""Configuration of stages 3–4: counts, molecule placement, instrument effects.

Owned by the counts / transcripts stage (``expression.py`` / ``transcripts.py``).
"""

from __future__ import annotations

from pydantic import Field

from ._base import StrictModel

__all__ = ["InstrumentConfig", "TranscriptConfig"]


class TranscriptConfig(StrictModel):
    """Placement of molecules in their source cells."""

    compartment: str = "uniform"


class InstrumentConfig(StrictModel):
    """Instrument effects; each off or realistic by default."""

    jitter_um: float = Field(0.0, ge=0)
