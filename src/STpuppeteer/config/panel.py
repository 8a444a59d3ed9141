"""The gene panel as configured, free of randomness.

Per-type prior overrides, shared marker blocks, and the panel's names and classes
(:func:`gene_layout`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pydantic import Field, field_validator

from STpuppeteer.config._base import MAX_GENE_MEAN, MAX_GENES, Int, Name, Real, StrictModel

__all__ = [
    "CV_RANGE",
    "HK_TYPE",
    "MEAN_RANGE",
    "THETA_ALPHA_RANGE",
    "THETA_RATE_RANGE",
    "SILENCE_TYPE",
    "CelltypePrior",
    "GeneLayout",
    "PanelConfig",
    "SharedMarkerSet",
    "gene_layout",
    "gene_leakage",
]


#: Means of the μ priors, molecules per cell: 10⁻⁶ (a gene never seen in a million cells) to
#: :data:`~STpuppeteer.config._base.MAX_GENE_MEAN`.
MEAN_RANGE = (1e-6, MAX_GENE_MEAN)
#: CVs of the μ priors: the Gamma's shape 1/CV² stays between 0.01 and 10⁶, where draws keep their mean.
CV_RANGE = (1e-3, 10.0)
#: Shape of the θ prior: 0.01 to 10⁴ (with the rate, θ's mean lies in 10⁻⁵ … 10⁷).
THETA_ALPHA_RANGE = (1e-2, 1e4)
#: Rate of the θ prior: 10⁻³ to 10³.
THETA_RATE_RANGE = (1e-3, 1e3)

_MEAN = f"; {MEAN_RANGE[0]:g} to {MEAN_RANGE[1]:g} molecules per cell"
_CV = f"; {CV_RANGE[0]:g} to {CV_RANGE[1]:g} (the Gamma's shape 1/CV² is computable and keeps its mean)"
_ALPHA = f"; {THETA_ALPHA_RANGE[0]:g} to {THETA_ALPHA_RANGE[1]:g}"
_RATE = f"; {THETA_RATE_RANGE[0]:g} to {THETA_RATE_RANGE[1]:g}"


def prior_field(default: float | None, kind: str, description: str) -> object:
    """A ``Field`` of a prior's parameter (``kind``: mean, cv, alpha or rate) with its bounds in the description."""
    low, high, unit = {
        "mean": (*MEAN_RANGE, _MEAN), "cv": (*CV_RANGE, _CV), "alpha": (*THETA_ALPHA_RANGE, _ALPHA),
        "rate": (*THETA_RATE_RANGE, _RATE),
    }[kind]
    return Field(default, ge=low, le=high, description=description + unit)


class CelltypePrior(StrictModel):
    """Per-cell-type overrides of the gene priors; ``None`` keeps the global value.

    Overrides change only the distributions the draws come from, never the number or
    order of draws, so a config without overrides reproduces the tutorial bit for bit.
    """

    marker_mu: Real | None = prior_field(None, "mean", "mean of the marker μ prior in this type")
    marker_cv: Real | None = prior_field(None, "cv", "CV of the marker μ prior in this type")
    silence_mu: Real | None = prior_field(None, "mean", "mean of the silence μ prior in this type")
    silence_cv: Real | None = prior_field(None, "cv", "CV of the silence μ prior in this type")
    hk_mu: Real | None = prior_field(None, "mean", "mean of the housekeeping μ prior in this type")
    hk_cv: Real | None = prior_field(None, "cv", "CV of the housekeeping μ prior in this type")
    theta_alpha: Real | None = prior_field(None, "alpha", "shape of the θ prior in this type")
    theta_rate: Real | None = prior_field(None, "rate", "rate of the θ prior in this type")


class SharedMarkerSet(StrictModel):
    """A block of marker genes expressed (marker prior) in several cell types at once.

    The genes are named ``ct_{a}_ct_{b}_..._mkr_{i}`` with gene_type ``ct_{a}_ct_{b}_..._mkr``
    (a, b the types' positions in ``celltype_names``, in the order listed) and sit after the
    per-type markers, before the housekeeping genes.
    """

    celltypes: list[Name] = Field(min_length=2, description="cell type names, e.g. ['ct_0', 'ct_1']")
    n_genes: Int = Field(ge=1, le=MAX_GENES, description=f"number of genes in the block; 1 to {MAX_GENES:,}")

    @field_validator("celltypes")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            msg = f"celltypes={value!r} lists a cell type twice; each must appear once."
            raise ValueError(msg)
        return value


HK_TYPE = "hk"
SILENCE_TYPE = "silence"


@dataclass(frozen=True)
class GeneLayout:
    """Names and classes of the panel's genes, before any random draw.

    Attributes
    ----------
    feature_name
        Gene names, in panel order.
    gene_type
        ``ct_{k}_mkr``, ``ct_{a}_ct_{b}_mkr`` (shared), ``hk`` or ``silence``; k is the type's
        position in ``celltype_names`` (gene names do not change when the types are named).
    marker_of
        For each gene, the indices of the cell types it is a marker of (empty if none).
    """

    feature_name: np.ndarray
    gene_type: np.ndarray
    marker_of: tuple[tuple[int, ...], ...]

    @property
    def hk_index(self) -> np.ndarray:
        """Positions of the housekeeping genes."""
        return np.flatnonzero(self.gene_type == HK_TYPE)

    def marker_index(self, celltype: int) -> np.ndarray:
        """Positions of the genes that are markers of cell type ``celltype`` (own or shared)."""
        return np.array([i for i, cts in enumerate(self.marker_of) if celltype in cts], dtype=np.intp)


class PanelConfig(Protocol):
    """What the panel's layout reads of a config (a :class:`~STpuppeteer.config.SimulationConfig`)."""

    n_celltype: int
    n_markers: int
    n_hk: int
    n_silence: int
    celltype_names: list[str]
    shared_markers: list[SharedMarkerSet]
    leakage_by_gene: float | list[float] | dict[str, float] | None


def gene_layout(config: PanelConfig) -> GeneLayout:
    """Lay out the panel (names, classes) from the config; no randomness involved.

    Parameters
    ----------
    config
        The simulation config.

    Returns
    -------
    The :class:`GeneLayout` of the panel.
    """
    names: list[str] = []
    types: list[str] = []
    marker_of: list[tuple[int, ...]] = []
    for k in range(config.n_celltype):
        gtype = f"ct_{k}_mkr"
        names += [f"{gtype}_{i}" for i in range(config.n_markers)]
        types += [gtype] * config.n_markers
        marker_of += [(k,)] * config.n_markers
    position = {name: k for k, name in enumerate(config.celltype_names)}
    for block in config.shared_markers:
        gtype = "_".join(f"ct_{position[ct]}" for ct in block.celltypes) + "_mkr"
        cts = tuple(sorted(position[ct] for ct in block.celltypes))
        names += [f"{gtype}_{i}" for i in range(block.n_genes)]
        types += [gtype] * block.n_genes
        marker_of += [cts] * block.n_genes
    names += [f"{HK_TYPE}_{i}" for i in range(config.n_hk)]
    types += [HK_TYPE] * config.n_hk
    names += [f"{SILENCE_TYPE}_{i}" for i in range(config.n_silence)]
    types += [SILENCE_TYPE] * config.n_silence
    marker_of += [()] * (config.n_hk + config.n_silence)
    return GeneLayout(
        feature_name=np.asarray(names, dtype=object),
        gene_type=np.asarray(types, dtype=object),
        marker_of=tuple(marker_of),
    )


def gene_leakage(config: PanelConfig, feature_names: np.ndarray | list[str]) -> np.ndarray:
    """Per-gene leakage probability p_gene of ``feature_names`` from ``config.leakage_by_gene``.

    ``None``: 0 everywhere; one value: that value everywhere; a list: one value per gene in panel
    order; ``{gene: p}``: ``p`` for the named genes, 0 for the others.
    """
    value = config.leakage_by_gene
    n = len(feature_names)
    if value is None:
        return np.zeros(n)
    if isinstance(value, list):
        return np.asarray(value, dtype=float)
    if isinstance(value, dict):
        return np.array([float(value.get(g, 0.0)) for g in feature_names], dtype=float)
    return np.full(n, float(value))
