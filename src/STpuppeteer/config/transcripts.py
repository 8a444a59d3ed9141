"""Configuration of stage 4: where molecules are placed in their cells.

Owned by :mod:`STpuppeteer.stages.transcripts` (instrument effects: :mod:`.instrument`). The
overall expression level (``expression_scale``) and the leakage knobs
(``leakage_by_celltype``, ``leakage_by_gene``, ``leak_dist_factor``) are top-level fields
of :class:`~STpuppeteer.config.SimulationConfig`; what is here only refines them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from STpuppeteer.config._base import Int, Name, Real, StrictModel, check_probability
from STpuppeteer.config.localisation import LocalisationConfig

__all__ = ["TranscriptConfig"]


class TranscriptConfig(StrictModel):
    """Placement of molecules in their source cells, and the leak distance's cut-off."""

    nuclear_fraction: Real | None = Field(
        None, ge=0, le=1,
        description="probability that a non-leaked molecule sits in the nucleus, in [0, 1]; None places it "
        "uniformly in the whole cell (nucleus with probability nucleus area / cell area)",
    )
    nuclear_fraction_by_gene: dict[Name, Real] = Field(
        default_factory=dict, description="per-gene override of nuclear_fraction {feature_name: p in [0, 1]}"
    )
    localisation: LocalisationConfig = Field(
        default_factory=LocalisationConfig,
        description="per-gene compartment patterns and the nuclear enrichment (docs/model_molecules.md); a "
        "gene's nuclear_fraction, where set, replaces the baseline's nuclear enrichment for that gene",
    )
    leak_max_factor: Real = Field(
        3.0, ge=0.1, le=20,
        description="leak distances are truncated at this many reaches (leak_dist_factor × radius); 0.1 to 20 "
        "(97 % of leaks land within 1 reach, so beyond 20 nothing changes but the slide's extent)",
    )
    block_size: Int | Literal["auto"] = Field(
        4096,
        description="cells per random block; fixed so that any split of the work gives the same molecules; 1 to "
        "1,000,000 (a block's molecules are in memory at once), or 'auto': the largest power of two up to 4,096 "
        "whose block holds at most about 10⁶ expected molecules and 4·10⁶ cells × genes (docs/scale.md, "
        "'Block size')",
    )

    n_threads: Int | None = Field(
        None, ge=1, le=1024,
        description=(
            "threads for the tissue tiles and the blocks of counts and molecules (None: the CPUs, at most 4); "
            "never changes a result; 1 to 1024"
        ),
    )

    @field_validator("block_size", mode="before")
    @classmethod
    def _block_size(cls, value: object) -> object:
        if isinstance(value, str) and value != "auto":
            msg = f"block_size: {value!r} is not allowed; expected an integer from 1 to 1,000,000 or 'auto'."
            raise ValueError(msg)
        return value

    @field_validator("block_size")
    @classmethod
    def _block_size_range(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 1_000_000:
            msg = f"block_size: {value} is out of range; expected an integer from 1 to 1,000,000 or 'auto'."
            raise ValueError(msg)
        return value

    @field_validator("nuclear_fraction")
    @classmethod
    def _nuclear_fraction(cls, value: float | None) -> float | None:
        return None if value is None else check_probability("nuclear_fraction", value)

    @field_validator("nuclear_fraction_by_gene")
    @classmethod
    def _by_gene(cls, value: dict[str, float]) -> dict[str, float]:
        return {k: check_probability(f"nuclear_fraction_by_gene[{k!r}]", v) for k, v in value.items()}
