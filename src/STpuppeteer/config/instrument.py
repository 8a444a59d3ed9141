"""Configuration of the instrument: detection, background, controls, mis-calls, quality, jitter.

Owned by :mod:`STpuppeteer.stages.instrument`. Every instrument effect is off by default,
so a default run records every true molecule exactly where it is; the platform presets
(:mod:`STpuppeteer.config.presets`) turn them on.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, PositiveInt, field_validator

from STpuppeteer.config._base import StrictModel

__all__ = ["AmbientGenes", "InstrumentConfig"]

AmbientGenes = Literal["expression", "uniform"]


class InstrumentConfig(StrictModel):
    """Instrument effects; each is off by default (a perfect instrument).

    Rates of background molecules are per µm² of the tissue's bounding box; control
    probes and codewords are named as Xenium names them.
    """

    jitter_um: float = Field(0.0, ge=0, description="s.d. of the localisation error in x, y and z, µm")
    ambient_rate_per_um2: float = Field(0.0, ge=0, description="ambient (free-floating) molecules per µm²")
    ambient_genes: AmbientGenes = Field(
        "expression", description="gene of an ambient molecule: 'expression' (∝ total counts) or 'uniform'"
    )
    neg_control_probe_rate_per_um2: float = Field(0.0, ge=0, description="NegControlProbe_* per µm²")
    neg_control_codeword_rate_per_um2: float = Field(0.0, ge=0, description="NegControlCodeword_* per µm²")
    unassigned_codeword_rate_per_um2: float = Field(0.0, ge=0, description="UnassignedCodeword_* per µm²")
    n_neg_control_probes: PositiveInt = Field(20, description="number of NegControlProbe_* names")
    n_neg_control_codewords: PositiveInt = Field(41, description="number of NegControlCodeword_* names")
    n_unassigned_codewords: PositiveInt = Field(100, description="number of UnassignedCodeword_* names")
    detection_efficiency: float = Field(1.0, gt=0, le=1, description="probability a true molecule is detected")
    fov_size_um: float = Field(250.0, gt=0, description="side of a square field of view (tile), µm")
    fov_efficiency_sd: float = Field(
        0.0, ge=0, description="s.d. of a per-FOV multiplicative factor on detection_efficiency (0: none)"
    )
    miscall_rate: float = Field(0.0, ge=0, le=1, description="probability a detected molecule gets a wrong gene")
    qv_mean: float = Field(35.0, ge=0, le=40, description="mean quality score of correctly decoded molecules")
    qv_sd: float = Field(4.0, ge=0, description="s.d. of that quality score")
    qv_background_mean: float = Field(
        18.0, ge=0, le=40, description="mean quality score of ambient, control and mis-called molecules"
    )
    qv_background_sd: float = Field(8.0, ge=0, description="s.d. of the background quality score")

    @field_validator("*")
    @classmethod
    def _finite(cls, value: object, info: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            msg = f"{info.field_name}={value!r} is not allowed; expected a finite number."  # type: ignore[attr-defined]
            raise ValueError(msg)
        return value
