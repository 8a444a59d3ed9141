"""Configuration of stages 3–4: molecule placement and instrument effects.

Owned by the counts / transcripts stage (``expression.py`` / ``transcripts.py``). The
overall expression level (``expression_scale``) and the leakage knobs
(``leakage_by_celltype``, ``leakage_by_gene``, ``leak_dist_factor``) are top-level fields
of :class:`~STpuppeteer.config.SimulationConfig`; what is here only refines them.
Every instrument effect is off by default, so a default run records every true molecule
exactly where it is; the platform presets (:mod:`STpuppeteer.config.presets`) turn them on.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, PositiveInt, field_validator

from STpuppeteer.config._base import StrictModel

__all__ = ["AmbientGenes", "InstrumentConfig", "TranscriptConfig"]

AmbientGenes = Literal["expression", "uniform"]


def _probability(field: str, value: float) -> float:
    if not (0.0 <= value <= 1.0):
        msg = f"{field}={value!r} is not allowed; a probability must be in [0, 1]."
        raise ValueError(msg)
    return value


class TranscriptConfig(StrictModel):
    """Placement of molecules in their source cells, and the leak distance's cut-off."""

    nuclear_fraction: float | None = Field(
        None,
        description="probability that a non-leaked molecule sits in the nucleus; None places it "
        "uniformly in the whole cell (nucleus with probability nucleus area / cell area)",
    )
    nuclear_fraction_by_gene: dict[str, float] = Field(
        default_factory=dict, description="per-gene override of nuclear_fraction {feature_name: p}"
    )
    leak_max_factor: float = Field(
        3.0, gt=0, description="leak distances are truncated at this many leak-distance scales"
    )
    block_size: PositiveInt = Field(
        4096, description="cells per random block; fixed so that any split of the work gives the same molecules"
    )

    n_threads: PositiveInt | None = Field(
        None,
        description=(
            "threads for the tissue tiles and the blocks of counts and molecules (None: the CPUs, at most 4); "
            "never changes a result"
        ),
    )

    @field_validator("nuclear_fraction")
    @classmethod
    def _nuclear_fraction(cls, value: float | None) -> float | None:
        return None if value is None else _probability("nuclear_fraction", value)

    @field_validator("nuclear_fraction_by_gene")
    @classmethod
    def _by_gene(cls, value: dict[str, float]) -> dict[str, float]:
        return {k: _probability(f"nuclear_fraction_by_gene[{k!r}]", v) for k, v in value.items()}


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
