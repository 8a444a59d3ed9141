"""Configuration pieces of the gene-parameter stage beyond the tutorial's flat fields."""

from __future__ import annotations

from pydantic import Field, PositiveFloat, field_validator

from STpuppeteer.config._base import StrictModel

__all__ = ["CelltypePrior", "SharedMarkerSet"]


class CelltypePrior(StrictModel):
    """Per-cell-type overrides of the gene priors; ``None`` keeps the global value.

    Overrides change only the distributions the draws come from, never the number or
    order of draws, so a config without overrides reproduces the tutorial bit for bit.
    """

    marker_mu: PositiveFloat | None = None
    marker_cv: PositiveFloat | None = None
    silence_mu: PositiveFloat | None = None
    silence_cv: PositiveFloat | None = None
    hk_mu: PositiveFloat | None = None
    hk_cv: PositiveFloat | None = None
    theta_alpha: PositiveFloat | None = None
    theta_rate: PositiveFloat | None = None


class SharedMarkerSet(StrictModel):
    """A block of marker genes expressed (marker prior) in several cell types at once.

    The genes are named ``{ct_a}_{ct_b}_..._mkr_{i}`` with gene_type ``{ct_a}_{ct_b}_..._mkr``
    and sit after the per-type markers, before the housekeeping genes.
    """

    celltypes: list[str] = Field(min_length=2, description="cell type names, e.g. ['ct_0', 'ct_1']")
    n_genes: int = Field(gt=0, description="number of genes in the block")

    @field_validator("celltypes")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            msg = f"celltypes={value!r} lists a cell type twice; each must appear once."
            raise ValueError(msg)
        return value
