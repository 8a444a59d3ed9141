"""The one parameter object of a simulation, :class:`SimulationConfig`, and how configs are made.

The tutorial's flat fields (``seed``, ``n_genes``, ``marker_mu`` …) stay flat; the knobs
of later stages live in nested models (``tissue``, ``morphology``, ``transcripts``,
``instrument``; the writers' ``images``). Everything is validated on construction and on assignment, and unknown
keys are refused.

Three expression models share the config (``expression_model``): the seed's gamma priors
(``"priors"``: markers, housekeeping and silent genes of cell types ``ct_k``), the program
model (``"programs"``, chosen by giving ``programs`` and ``cell_type_specs``: cell types named
freely, built from gene programs; ``docs/model_programs.md``) and the table model (``"table"``,
chosen by giving ``gene_table``: real genes with μ and θ per cell type, as a fit writes them;
``docs/model_genes.md``). Each model's own fields must stay at their defaults in the others, and
a config serialises only the fields of its model.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from STpuppeteer.config._base import (
    MAX_CELLS,
    MAX_CELLTYPES,
    MAX_GENE_MEAN,
    MAX_GENES,
    MAX_SEED,
    Flag,
    Int,
    Name,
    Real,
    StrictModel,
    check_name,
    check_probability,
    unwrapped_fields,
)
from STpuppeteer.config._yaml import read_yaml_mapping
from STpuppeteer.config.budget import check_budget
from STpuppeteer.config.difficulty import DIFFICULTY_LEVELS, Difficulty, apply_difficulty
from STpuppeteer.config.gene_table import GeneTable, dump_config_yaml, foreign_fields, resolve_table_model
from STpuppeteer.config.images import ImageConfig
from STpuppeteer.config.instrument import InstrumentConfig
from STpuppeteer.config.panel import CelltypePrior, SharedMarkerSet, gene_layout, prior_field
from STpuppeteer.config.presets import PRESETS, merge_overrides
from STpuppeteer.config.programs import (
    PROGRAM_FIELDS,
    CellTypeSpec,
    ProgramSpec,
    changed_fields,
    program_gene_names,
    resolve_program_model,
    shorthand_program_fields,
)
from STpuppeteer.config.tissue import MorphologyConfig, TissueConfig
from STpuppeteer.config.tissue_checks import check_tissue_consistency
from STpuppeteer.config.transcripts import TranscriptConfig

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ExpressionModel", "SimulationConfig", "SizeFactorArea"]

ExpressionModel = Literal["priors", "programs", "table"]
#: What sets a cell's size factor (``SimulationConfig.size_factor``).
SizeFactorArea = Literal["cell_area", "nucleus_area"]


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
    seed: Int = Field(
        0, ge=0, le=MAX_SEED,
        description="seed of every random draw in the simulation; 0 to 2⁶³−1 (stored as a 64-bit integer)",
    )
    n_cells: Int = Field(
        2000, gt=0, le=MAX_CELLS,
        description=f"number of cells; 1 to {MAX_CELLS:,} (a whole slide holds ~10⁶; beyond ~10⁵ use the "
        "streamed driver)",
    )
    difficulty: Difficulty | None = Field(
        None,
        description=f"a rung of the difficulty ladder, one of {list(DIFFICULTY_LEVELS)}: more and closer cell "
        "types, rarer types, weaker markers, more leakage and ambient, more crowding (docs/presets.md); fields "
        "given beside it win over it, it wins over a preset; None: as configured",
    )
    # --- step 1: gene parameters -------------------------------------------------------
    n_celltype: Int = Field(
        3, gt=0, le=MAX_CELLTYPES,
        description=f"number of cell types, named ct_0 … ct_{{n-1}} by default; 1 to {MAX_CELLTYPES:,}",
    )
    celltype_names: list[Name] | None = Field(
        None, max_length=MAX_CELLTYPES,
        description="names of the cell types (default ct_0 … ct_{n-1}); given, n_celltype follows",
    )
    n_genes: Int = Field(
        300, gt=0, le=MAX_GENES,
        description=f"panel size (genes, excluding control probes); 1 to {MAX_GENES:,} (a whole transcriptome)",
    )
    n_markers: Int = Field(50, ge=0, le=MAX_GENES, description=f"marker genes per cell type; 0 to {MAX_GENES:,}")
    n_silence: Int = Field(
        0, ge=0, le=MAX_GENES, description=f"genes silent in every cell type; 0 to {MAX_GENES:,}"
    )
    marker_mu: Real = prior_field(0.75, "mean", "mean of the marker μ prior")
    marker_cv: Real = prior_field(0.6, "cv", "CV of the marker μ prior")
    silence_mu: Real = prior_field(0.05, "mean", "mean of the silence μ prior")
    silence_cv: Real = prior_field(1.0, "cv", "CV of the silence μ prior")
    hk_mu: Real = prior_field(0.2, "mean", "mean of the housekeeping μ prior")
    hk_cv: Real = prior_field(0.3, "cv", "CV of the housekeeping μ prior")
    theta_alpha: Real = prior_field(2.0, "alpha", "shape of the θ prior")
    theta_rate: Real = prior_field(1.0, "rate", "rate of the θ prior (mean θ = alpha / rate)")
    shared_theta: Flag = Field(
        default=False,
        description="draw one θ per gene shared by all cell types (plate diagram's θ_g) "
        "instead of one per gene per cell type",
    )
    celltype_priors: dict[Name, CelltypePrior] = Field(
        default_factory=dict, description="per-cell-type overrides of the priors, keyed 'ct_k'"
    )
    shared_markers: list[SharedMarkerSet] = Field(
        default_factory=list, max_length=MAX_GENES, description="marker blocks expressed in several cell types"
    )
    leakage_by_gene: Real | list[Real] | dict[Name, Real] | None = Field(
        None, description="per-gene leakage probability in [0, 1]: one value, a list per gene, or {gene: p}"
    )
    # --- step 1, program model (docs/model_programs.md) -------------------------------
    expression_baseline: Real = Field(
        0.05, ge=0, le=MAX_GENE_MEAN,
        description=f"μ0: mean molecules per cell of every gene before the programs add theirs; 0 to "
        f"{MAX_GENE_MEAN:g}",
    )
    overdispersion_cv: Real = Field(
        0.5, ge=1e-3, le=10,
        description="φ0: coefficient of variation of a gene's expression at a mean of 1 molecule; 0.001 to 10 "
        "(the Gamma's shape 1/CV² stays computable)",
    )
    overdispersion_exponent: Real = Field(
        0.3, ge=0, le=1, description="α: the CV at mean m is φ0·m^-α (0: one CV for every mean); 0 to 1"
    )
    programs: list[ProgramSpec] = Field(
        default_factory=list, description="gene programs: [{name, loading: {gene: weight ≥ 0}, description}]"
    )
    cell_type_specs: dict[str, CellTypeSpec] = Field(
        default_factory=dict,
        description="cell types by name: {name: {proportion, program_activations, activation_sd}}",
    )
    extra_genes: list[str] = Field(
        default_factory=list, max_length=MAX_GENES,
        description="panel genes after the loading genes (no program needs to load them)",
    )
    # --- leakage of molecules out of their cell (steps 2 and 4) --------------------------
    leakage_by_celltype: dict[str, float] = Field(
        default_factory=dict, description="per-cell-type leakage probability {cell type: p}, default 0"
    )
    leak_dist_factor: Real = Field(
        1.05, ge=0.01, le=10,
        description="reach of the leak halo, in units of the cell's equivalent radius: distances beyond the "
        "boundary are exponential with scale reach / -ln(0.03), so 97 % of leaked molecules land within it; "
        "0.01 to 10 (mRNA diffuses a few µm before fixation, not across ten cells)",
    )
    # --- step 3: counts ----------------------------------------------------------------
    expression_scale: Real = Field(
        1.0, ge=1e-6, le=1e4,
        description="multiplies every μ when drawing counts (overall molecules per cell); 10⁻⁶ to 10⁴ (the "
        "config also refuses more than 10⁵ expected molecules in a cell)",
    )
    size_factor: SizeFactorArea | None = Field(
        None,
        description="the area that sets each cell's size factor s (its expected counts are s·μ; cell_gdf's "
        "'scale'): 'cell_area' (a confluent cell's drawn area, an expanded cell's polygon) or 'nucleus_area'; "
        "s = area^size_factor_exponent over its mean among the cells of the type (mean 1 per type, so μ stays "
        "the type's mean); None: the cell model's own size, 'cell_area' on confluent cells, 'nucleus_area' on "
        "expanded cells (grown from their nucleus)",
    )
    size_factor_exponent: Real = Field(
        1.0, ge=0, le=2,
        description="β in s ∝ area^β; 0 to 2 (1: molecules in proportion to the area, as at a constant mRNA "
        "concentration; 0: the area does not matter)",
    )
    size_factor_cv: Real | None = Field(
        None, ge=0, le=2,
        description="CV of a log-normal factor of mean 1 on each cell's size factor, independent of its area "
        "(how much of a cell the section holds, its state); 0 to 2; None: 0.3 when the size factor follows "
        "the cell area, 0 when it follows the nucleus area (the expanded model's, whose fit calibrates the "
        "nucleus areas' spread to a dataset's totals)",
    )
    # --- nested stage configs ----------------------------------------------------------
    tissue: TissueConfig = Field(default_factory=TissueConfig)
    morphology: MorphologyConfig = Field(default_factory=MorphologyConfig)
    transcripts: TranscriptConfig = Field(default_factory=TranscriptConfig)
    instrument: InstrumentConfig = Field(default_factory=InstrumentConfig)
    images: ImageConfig = Field(default_factory=ImageConfig)
    # --- step 1, table model (docs/model_genes.md); last, as it is long -----------------
    gene_table: GeneTable | None = Field(None, description="genes by name with μ, θ per cell type, used as given")

    # ---------------------------------------------------------------------------------
    @model_validator(mode="before")
    @classmethod
    def _apply_difficulty(cls, data: Any, info: ValidationInfo) -> Any:  # noqa: ANN401 - pydantic's raw input
        # The level's knobs under the fields given (config/difficulty.py); applying it to a config
        # that already holds them changes nothing, so a config read back is the same config.
        if info.field_name is not None:  # assignment to a made config: its level is applied already
            if info.field_name == "difficulty":
                msg = (
                    f"difficulty={data.get('difficulty')!r} cannot be assigned to a made config; give it when "
                    "making one: SimulationConfig(difficulty=...) or SimulationConfig.from_preset(name, "
                    "difficulty=...)."
                )
                raise ValueError(msg)
            return data
        if isinstance(data, dict) and data.get("difficulty") is not None:
            return apply_difficulty(data)
        return data

    @field_validator("leakage_by_celltype", mode="before")
    @classmethod
    def _leak_ct_probabilities(cls, value: dict[str, float] | None) -> dict[str, float]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            msg = f"leakage_by_celltype={value!r} is not allowed; expected a mapping {{cell type: probability}}."
            raise ValueError(msg)
        return {k: check_probability(f"leakage_by_celltype[{k!r}]", v) for k, v in value.items()}

    @field_validator("celltype_names", "extra_genes")
    @classmethod
    def _names(cls, value: list[str] | None, info: Any) -> list[str] | None:
        if value is None:
            return None
        blank = [v for v in value if not v.strip()]
        for i, v in enumerate(value):
            if v.strip():
                check_name(f"{info.field_name}[{i}]", v)
        twice = sorted({v for v, n in Counter(value).items() if n > 1})
        if blank or twice:
            msg = f"{info.field_name}={value!r} is not allowed; names must be non-empty and unique (twice: {twice})."
            raise ValueError(msg)
        return value

    @field_validator("programs")
    @classmethod
    def _unique_programs(cls, value: list[ProgramSpec]) -> list[ProgramSpec]:
        names = [p.name for p in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            msg = f"programs has names {twice} more than once; program names must be unique."
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if self.expression_model == "programs":
            self._resolve_programs()
        elif self.expression_model == "table":
            self.__dict__.update(resolve_table_model(self))
        else:
            self._resolve_priors()
        names = set(self.celltype_names)
        for field, keys in (
            ("celltype_priors", self.celltype_priors),
            ("leakage_by_celltype", self.leakage_by_celltype),
        ):
            unknown = sorted(set(keys) - names)
            if unknown:
                msg = f"{field} has unknown cell types {unknown}; allowed are {self.celltype_names}."
                raise ValueError(msg)
        for i, block in enumerate(self.shared_markers):
            unknown = sorted(set(block.celltypes) - names)
            if unknown:
                msg = (
                    f"shared_markers[{i}].celltypes has unknown cell types {unknown}; "
                    f"allowed are {self.celltype_names}."
                )
                raise ValueError(msg)
        self._check_leakage_by_gene()
        check_tissue_consistency(
            self.tissue, self.morphology, n_cells=self.n_cells, celltype_names=self.celltype_names,
            proportions=self.celltype_proportions,
        )
        check_budget(self)
        return self

    def _resolve_programs(self) -> None:
        """Program model: check it, then write the derived cell types and counts (not user-set fields)."""
        self.__dict__.update(resolve_program_model(self))

    def _resolve_priors(self) -> None:
        """Prior model: refuse program-only knobs, name the cell types, check the panel's size."""
        on = changed_fields(self, PROGRAM_FIELDS)
        if on:
            msg = (
                f"{on} only apply to the program model; give programs and cell_type_specs (both) to use it, "
                "or leave these unset."
            )
            raise ValueError(msg)
        if "celltype_names" in self.model_fields_set and self.celltype_names is not None:
            if "n_celltype" in self.model_fields_set and self.n_celltype != len(self.celltype_names):
                msg = (
                    f"n_celltype={self.n_celltype} disagrees with celltype_names ({len(self.celltype_names)} "
                    "names); give one of them, or both in agreement."
                )
                raise ValueError(msg)
            self.__dict__["n_celltype"] = len(self.celltype_names)
        else:
            self.__dict__["celltype_names"] = [f"ct_{k}" for k in range(self.n_celltype)]
        n_marker_genes = self.n_celltype * self.n_markers + sum(s.n_genes for s in self.shared_markers)
        if n_marker_genes + self.n_silence > self.n_genes:
            msg = (
                f"n_genes={self.n_genes} is too small: n_celltype*n_markers "
                f"({self.n_celltype}*{self.n_markers}) + shared markers "
                f"({n_marker_genes - self.n_celltype * self.n_markers}) + n_silence ({self.n_silence}) "
                f"= {n_marker_genes + self.n_silence} genes are needed; n_genes must be at least that."
            )
            raise ValueError(msg)

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
            known = set(self.resolve_gene_names())
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
    def expression_model(self) -> ExpressionModel:
        """``"table"`` (a ``gene_table``), ``"programs"`` (``programs``, ``cell_type_specs``) or ``"priors"``."""
        if self.gene_table is not None:
            return "table"
        return "programs" if self.programs or self.cell_type_specs else "priors"

    @property
    def celltype_proportions(self) -> list[float] | None:
        """Fraction of cells per cell type, in ``celltype_names`` order (``None``: equal shares)."""
        if self.expression_model == "programs":
            return [spec.proportion for spec in self.cell_type_specs.values()]
        return self.tissue.proportions

    @property
    def ambient_rate_per_um2(self) -> float:
        """Ambient molecules per µm² (``instrument.ambient_rate_per_um2``, readable here)."""
        return self.instrument.ambient_rate_per_um2

    def resolve_gene_names(self) -> list[str]:
        """The panel's genes in ``gpar_df`` / ``count_array`` order.

        Program model: the genes of the loadings in order of first appearance, then the
        ``extra_genes`` not among them. Table model: the table's genes. Prior model: markers,
        shared markers, housekeeping, silent genes (:func:`~STpuppeteer.config.panel.gene_layout`).

        Examples
        --------
        >>> cfg = SimulationConfig(programs=[{"name": "p", "loading": {"B": 1, "A": 2}}],
        ...                        cell_type_specs={"T cell": {"program_activations": {"p": 1.0}}})
        >>> cfg.resolve_gene_names(), cfg.n_genes, cfg.celltype_names
        (['B', 'A'], 2, ['T cell'])
        """
        if self.expression_model == "programs":
            return program_gene_names(self.programs, self.extra_genes)
        if self.gene_table is not None:
            return self.gene_table.gene_names
        return [str(g) for g in gene_layout(self).feature_name]

    @property
    def n_hk(self) -> int:
        """Number of housekeeping genes (the panel left after markers and silent genes; 0 with programs)."""
        if self.expression_model != "priors":
            return 0 if self.gene_table is None else self.gene_table.n_housekeeping
        n_marker_genes = self.n_celltype * self.n_markers + sum(s.n_genes for s in self.shared_markers)
        return self.n_genes - n_marker_genes - self.n_silence

    # --- serialisation ------------------------------------------------------------------
    @model_serializer(mode="wrap")
    def _own_model_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only the fields of the config's expression model (the others are at their defaults),
        # so a prior-model config serialises exactly as before the program model existed.
        data = handler(self)
        drop = foreign_fields(self.expression_model)
        if self.difficulty is None:  # files of configs without a level stay as they were
            drop.add("difficulty")
        if self.expression_model == "priors" and self.celltype_names == [f"ct_{k}" for k in range(self.n_celltype)]:
            drop.add("celltype_names")
        return {k: v for k, v in data.items() if k not in drop}

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dictionary of every field (JSON/YAML-safe)."""
        return self.model_dump(mode="json")

    def to_yaml(self, path: str | Path) -> None:
        """Write the config to a YAML file that :meth:`from_yaml` (and ``yaml.safe_load``) reads back identically."""
        Path(path).write_text(dump_config_yaml(self.to_dict()))

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> SimulationConfig:
        """Config of a platform preset (``"xenium"``, ``"merscope"``, ``"cosmx"``) with overrides.

        Parameters
        ----------
        name
            The preset's name.
        **overrides
            Top-level fields (nested ones as dicts) replacing the preset's; a nested config
            given as a dict is merged key by key into the preset's. A ``difficulty`` among
            them replaces the preset's values of its knobs; the other overrides win over it.

        Examples
        --------
        >>> cfg = SimulationConfig.from_preset("xenium", seed=3, n_cells=500)
        >>> cfg.tissue.section_thickness_um, cfg.n_cells
        (5.0, 500)
        """
        if name not in PRESETS:
            msg = f"preset {name!r} is not known; choose one of {sorted(PRESETS)}."
            raise ValueError(msg)
        if overrides.get("difficulty") is not None:
            return cls.model_validate(apply_difficulty(overrides, base=PRESETS[name]))
        return cls.model_validate(merge_overrides(PRESETS[name], overrides))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimulationConfig:
        """A config from a mapping of its fields, or from the program shorthand.

        Parameters
        ----------
        data
            Config fields, flat or wrapped in a top-level ``simulation:`` key; or the shorthand
            ``{n_cells, n_celltype, n_programs, n_genes_per_program, n_hk_genes, seed}`` of a
            synthetic program config (see
            :func:`~STpuppeteer.config.programs.shorthand_program_fields`), other fields beside it.

        Examples
        --------
        >>> cfg = SimulationConfig.from_dict({"n_celltype": 3, "n_programs": 4, "n_genes_per_program": 5,
        ...                                   "n_hk_genes": 2})
        >>> cfg.expression_model, cfg.n_genes, cfg.celltype_names
        ('programs', 22, ['ct_0', 'ct_1', 'ct_2'])
        """
        data = unwrapped_fields(data, source="from_dict")
        fields = shorthand_program_fields(data)
        return cls.model_validate(data if fields is None else fields)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimulationConfig:
        """Read a config from YAML; unknown or misspelled keys are refused.

        The file is UTF-8 text read by the YAML 1.2 core schema, not PyYAML's YAML 1.1: ``060``
        is 60 (not octal 48), ``1e3`` is the number 1000, ``yes``/``no``/``on``/``off`` are text
        (booleans are ``true``/``false``), ``1:30`` and dates are text. A key given twice in a
        mapping is an error naming the key and its lines (YAML 1.1 kept the last silently). See
        :func:`~STpuppeteer.config._yaml.load_yaml`.

        Parameters
        ----------
        path
            A YAML file holding a mapping of config fields (or the ``from_dict`` shorthand),
            flat or wrapped in a top-level ``simulation:`` key.

        Raises
        ------
        ValueError
            In one line naming the file: not UTF-8 text, not YAML, a repeated key, not a mapping;
            or a :class:`pydantic.ValidationError` naming the field.
        """
        path = Path(path)
        data = read_yaml_mapping(path)
        return cls.from_dict(unwrapped_fields(data, source=str(path)))
