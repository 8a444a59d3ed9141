"""The table model of expression: real gene names with μ and θ per cell type, used as given (``gene_table``).

A config that holds a ``gene_table`` (``config.expression_model == "table"``) names its genes
and cell types and gives, for every gene g and cell type t, the mean μ_g,t (molecules per cell
at size factor 1) and the negative-binomial dispersion θ_g,t (counts are Gamma–Poisson with
variance m + m²/θ). Nothing is drawn in stage 1: ``gpar_df`` is the table
(:func:`~STpuppeteer.stages.genes.generate_gene_parameters`), and stage 3 draws counts from it
as from the prior model's. ``stpuppeteer fit`` writes such configs (``docs/model_genes.md``)::

    gene_table:
      celltypes: [T cell, B cell]
      genes:
        CD3E: {marks: [T cell], mu: [3.1, 0.02], theta: 1.4}
        ACTB: {mu: [5.0, 4.2], theta: [8.0, 7.5]}
        XIST: {class: silent, mu: 0.01, theta: 2.0, compartment_preference: nuclear, compartment_strength: 0.8}

This module holds the two models (:class:`GeneTable`, :class:`GeneEntry`), the check of a
whole config (:func:`resolve_table_model`), which fields each expression model serialises
(:func:`foreign_fields`) and the compact YAML of a table config (:func:`dump_config_yaml`).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, get_args

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_serializer, model_validator

from STpuppeteer.config._base import (
    MAX_CELLTYPES,
    MAX_GENE_MEAN,
    MAX_GENES,
    MAX_THETA,
    MIN_THETA,
    Name,
    Real,
    StrictModel,
)
from STpuppeteer.config._yaml import FlowMapping, FlowSequence, dump_yaml
from STpuppeteer.config.localisation import check_pattern
from STpuppeteer.config.panel import HK_TYPE, SILENCE_TYPE
from STpuppeteer.config.programs import PRIOR_FIELDS, PROGRAM_DERIVED, PROGRAM_FIELDS, changed_fields

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "GENE_CLASSES",
    "TABLE_FIELDS",
    "GeneClass",
    "GeneEntry",
    "GeneTable",
    "dump_config_yaml",
    "foreign_fields",
    "resolve_table_model",
]

#: What a gene of the table is: it labels the gene (``gpar_df["gene_type"]``, plots, marker metrics);
#: its μ and θ are used as given whatever the class.
GeneClass = Literal["marker", "housekeeping", "silent"]
GENE_CLASSES: tuple[str, ...] = get_args(GeneClass)
#: Fields of the table model only: ``None`` in the other models, and not serialised there.
TABLE_FIELDS = ("gene_table",)

_ALLOWED_MU = f"a mean is molecules per cell at size factor 1, a finite number from 0 to {MAX_GENE_MEAN:g}"
_ALLOWED_THETA = (
    f"θ is the negative-binomial dispersion (variance m + m²/θ), a finite number from {MIN_THETA:g} to "
    f"{MAX_THETA:g} (below, one draw can reach m/θ molecules; above, counts are Poisson to within 0.1 %)"
)


class GeneEntry(StrictModel):
    """One gene of a :class:`GeneTable`: its class, the cell types it marks, μ and θ per cell type.

    ``class`` (the YAML key; ``gene_class`` in Python) defaults to ``"marker"`` when ``marks``
    is given and ``"housekeeping"`` otherwise. ``mu`` and ``theta`` hold one value per cell type
    of the table, in its order; in a table given as a mapping (YAML), one number stands for the
    same value in every type.

    Examples
    --------
    >>> GeneEntry.model_validate({"marks": ["T cell"], "mu": [3.1, 0.02], "theta": [1.4, 1.4]}).gene_class
    'marker'
    """

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    gene_class: GeneClass | None = Field(
        None,
        alias="class",
        description="marker, housekeeping or silent (default: marker if marks is given, else housekeeping); "
        "labels the gene, μ and θ are used as given",
    )
    marks: list[Name] = Field(
        default_factory=list,
        max_length=MAX_CELLTYPES,
        description="the cell types a marker gene marks (the table's names; only with class marker)",
    )
    mu: list[Real] = Field(
        min_length=1,
        max_length=MAX_CELLTYPES,
        description=f"μ per cell type, in the table's order (or one number for all): {_ALLOWED_MU}",
    )
    theta: list[Real] = Field(
        min_length=1,
        max_length=MAX_CELLTYPES,
        description=f"θ per cell type, in the table's order (or one number for all); {MIN_THETA:g} to {MAX_THETA:g}",
    )
    compartment_preference: str | None = Field(
        None,
        description="the gene's localisation pattern (transcripts.localisation: uniform, nuclear, perinuclear, "
        "cytoplasmic, cell_edge, distal, foci); None: as transcripts.localisation gives it",
    )
    compartment_strength: Real | None = Field(
        None, ge=0, le=1,
        description="strength of compartment_preference in [0, 1]; None: transcripts.localisation.strength",
    )

    @field_validator("compartment_preference", mode="before")
    @classmethod
    def _pattern(cls, value: object) -> object:
        return None if value is None else check_pattern("compartment_preference", value)

    @model_validator(mode="after")
    def _default_class(self) -> Self:
        if self.gene_class is None:
            self.__dict__["gene_class"] = "marker" if self.marks else "housekeeping"
        return self

    @model_serializer
    def _compact(self) -> dict[str, Any]:
        # ``class`` only where it is not the default, ``marks`` only when given, one number for equal values.
        out: dict[str, Any] = {}
        if self.gene_class != ("marker" if self.marks else "housekeeping"):
            out["class"] = self.gene_class
        if self.marks:
            out["marks"] = list(self.marks)
        for key in ("mu", "theta"):
            values = list(getattr(self, key))
            out[key] = values[0] if len(set(values)) == 1 else values
        for key in ("compartment_preference", "compartment_strength"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


class GeneTable(StrictModel):
    """Genes by name with μ and θ per cell type, used by the simulation as given.

    Examples
    --------
    >>> table = GeneTable(celltypes=["T cell", "B cell"],
    ...                   genes={"CD3E": {"marks": ["T cell"], "mu": [3.1, 0.02], "theta": 1.4},
    ...                          "ACTB": {"mu": [5.0, 4.2], "theta": [8.0, 7.5]}})
    >>> table.mu_array().tolist(), table.gene_types()
    ([[3.1, 5.0], [0.02, 4.2]], ['ct_0_mkr', 'hk'])
    """

    celltypes: list[Name] = Field(
        min_length=1,
        max_length=MAX_CELLTYPES,
        description="the cell types, in the order of every gene's mu and theta (cell_gdf['celltype'] holds them)",
    )
    genes: dict[Name, GeneEntry] = Field(
        min_length=1,
        max_length=MAX_GENES,
        description="{gene: {class, marks, mu, theta}} in panel order (the columns of count_array)",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_number_for_all(cls, data: object) -> object:
        # ``mu: 0.5`` stands for 0.5 in every cell type (and so does ``theta``).
        if not isinstance(data, dict) or not isinstance(data.get("genes"), dict):
            return data
        n = len(data["celltypes"]) if isinstance(data.get("celltypes"), list | tuple) else 1
        genes = {}
        for gene, entry in data["genes"].items():
            if isinstance(entry, dict):
                entry = {k: [v] * n if k in ("mu", "theta") and _is_number(v) else v for k, v in entry.items()}
            genes[gene] = entry
        return {**data, "genes": genes}

    @model_validator(mode="after")
    def _check(self) -> Self:
        types = self.celltypes
        twice = sorted(n for n, c in Counter(types).items() if c > 1)
        if twice:
            msg = f"gene_table.celltypes={types!r} names {twice} more than once; cell type names must be unique."
            raise ValueError(msg)
        for gene, entry in self.genes.items():
            where = f"gene_table.genes[{gene!r}]"
            for key in ("mu", "theta"):
                values = getattr(entry, key)
                if len(values) != len(types):
                    msg = (
                        f"{where}.{key}={values!r} has {len(values)} values; it needs one per cell type of "
                        f"gene_table.celltypes {types} ({len(types)}), or one number for all."
                    )
                    raise ValueError(msg)
            unknown = [t for t in entry.marks if t not in types]
            repeated = sorted(t for t, c in Counter(entry.marks).items() if c > 1)
            if unknown or repeated:
                msg = (
                    f"{where}.marks={entry.marks!r} is not allowed; it lists cell types of gene_table.celltypes "
                    f"{types}, each once (unknown: {unknown}, twice: {repeated})."
                )
                raise ValueError(msg)
            if entry.gene_class == "marker" and not entry.marks:
                msg = (
                    f"{where}.class='marker' needs marks: the cell types the gene marks, from gene_table.celltypes "
                    f"{types}."
                )
                raise ValueError(msg)
            if entry.marks and entry.gene_class != "marker":
                msg = (
                    f"{where}.marks={entry.marks!r} is not allowed with class={entry.gene_class!r}; only a marker "
                    "marks cell types (write class: marker, or leave class out)."
                )
                raise ValueError(msg)
        self._check_range("mu", self.mu_array(), 0.0, MAX_GENE_MEAN, _ALLOWED_MU)
        self._check_range("theta", self.theta_array(), MIN_THETA, MAX_THETA, _ALLOWED_THETA)
        return self

    def _check_range(self, key: str, values: np.ndarray, low: float, high: float, allowed: str) -> None:
        bad = np.argwhere((values < low) | (values > high))
        if len(bad):
            k, g = bad[0]
            gene = self.gene_names[g]
            msg = (
                f"gene_table.genes[{gene!r}].{key}[{k}]={float(values[k, g])!r} (cell type {self.celltypes[k]!r}) "
                f"is not allowed; {allowed}."
            )
            raise ValueError(msg)

    # --- derived values ---------------------------------------------------------------
    @property
    def gene_names(self) -> list[str]:
        """The genes, in panel order."""
        return list(self.genes)

    @property
    def n_housekeeping(self) -> int:
        """Number of genes of class ``housekeeping``."""
        return sum(entry.gene_class == "housekeeping" for entry in self.genes.values())

    def mu_array(self) -> np.ndarray:
        """μ as a float array, cell types × genes (rows in ``celltypes`` order)."""
        return np.array([e.mu for e in self.genes.values()], dtype=float).reshape(len(self.genes), -1).T

    def theta_array(self) -> np.ndarray:
        """θ as a float array, cell types × genes (rows in ``celltypes`` order)."""
        return np.array([e.theta for e in self.genes.values()], dtype=float).reshape(len(self.genes), -1).T

    def gene_types(self) -> list[str]:
        """``gpar_df["gene_type"]`` of every gene, as the prior model writes it.

        A marker is ``ct_{k}_mkr`` (``ct_{a}_ct_{b}_mkr`` when it marks several types; k, a, b
        the types' positions in ``celltypes``, in that order), a housekeeping gene ``hk``, a
        silent one ``silence``; so :func:`~STpuppeteer.stages.genes.marker_celltypes`, the plots
        and the metrics read the table's markers as the prior model's.
        """
        position = {t: k for k, t in enumerate(self.celltypes)}
        out = []
        for entry in self.genes.values():
            if entry.gene_class == "marker":
                out.append("_".join(f"ct_{k}" for k in sorted(position[t] for t in entry.marks)) + "_mkr")
            else:
                out.append(HK_TYPE if entry.gene_class == "housekeeping" else SILENCE_TYPE)
        return out

    @classmethod
    def from_arrays(
        cls,
        genes: Sequence[str],
        celltypes: Sequence[str],
        *,
        mu: np.ndarray,
        theta: np.ndarray,
        classes: Mapping[str, str] | None = None,
        marks: Mapping[str, Sequence[str]] | None = None,
    ) -> GeneTable:
        """A table from arrays, as a fit produces them.

        Parameters
        ----------
        genes
            Gene names, in panel order (unique).
        celltypes
            Cell type names (unique).
        mu
            μ, **cell types × genes** (the orientation of :meth:`mu_array`,
            :func:`~STpuppeteer.stages.counts.nb_parameters` and ``program_means``).
        theta
            θ, cell types × genes; or one θ per gene (shape ``(n_genes,)``), shared by the types.
        classes
            ``{gene: class}`` for the genes whose class is not the default (``"silent"`` genes,
            say); a gene in ``marks`` is a marker, the others housekeeping.
        marks
            ``{gene: [cell type, ...]}``: the marker genes and the types each marks.

        Returns
        -------
        The validated table; values are stored as Python floats, exactly.

        Raises
        ------
        ValueError
            On a shape that does not fit the names, repeated gene names, or anything
            :class:`GeneTable` refuses.

        Examples
        --------
        >>> t = GeneTable.from_arrays(["CD3E", "ACTB"], ["T cell", "B cell"], mu=np.array([[3.0, 5.0], [0.0, 4.0]]),
        ...                           theta=np.array([1.5, 8.0]), marks={"CD3E": ["T cell"]})
        >>> t.genes["CD3E"].mu, t.genes["ACTB"].theta, t.genes["ACTB"].gene_class
        ([3.0, 0.0], [8.0, 8.0], 'housekeeping')
        """
        genes, celltypes = [str(g) for g in genes], [str(t) for t in celltypes]
        twice = sorted(g for g, c in Counter(genes).items() if c > 1)
        if twice:
            msg = f"genes has names {twice[:10]} more than once; gene names must be unique."
            raise ValueError(msg)
        shape = (len(celltypes), len(genes))
        mu = np.asarray(mu, dtype=float)
        theta = np.asarray(theta, dtype=float)
        if theta.shape == (len(genes),):
            theta = np.broadcast_to(theta, shape)
        for name, array in (("mu", mu), ("theta", theta)):
            if array.shape != shape:
                msg = (
                    f"{name} has shape {array.shape}; it must be cell types × genes {shape}"
                    + (" or one θ per gene" if name == "theta" else "")
                    + (" (transpose it: genes × cell types was given)" if array.shape == shape[::-1] else "")
                    + "."
                )
                raise ValueError(msg)
        for name, given in (("classes", classes or {}), ("marks", marks or {})):
            unknown = [g for g in given if g not in set(genes)]
            if unknown:
                msg = f"{name} names genes {unknown[:10]} that are not in genes."
                raise ValueError(msg)
        entries: dict[str, dict[str, Any]] = {}
        for g, gene in enumerate(genes):
            entry: dict[str, Any] = {"mu": mu[:, g].tolist(), "theta": theta[:, g].tolist()}
            if classes and gene in classes:
                entry["class"] = classes[gene]
            if marks and gene in marks:
                entry["marks"] = [str(t) for t in marks[gene]]
            entries[gene] = entry
        return cls(celltypes=celltypes, genes=entries)


# --- the table in a whole config --------------------------------------------------------
class TableModelConfig(Protocol):
    """What :func:`resolve_table_model` reads of a config (a :class:`~STpuppeteer.config.SimulationConfig`)."""

    gene_table: GeneTable | None
    n_celltype: int
    n_genes: int
    celltype_names: list[str] | None
    model_fields_set: set[str]


def resolve_table_model(config: TableModelConfig) -> dict[str, Any]:
    """Check a table-model config; its derived values: the cell types and the counts.

    Returns
    -------
    ``{"celltype_names", "n_celltype", "n_genes"}`` from the table.

    Raises
    ------
    ValueError
        If a field of the prior or program model is set (naming them), or a given
        ``n_celltype`` / ``n_genes`` / ``celltype_names`` disagrees with the table.
    """
    table = config.gene_table
    if table is None:
        msg = "the table model needs gene_table."
        raise ValueError(msg)
    off = changed_fields(config, PRIOR_FIELDS + PROGRAM_FIELDS)  # type: ignore[arg-type]
    if off:
        msg = (
            f"{off} do not apply with gene_table: μ and θ of every gene and cell type come from the table, "
            "so the prior model's and the program model's fields must be left unset."
        )
        raise ValueError(msg)
    derived = {"celltype_names": list(table.celltypes), "n_celltype": len(table.celltypes), "n_genes": len(table.genes)}
    given = config.model_fields_set
    for field in PROGRAM_DERIVED:
        value = getattr(config, field)
        if field in given and value is not None and value != derived[field]:
            msg = (
                f"{field}={value!r} disagrees with gene_table, which gives {derived[field]!r}; leave {field} out "
                "(it follows from the table)."
            )
            raise ValueError(msg)
    return derived


def foreign_fields(expression_model: str) -> set[str]:
    """Fields a config of ``expression_model`` does not serialise: the other models' own fields.

    Outside the prior model the cell types and counts are derived (from the programs or the
    table), so they are not written either.
    """
    if expression_model == "table":
        return {*PRIOR_FIELDS, *PROGRAM_FIELDS, *PROGRAM_DERIVED}
    if expression_model == "programs":
        return {*PRIOR_FIELDS, *PROGRAM_DERIVED, *TABLE_FIELDS}
    return {*PROGRAM_FIELDS, *TABLE_FIELDS}


def dump_config_yaml(data: dict[str, Any]) -> str:
    """YAML of a serialised config (:meth:`~STpuppeteer.config.SimulationConfig.to_dict`).

    Without a gene table this is ``dump_yaml(data, sort_keys=False)``; with one, each gene is
    written on one line (``CD3E: {marks: [T cell], mu: [3.1, 0.02], theta: 1.4}``).
    """
    table = data.get("gene_table")
    if table is None:
        return dump_yaml(data, sort_keys=False)
    compact = {
        "celltypes": FlowSequence(table["celltypes"]),
        "genes": {gene: FlowMapping(entry) for gene, entry in table["genes"].items()},
    }
    return dump_yaml({**data, "gene_table": compact}, sort_keys=False, width=1_000_000)
