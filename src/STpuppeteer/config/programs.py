"""Configuration of the program model: gene programs, cell types built from them, the shorthand.

The program model (``docs/model_programs.md``) describes a cell type as a mixture of gene
programs: a program is a set of genes with non-negative loadings, a cell type lists the mean
activation of the programs it uses. Cell types are named freely ("Fibroblast / CAF"). This
module holds the two models a config is made of (:class:`ProgramSpec`,
:class:`CellTypeSpec`), the checks that need both (:func:`resolve_cell_type_specs`), the gene
universe (:func:`program_gene_names`) and the ``from_dict`` shorthand
(:func:`shorthand_program_fields`). No randomness here: the model's draws live in
:mod:`STpuppeteer.stages.programs`.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, Field, field_validator

from STpuppeteer.config._base import MAX_CELLTYPES, MAX_GENE_MEAN, MAX_GENES, Real, StrictModel, check_name
from STpuppeteer.config.tissue import TissueConfig

__all__ = [
    "PRIOR_FIELDS",
    "PROGRAM_DERIVED",
    "PROGRAM_FIELDS",
    "RESERVED_COLUMNS",
    "SHORTHAND_KEYS",
    "CellTypeSpec",
    "ProgramSpec",
    "changed_fields",
    "program_gene_names",
    "resolve_cell_type_specs",
    "resolve_program_model",
    "shorthand_program_fields",
]

# Fields of one expression model only: each must keep its default in the other model, and a
# config serialises only its own model's fields (so a prior-model config's files are unchanged).
PROGRAM_FIELDS = (
    "expression_baseline", "overdispersion_cv", "overdispersion_exponent", "programs", "cell_type_specs",
    "extra_genes",
)
PRIOR_FIELDS = (
    "n_markers", "n_silence", "marker_mu", "marker_cv", "silence_mu", "silence_cv", "hk_mu", "hk_cv",
    "theta_alpha", "theta_rate", "shared_theta", "celltype_priors", "shared_markers", "expression_scale",
)
#: Derived from the programs and cell types in the program model (given, they must agree).
PROGRAM_DERIVED = ("n_celltype", "n_genes", "celltype_names")

#: Columns of a program ``gpar_df`` that are not loadings: no program may take these names.
RESERVED_COLUMNS = ("feature_name", "gene_type", "expression_baseline", "gene_leakage")
#: The keys of the ``from_dict`` shorthand (any one of the last three selects it).
SHORTHAND_KEYS = ("n_cells", "n_celltype", "n_programs", "n_genes_per_program", "n_hk_genes", "seed")
_SHORTHAND_MARKERS = ("n_programs", "n_genes_per_program", "n_hk_genes")
#: Most programs of a config.
MAX_PROGRAMS = 1_000
#: Largest activation of a program (mean or s.d.), in units of its loadings.
MAX_ACTIVATION = 1_000.0
#: Largest proportion weight of a cell type (weights are normalised over the types).
MAX_PROPORTION_WEIGHT = 1e6
#: Longest program description, characters.
MAX_DESCRIPTION_LENGTH = 10_000


def _finite(field: str, value: float, *, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(value, bool | np.bool_):
        msg = f"{field}={value!r} is not allowed; a boolean is not a number."
        raise ValueError(msg)
    if not isinstance(value, int | float | np.integer | np.floating) or not math.isfinite(value):
        msg = f"{field}={value!r} is not allowed; expected a finite number."
        raise ValueError(msg)
    if not low <= value <= high:
        msg = f"{field}={value!r} is not allowed; expected a number from {low:g} to {high:g}."
        raise ValueError(msg)
    return float(value)


def _name(field: str, value: str) -> str:
    return check_name(field, value)


class ProgramSpec(StrictModel):
    """A gene program: genes that go up together, each by its loading per unit of activation.

    Examples
    --------
    >>> ProgramSpec(name="luminal", loading={"ESR1": 6.0, "GATA3": 8.0}).loading["ESR1"]
    6.0
    """

    name: str = Field(description="unique name of the program (a column of the program gpar_df)")
    loading: dict[str, float] = Field(
        min_length=1,
        description=f"{{gene: weight}}: molecules per cell added per unit of activation; 0 to {MAX_GENE_MEAN:g}",
    )
    description: str | None = Field(
        None, max_length=MAX_DESCRIPTION_LENGTH,
        description=f"free text, e.g. the biology the program stands for; at most {MAX_DESCRIPTION_LENGTH:,} "
        "characters, no NUL",
    )

    @field_validator("name")
    @classmethod
    def _program_name(cls, value: str) -> str:
        _name("programs[].name", value)
        if value in RESERVED_COLUMNS or value.endswith(("_mu", "_theta")):
            msg = (
                f"programs[].name={value!r} is not allowed; a program's name becomes a gpar_df column, so it "
                f"must not be one of {list(RESERVED_COLUMNS)} nor end in '_mu' or '_theta'."
            )
            raise ValueError(msg)
        return value

    @field_validator("loading", mode="before")
    @classmethod
    def _loading(cls, value: object, info: Any) -> object:
        # Before pydantic's own conversion, which would read ``true`` as 1.0.
        if not isinstance(value, dict):
            return value
        name = info.data.get("name", "?")
        if len(value) > MAX_GENES:
            msg = f"programs[{name!r}].loading has {len(value):,} genes; a panel has at most {MAX_GENES:,}."
            raise ValueError(msg)
        out = {}
        for gene, weight in value.items():
            _name(f"programs[{name!r}].loading key", gene)
            weight = _finite(f"programs[{name!r}].loading[{gene!r}]", weight)
            if weight < 0:
                msg = f"programs[{name!r}].loading[{gene!r}]={weight!r} is not allowed; a loading must be ≥ 0."
                raise ValueError(msg)
            if weight > MAX_GENE_MEAN:
                msg = (
                    f"programs[{name!r}].loading[{gene!r}]={weight!r} is not allowed; a loading is molecules per "
                    f"cell per unit of activation, at most {MAX_GENE_MEAN:g}."
                )
                raise ValueError(msg)
            out[gene] = weight
        return out

    @field_validator("description")
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            msg = "programs[].description holds a NUL character; stores cannot hold it."
            raise ValueError(msg)
        return value


class CellTypeSpec(StrictModel):
    """A cell type of the program model: its share of the cells and its program activations.

    ``program_activations`` may be given as a list in program order; the config turns it into
    ``{program: mean}`` (:func:`resolve_cell_type_specs`). ``proportion`` is a weight: the
    config normalises the weights of all types to fractions (all omitted: equal shares).

    Examples
    --------
    >>> CellTypeSpec(program_activations={"luminal": 1.0}, activation_sd=0.2).activation_sd
    0.2
    """

    proportion: Real | None = Field(
        None, ge=0, le=MAX_PROPORTION_WEIGHT,
        description="share of the cells (weights normalised over the types; omitted everywhere: equal); "
        f"0 to {MAX_PROPORTION_WEIGHT:g}",
    )
    program_activations: dict[str, float] | list[float] = Field(
        default_factory=dict,
        description="{program: mean activation}, or a list in program order; unlisted: 0; each within "
        f"±{MAX_ACTIVATION:g}",
    )
    activation_sd: float | dict[str, float] = Field(
        0.0, description=f"s.d. of the activations around their means: one value, or {{program: sd}}; 0 to "
        f"{MAX_ACTIVATION:g}",
    )

    @field_validator("program_activations", mode="before")
    @classmethod
    def _activations(cls, value: object) -> object:
        # Before pydantic's own conversion, which would read ``true`` as 1.0.
        bound = {"low": -MAX_ACTIVATION, "high": MAX_ACTIVATION}
        if isinstance(value, list | tuple):
            return [_finite(f"program_activations[{i}]", v, **bound) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: _finite(f"program_activations[{k!r}]", v, **bound) for k, v in value.items()}
        return value

    @field_validator("activation_sd", mode="before")
    @classmethod
    def _sd(cls, value: object) -> object:
        if not isinstance(value, dict):
            value = _finite("activation_sd", value)
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for key, sd in items:
            field = "activation_sd" if key is None else f"activation_sd[{key!r}]"
            if _finite(field, sd) < 0:
                msg = f"{field}={sd!r} is not allowed; a standard deviation must be ≥ 0."
                raise ValueError(msg)
            if sd > MAX_ACTIVATION:
                msg = f"{field}={sd!r} is not allowed; a standard deviation may be at most {MAX_ACTIVATION:g}."
                raise ValueError(msg)
        return {k: float(v) for k, v in value.items()} if isinstance(value, dict) else float(value)


def program_gene_names(programs: list[ProgramSpec], extra_genes: list[str] | None = None) -> list[str]:
    """The gene universe: loading genes in order of first appearance, then the extra genes not among them.

    Examples
    --------
    >>> progs = [ProgramSpec(name="a", loading={"X": 1, "Y": 2}), ProgramSpec(name="b", loading={"Y": 1, "Z": 1})]
    >>> program_gene_names(progs, ["W", "X"])
    ['X', 'Y', 'Z', 'W']
    """
    genes = dict.fromkeys(g for p in programs for g in p.loading)
    genes.update(dict.fromkeys(extra_genes or []))
    return list(genes)


def resolve_cell_type_specs(
    specs: dict[str, CellTypeSpec], programs: list[ProgramSpec]
) -> dict[str, CellTypeSpec]:
    """Check the cell types against the programs; activations as dicts, proportions as fractions.

    Parameters
    ----------
    specs
        ``cell_type_specs`` as given.
    programs
        ``programs`` as given.

    Returns
    -------
    New specs (the given objects are not changed): ``program_activations`` a dict keyed by
    program names, ``activation_sd`` checked against them, ``proportion`` the type's fraction
    of the cells (given weights divided by their sum; all omitted: equal).

    Raises
    ------
    ValueError
        Naming the cell type, the field, the value and what is allowed.
    """
    names = [p.name for p in programs]
    known = set(names)
    given = {k: s.proportion for k, s in specs.items()}
    missing = [k for k, p in given.items() if p is None]
    if missing and len(missing) < len(given):
        msg = (
            f"cell_type_specs: proportion is given for some cell types but not for {missing}; give it for "
            "every type (weights, normalised to sum to 1) or for none (equal shares)."
        )
        raise ValueError(msg)
    total = math.fsum(p for p in given.values() if p is not None)
    if math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9):
        total = 1.0  # already fractions: kept as given, so a config read back is the same config
    if not missing and total <= 0:
        msg = f"cell_type_specs: the proportions {given} sum to {total}; at least one must be > 0."
        raise ValueError(msg)
    out = {}
    for ct, spec in specs.items():
        _name("cell_type_specs key", ct)
        acts = spec.program_activations
        if isinstance(acts, list):
            if len(acts) != len(names):
                msg = (
                    f"cell_type_specs[{ct!r}].program_activations has {len(acts)} values; a list needs one per "
                    f"program, in program order {names}."
                )
                raise ValueError(msg)
            acts = dict(zip(names, acts, strict=True))
        unknown = [p for p in acts if p not in known]
        if unknown:
            msg = f"cell_type_specs[{ct!r}].program_activations names unknown programs {unknown}; known: {names}."
            raise ValueError(msg)
        sd = spec.activation_sd
        if isinstance(sd, dict):
            stray = [p for p in sd if p not in acts]
            if stray:
                msg = (
                    f"cell_type_specs[{ct!r}].activation_sd names programs {stray} the type does not list in "
                    f"program_activations {list(acts)}; unlisted programs are 0 with no spread."
                )
                raise ValueError(msg)
        proportion = 1.0 / len(specs) if missing else spec.proportion / total
        out[ct] = CellTypeSpec(proportion=proportion, program_activations=acts, activation_sd=sd)
    return out


def changed_fields(model: BaseModel, fields: tuple[str, ...]) -> list[str]:
    """Those of ``fields`` whose value in ``model`` is not the field's default."""
    spec = type(model).model_fields
    return [f for f in fields if getattr(model, f) != spec[f].get_default(call_default_factory=True)]


class ProgramModelConfig(Protocol):
    """What :func:`resolve_program_model` reads of a config (a :class:`~STpuppeteer.config.SimulationConfig`)."""

    programs: list[ProgramSpec]
    cell_type_specs: dict[str, CellTypeSpec]
    extra_genes: list[str]
    tissue: TissueConfig
    n_celltype: int
    n_genes: int
    celltype_names: list[str] | None
    model_fields_set: set[str]


def resolve_program_model(config: ProgramModelConfig) -> dict[str, Any]:
    """Check a program-model config; its derived values: resolved specs, cell types, gene count.

    Raises
    ------
    ValueError
        If ``programs`` or ``cell_type_specs`` is missing, a prior-model field is set, the
        proportions are given in ``tissue``, or a given ``n_celltype`` / ``n_genes`` /
        ``celltype_names`` disagrees with the programs and cell types.
    """
    if not config.programs or not config.cell_type_specs:
        missing = "programs" if not config.programs else "cell_type_specs"
        msg = f"the program model needs both programs and cell_type_specs; {missing} is empty."
        raise ValueError(msg)
    off = changed_fields(config, PRIOR_FIELDS)
    if off:
        msg = (
            f"{off} belong to the prior model (marker / housekeeping / silent gamma priors); a program "
            "config (programs + cell_type_specs) must leave them unset."
        )
        raise ValueError(msg)
    if config.tissue.proportions is not None:
        msg = (
            f"tissue.proportions={config.tissue.proportions!r} is not allowed with programs: the proportions "
            "of the cell types are cell_type_specs[name].proportion."
        )
        raise ValueError(msg)
    for field, count, most in (("programs", len(config.programs), MAX_PROGRAMS),
                               ("cell_type_specs", len(config.cell_type_specs), MAX_CELLTYPES)):
        if count > most:
            msg = f"{field} has {count:,} entries; at most {most:,} are allowed."
            raise ValueError(msg)
    specs = resolve_cell_type_specs(config.cell_type_specs, config.programs)
    names = list(specs)
    n_genes = len(program_gene_names(config.programs, config.extra_genes))
    if n_genes > MAX_GENES:
        msg = (
            f"the programs and extra_genes name {n_genes:,} genes; a panel has at most {MAX_GENES:,} "
            "(a whole transcriptome)."
        )
        raise ValueError(msg)
    given = config.model_fields_set
    for field, value, derived in (("n_celltype", config.n_celltype, len(names)), ("n_genes", config.n_genes, n_genes)):
        if field in given and value != derived:
            msg = (
                f"{field}={value} disagrees with the program config, which gives {derived}; "
                f"leave {field} out (it follows from programs, extra_genes and cell_type_specs)."
            )
            raise ValueError(msg)
    if "celltype_names" in given and config.celltype_names is not None and config.celltype_names != names:
        msg = (
            f"celltype_names={config.celltype_names!r} disagrees with the keys of cell_type_specs {names}; "
            "leave celltype_names out with programs."
        )
        raise ValueError(msg)
    return {"cell_type_specs": specs, "n_celltype": len(names), "n_genes": n_genes, "celltype_names": names}


def shorthand_program_fields(data: dict[str, Any]) -> dict[str, Any] | None:
    """The config fields a ``from_dict`` shorthand stands for, or ``None`` if ``data`` is not one.

    The shorthand ``{n_cells, n_celltype, n_programs, n_genes_per_program, n_hk_genes, seed}``
    (any of the last three keys selects it; other config fields may be given beside it) builds:

    * programs ``prog_0`` … ``prog_{n_programs-1}``, program p loading its own genes
      ``prog_{p}_gene_{i}`` (i < ``n_genes_per_program``) with weights falling linearly from 10
      to 2 molecules per cell (one gene: 10);
    * if ``n_hk_genes`` > 0, a program ``housekeeping`` loading ``hk_0`` … with weight 3;
    * cell types ``ct_0`` … ``ct_{n_celltype-1}`` in equal proportions: program p goes to type
      p mod n_celltype (activation 1, no spread), so every type has its own programs and
      ``n_programs`` must be at least ``n_celltype``; every type activates ``housekeeping`` at 1.

    So n_genes = n_programs · n_genes_per_program + n_hk_genes.

    Examples
    --------
    >>> fields = shorthand_program_fields({"n_celltype": 2, "n_programs": 3, "n_genes_per_program": 2,
    ...                                    "n_hk_genes": 1})
    >>> [p["name"] for p in fields["programs"]], fields["cell_type_specs"]["ct_0"]["program_activations"]
    (['prog_0', 'prog_1', 'prog_2', 'housekeeping'], {'prog_0': 1.0, 'prog_2': 1.0, 'housekeeping': 1.0})
    """
    if not any(key in data for key in _SHORTHAND_MARKERS):
        return None
    clash = [k for k in ("programs", "cell_type_specs", "extra_genes") if k in data]
    if clash:
        msg = f"from_dict: the shorthand ({', '.join(_SHORTHAND_MARKERS)}) builds the programs; do not give {clash}."
        raise ValueError(msg)
    rest = {k: v for k, v in data.items() if k not in SHORTHAND_KEYS}
    counts = {}
    for key, default, low, high in (("n_celltype", 3, 1, MAX_CELLTYPES), ("n_programs", 3, 1, MAX_PROGRAMS),
                                    ("n_genes_per_program", 10, 1, MAX_GENES), ("n_hk_genes", 0, 0, MAX_GENES)):
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            msg = f"from_dict shorthand: {key}={value!r} is not allowed; expected an integer from {low} to {high:,}."
            raise ValueError(msg)
        counts[key] = value
    n_genes = counts["n_programs"] * counts["n_genes_per_program"] + counts["n_hk_genes"]
    if n_genes > MAX_GENES:
        msg = (
            f"from_dict shorthand: n_programs × n_genes_per_program + n_hk_genes = {n_genes:,} genes; a panel has "
            f"at most {MAX_GENES:,}."
        )
        raise ValueError(msg)
    n_types, n_programs = counts["n_celltype"], counts["n_programs"]
    if n_programs < n_types:
        msg = (
            f"from_dict shorthand: n_programs={n_programs} is less than n_celltype={n_types}; each cell type "
            "needs a program of its own (program p goes to type p mod n_celltype)."
        )
        raise ValueError(msg)
    n_per = counts["n_genes_per_program"]
    weights = np.linspace(10.0, 2.0, n_per) if n_per > 1 else np.array([10.0])
    programs: list[dict[str, Any]] = [
        {"name": f"prog_{p}", "loading": {f"prog_{p}_gene_{i}": float(w) for i, w in enumerate(weights)}}
        for p in range(n_programs)
    ]
    if counts["n_hk_genes"]:
        programs.append({"name": "housekeeping", "loading": {f"hk_{i}": 3.0 for i in range(counts["n_hk_genes"])}})
    specs = {}
    for k in range(n_types):
        acts = {f"prog_{p}": 1.0 for p in range(k, n_programs, n_types)}
        if counts["n_hk_genes"]:
            acts["housekeeping"] = 1.0
        specs[f"ct_{k}"] = {"program_activations": acts}
    fields = {**rest, "programs": programs, "cell_type_specs": specs}
    for key in ("n_cells", "seed"):
        if key in data:
            fields[key] = data[key]
    return fields
