"""The one parameter object of a simulation, :class:`SimulationConfig`, and how configs are made.

The tutorial's flat fields (``seed``, ``n_genes``, ``marker_mu`` …) stay flat; the knobs
of later stages live in nested models (``tissue``, ``morphology``, ``transcripts``,
``instrument``). Everything is validated on construction and on assignment, and unknown
keys are refused.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, field_validator, model_validator

from STpuppeteer.config._base import StrictModel, check_probability
from STpuppeteer.config.instrument import InstrumentConfig
from STpuppeteer.config.panel import CelltypePrior, SharedMarkerSet, gene_layout
from STpuppeteer.config.presets import PRESETS, merge_overrides
from STpuppeteer.config.tissue import (
    MorphologyConfig,
    TissueConfig,
    check_tissue_consistency,
)
from STpuppeteer.config.transcripts import TranscriptConfig

__all__ = ["SimulationConfig", "as_config", "preset_config"]


class SimulationConfig(StrictModel):
    """Every parameter of a simulation, the seed included.

    Defaults of the gene priors are the tutorial's "default prior parameters".

    Examples
    --------
    >>> cfg = SimulationConfig(seed=42, n_cells=200, n_celltype=3, n_genes=300, n_markers=50)
    >>> cfg.n_hk
    150
    """

    # --- run --------------------------------------------------------------------------
    seed: NonNegativeInt = Field(0, description="seed of every random draw in the simulation")
    n_cells: PositiveInt = Field(2000, description="number of cells")
    # --- step 1: gene parameters -------------------------------------------------------
    n_celltype: PositiveInt = Field(3, description="number of cell types, named ct_0 … ct_{n-1}")
    n_genes: PositiveInt = Field(300, description="panel size (genes, excluding control probes)")
    n_markers: NonNegativeInt = Field(50, description="marker genes per cell type")
    n_silence: NonNegativeInt = Field(0, description="genes silent in every cell type")
    marker_mu: PositiveFloat = Field(0.75, description="mean of the marker μ prior")
    marker_cv: PositiveFloat = Field(0.6, description="CV of the marker μ prior")
    silence_mu: PositiveFloat = Field(0.05, description="mean of the silence μ prior")
    silence_cv: PositiveFloat = Field(1.0, description="CV of the silence μ prior")
    hk_mu: PositiveFloat = Field(0.2, description="mean of the housekeeping μ prior")
    hk_cv: PositiveFloat = Field(0.3, description="CV of the housekeeping μ prior")
    theta_alpha: PositiveFloat = Field(2.0, description="shape of the θ prior")
    theta_rate: PositiveFloat = Field(1.0, description="rate of the θ prior (mean θ = alpha / rate)")
    shared_theta: bool = Field(
        default=False,
        description="draw one θ per gene shared by all cell types (plate diagram's θ_g) "
        "instead of one per gene per cell type",
    )
    celltype_priors: dict[str, CelltypePrior] = Field(
        default_factory=dict, description="per-cell-type overrides of the priors, keyed 'ct_k'"
    )
    shared_markers: list[SharedMarkerSet] = Field(
        default_factory=list, description="marker blocks expressed in several cell types"
    )
    leakage_by_gene: float | list[float] | dict[str, float] | None = Field(
        None, description="per-gene leakage probability: one value, a list per gene, or {gene: p}"
    )
    # --- leakage of molecules out of their cell (steps 2 and 4) --------------------------
    leakage_by_celltype: dict[str, float] = Field(
        default_factory=dict, description="per-cell-type leakage probability {ct_k: p}, default 0"
    )
    leak_dist_factor: PositiveFloat = Field(
        1.05,
        description="reach of the leak halo, in units of the cell's equivalent radius: distances beyond the "
        "boundary are exponential with scale reach / -ln(0.03), so 97 % of leaked molecules land within it",
    )
    # --- step 3: counts ----------------------------------------------------------------
    expression_scale: PositiveFloat = Field(
        1.0, description="multiplies every μ when drawing counts (overall molecules per cell)"
    )
    # --- nested stage configs ----------------------------------------------------------
    tissue: TissueConfig = Field(default_factory=TissueConfig)
    morphology: MorphologyConfig = Field(default_factory=MorphologyConfig)
    transcripts: TranscriptConfig = Field(default_factory=TranscriptConfig)
    instrument: InstrumentConfig = Field(default_factory=InstrumentConfig)

    # ---------------------------------------------------------------------------------
    @field_validator("marker_mu", "marker_cv", "silence_mu", "silence_cv", "hk_mu", "hk_cv",
                     "theta_alpha", "theta_rate", "leak_dist_factor", "expression_scale")
    @classmethod
    def _finite(cls, value: float, info: Any) -> float:
        if not math.isfinite(value):
            msg = f"{info.field_name}={value!r} is not allowed; expected a finite positive number."
            raise ValueError(msg)
        return value

    @field_validator("leakage_by_celltype")
    @classmethod
    def _leak_ct_probabilities(cls, value: dict[str, float]) -> dict[str, float]:
        return {k: check_probability(f"leakage_by_celltype[{k!r}]", v) for k, v in value.items()}

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        n_marker_genes = self.n_celltype * self.n_markers + sum(s.n_genes for s in self.shared_markers)
        if n_marker_genes + self.n_silence > self.n_genes:
            msg = (
                f"n_genes={self.n_genes} is too small: n_celltype*n_markers "
                f"({self.n_celltype}*{self.n_markers}) + shared markers "
                f"({n_marker_genes - self.n_celltype * self.n_markers}) + n_silence ({self.n_silence}) "
                f"= {n_marker_genes + self.n_silence} genes are needed; n_genes must be at least that."
            )
            raise ValueError(msg)
        names = set(self.celltype_names)
        for field, keys in (
            ("celltype_priors", self.celltype_priors),
            ("leakage_by_celltype", self.leakage_by_celltype),
        ):
            unknown = sorted(set(keys) - names)
            if unknown:
                msg = f"{field} has unknown cell types {unknown}; allowed are {sorted(names)}."
                raise ValueError(msg)
        for i, block in enumerate(self.shared_markers):
            unknown = sorted(set(block.celltypes) - names)
            if unknown:
                msg = (
                    f"shared_markers[{i}].celltypes has unknown cell types {unknown}; "
                    f"allowed are {sorted(names)}."
                )
                raise ValueError(msg)
        self._check_leakage_by_gene()
        check_tissue_consistency(
            self.tissue, self.morphology, n_cells=self.n_cells, celltype_names=self.celltype_names
        )
        return self

    def _check_leakage_by_gene(self) -> None:
        value = self.leakage_by_gene
        if value is None:
            return
        if isinstance(value, list):
            if len(value) != self.n_genes:
                msg = (
                    f"leakage_by_gene has {len(value)} values; a list must have one per gene "
                    f"(n_genes={self.n_genes})."
                )
                raise ValueError(msg)
            for i, p in enumerate(value):
                check_probability(f"leakage_by_gene[{i}]", p)
        elif isinstance(value, dict):
            known = set(gene_layout(self).feature_name)
            unknown = sorted(set(value) - known)
            if unknown:
                msg = f"leakage_by_gene names unknown genes {unknown[:5]}; keys must be feature names of the panel."
                raise ValueError(msg)
            for k, p in value.items():
                check_probability(f"leakage_by_gene[{k!r}]", p)
        else:
            check_probability("leakage_by_gene", value)

    # ---------------------------------------------------------------------------------
    @property
    def celltype_names(self) -> list[str]:
        """Names of the cell types, ``ct_0`` … ``ct_{n_celltype-1}``."""
        return [f"ct_{k}" for k in range(self.n_celltype)]

    @property
    def n_hk(self) -> int:
        """Number of housekeeping genes (the panel left after markers and silent genes)."""
        n_marker_genes = self.n_celltype * self.n_markers + sum(s.n_genes for s in self.shared_markers)
        return self.n_genes - n_marker_genes - self.n_silence

    # --- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dictionary of every field (JSON/YAML-safe)."""
        return self.model_dump(mode="json")

    def to_yaml(self, path: str | Path) -> None:
        """Write the config to a YAML file that :meth:`from_yaml` reads back identically."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> SimulationConfig:
        """Config of a platform preset (``"xenium"``, ``"merscope"``, ``"cosmx"``) with overrides.

        Parameters
        ----------
        name
            The preset's name.
        **overrides
            Top-level fields (nested ones as dicts) replacing the preset's.
        """
        return preset_config(name, **overrides)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimulationConfig:
        """Read a config from YAML; unknown or misspelled keys are refused.

        Parameters
        ----------
        path
            A YAML file holding a mapping of config fields.
        """
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            msg = f"{path}: not valid YAML ({err})."
            raise ValueError(msg) from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            msg = f"{path}: a config must be a YAML mapping of fields, got {type(data).__name__}."
            raise ValueError(msg)
        return cls.model_validate(data)


def preset_config(name: str, **overrides: Any) -> SimulationConfig:
    """Config of a platform preset, with overrides.

    Parameters
    ----------
    name
        ``"xenium"``, ``"merscope"`` or ``"cosmx"``.
    **overrides
        Fields replacing the preset's; a nested config given as a dict is merged key by key
        into the preset's (``instrument={"jitter_um": 0}`` keeps the other instrument knobs).

    Returns
    -------
    The validated config.

    Examples
    --------
    >>> cfg = preset_config("xenium", seed=3, n_cells=500)
    >>> cfg.tissue.section_thickness_um, cfg.n_cells
    (5.0, 500)
    """
    if name not in PRESETS:
        msg = f"preset {name!r} is not known; choose one of {sorted(PRESETS)}."
        raise ValueError(msg)
    return SimulationConfig.model_validate(merge_overrides(PRESETS[name], overrides))


def as_config(config: SimulationConfig | dict[str, Any] | str | Path) -> SimulationConfig:
    """A validated config from a config, a dict of its fields or the path of a YAML file."""
    if isinstance(config, SimulationConfig):
        return config
    if isinstance(config, dict):
        return SimulationConfig.model_validate(config)
    if isinstance(config, str | Path):
        return SimulationConfig.from_yaml(config)
    msg = f"config={config!r} is not allowed; pass a SimulationConfig, a dict of fields or a YAML path."
    raise TypeError(msg)
