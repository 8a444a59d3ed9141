"""Configuration of stage 4: where molecules are placed in their cells.

Owned by :mod:`STpuppeteer.stages.transcripts` (instrument effects: :mod:`.instrument`). The
overall expression level (``expression_scale``) and the leakage knobs
(``leakage_by_celltype``, ``leakage_by_gene``, ``leak_dist_factor``) are top-level fields
of :class:`~STpuppeteer.config.SimulationConfig`; what is here only refines them.
"""

from __future__ import annotations

from pydantic import Field, PositiveInt, field_validator

from STpuppeteer.config._base import StrictModel, check_probability

__all__ = ["TranscriptConfig"]


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
        3.0, gt=0, description="leak distances are truncated at this many reaches (leak_dist_factor × radius)"
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
        return None if value is None else check_probability("nuclear_fraction", value)

    @field_validator("nuclear_fraction_by_gene")
    @classmethod
    def _by_gene(cls, value: dict[str, float]) -> dict[str, float]:
        return {k: check_probability(f"nuclear_fraction_by_gene[{k!r}]", v) for k, v in value.items()}
