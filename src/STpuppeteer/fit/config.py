"""``fit_config``: a SimulationConfig from a real dataset, and what was and was not estimated.

Steps: read the input into a :class:`~STpuppeteer.fit.reference.Reference`; fit the count
model per cell type (:mod:`~STpuppeteer.fit.counts`); express it in the chosen expression
model; estimate the tissue, the spatial pattern and the molecules where the input carries
them; lay the estimates over a preset (every field not estimated keeps the preset's value, and
the fit says which those are).

Expression models (``model``):

- ``"table"`` (default): an explicit gene table, the real gene names with the fitted μ and θ
  per type, used by the simulator as is: the most faithful;
- ``"seed"``: the seed's gamma priors fitted to the gene classes (marker / housekeeping /
  silent): synthetic gene names, the fitted spread;
- ``"programs"``: gene programs and activations by non-negative factorisation, real names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from STpuppeteer.config import SimulationConfig
from STpuppeteer.config.presets import PRESETS, merge_overrides
from STpuppeteer.fit.counts import CountFit, fit_counts
from STpuppeteer.fit.estimates import Estimates
from STpuppeteer.fit.genes import classify_genes, seed_priors
from STpuppeteer.fit.programs import fit_programs
from STpuppeteer.fit.reference import Reference

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["FitModel", "FitResult", "fit_config", "fit_reference"]

FitModel = Literal["table", "seed", "programs"]
MODELS: tuple[str, ...] = ("table", "seed", "programs")
#: The one cell type of data without types.
ONE_TYPE = "cell"


@dataclass(frozen=True)
class FitResult:
    """A fit: the config, the count fit behind it, every estimate, and the reference it came from."""

    config: SimulationConfig
    counts: CountFit
    estimates: Estimates
    reference: Reference

    def header(self) -> str:
        """Comment lines for the fitted YAML: the source, what was estimated, what was not and why."""
        lines = [f"Fitted by STpuppeteer from {self.reference.source}", f"model: {self._model}"]
        lines += [f"note: {n}" for n in [*self.reference.notes, *self.estimates.notes]]
        lines.append("estimated: " + ", ".join(sorted(self.estimates.fields)))
        lines += [f"not estimated: {k}: {why}" for k, why in sorted(self.estimates.missing.items())]
        lines += [f"measured: {k} = {v:.4g}" for k, v in sorted(self.estimates.measured.items())]
        return "\n".join(lines)

    @property
    def _model(self) -> str:
        return self.config.expression_model

    def to_yaml(self, path: str | Path) -> None:
        """Write the config with :meth:`header` as its leading comment."""
        from pathlib import Path

        from STpuppeteer.config._yaml import dump_yaml

        comment = "".join(f"# {line}\n" for line in self.header().splitlines())
        Path(path).write_text(comment + dump_yaml(self.config.to_dict(), sort_keys=False))


def fit_reference(
    data: Any,  # noqa: ANN401
    *,
    celltype_key: str | None = None,
    model: FitModel = "table",
    n_cells: int | None = None,
    seed: int = 0,
    preset: str = "default",
    cells: Any = None,  # noqa: ANN401
    pixel_size_um: float | None = None,
    progress: bool = False,
) -> FitResult:
    """Fit a config to ``data`` and keep everything the fit found.

    Parameters
    ----------
    data
        A :class:`Reference`, or anything :func:`~STpuppeteer.fit.read.read_reference` reads:
        an AnnData of integer counts, a molecule table, a SpatialData object, or a path to an
        ``.h5ad``, a table, a ``.zarr`` store, a Xenium / MERSCOPE / CosMx folder or a
        ``stpuppeteer simulate`` run folder.
    celltype_key
        The cells' type column; without it every cell is one type, ``"cell"``.
    model
        ``"table"``, ``"seed"`` or ``"programs"`` (module docstring).
    n_cells
        Cells to simulate (default: as many as the reference has).
    seed
        The config's seed.
    preset
        The preset whose values the fields not estimated keep (``"default"``, ``"xenium"`` …).
    cells
        For a molecule table: its cells (a table or file with ids and polygons), as
        :func:`~STpuppeteer.fit.read.read_reference` takes them.
    pixel_size_um
        µm per pixel, for inputs whose coordinates are pixels.
    progress
        Show a progress bar of the estimation steps (on a terminal only).

    Raises
    ------
    ValueError
        For an input the readers refuse (non-integer counts, a missing type column, an empty
        table …), and for cell or nucleus areas that only pixels explain (a fit in the wrong
        unit would simulate cells that size): it names ``pixel_size_um``.

    Returns
    -------
    The fit.
    """
    if model not in MODELS:
        msg = f"model={model!r} is not allowed; choose one of {list(MODELS)}."
        raise ValueError(msg)
    if preset != "default" and preset not in PRESETS:
        msg = f"preset={preset!r} is not known; choose 'default' or one of {sorted(PRESETS)}."
        raise ValueError(msg)
    reference = (data if isinstance(data, Reference)
                 else _read(data, celltype_key=celltype_key, cells=cells, pixel_size_um=pixel_size_um))
    units = [note for note in reference.notes if note.startswith("WARNING")]
    if units:
        msg = f"{reference.source}: {units[0].removeprefix('WARNING: ')} (CLI: --pixel-size-um)"
        raise ValueError(msg)
    codes, celltypes = _type_codes(reference)
    if reference.celltypes is None:  # a note in the fit's copy, not in the caller's reference
        reference = dataclasses.replace(
            reference, notes=[*reference.notes, f"no cell types given: every cell is one type, {ONE_TYPE!r}"])
    counts = fit_counts(reference, codes, celltypes)
    others = Estimates()
    for estimate in _tissue_and_molecules(reference, codes, celltypes, model=model, progress=progress):
        others.update(estimate)
    counts = _before_leakage(counts, others)
    estimates = _expression(counts, model=model).update(others)
    _size_factor_spread(counts, estimates)
    fields = {"seed": seed, "n_cells": n_cells if n_cells is not None else reference.n_cells, **estimates.fields}
    base = {} if preset == "default" else PRESETS[preset]
    config = SimulationConfig.model_validate(merge_overrides(base, _nest(fields)))
    return FitResult(config=config, counts=counts, estimates=estimates, reference=reference)


def fit_config(data: Any, **kwargs: Any) -> SimulationConfig:  # noqa: ANN401
    """A SimulationConfig fitted to ``data``; the arguments of :func:`fit_reference`.

    Examples
    --------
    >>> import anndata, numpy as np, pandas as pd                         # doctest: +SKIP
    >>> cfg = fit_config(adata, celltype_key="cell_type", model="table")  # doctest: +SKIP
    >>> SpotlessSimulator(cfg).run()                                      # doctest: +SKIP
    """
    return fit_reference(data, **kwargs).config


def _read(data: Any, *, celltype_key: str | None, cells: Any, pixel_size_um: float | None) -> Reference:  # noqa: ANN401
    from STpuppeteer.fit.read import read_reference

    options = {k: v for k, v in {"cells": cells, "pixel_size_um": pixel_size_um}.items() if v is not None}
    return read_reference(data, celltype_key=celltype_key, **options)


def _type_codes(reference: Reference) -> tuple[np.ndarray, list[str]]:
    types = reference.celltypes
    if types is None:
        return np.zeros(reference.n_cells, dtype=np.intp), [ONE_TYPE]
    cat = pd.Categorical(types.astype(str))
    present = [str(c) for c in cat.categories]
    return np.asarray(cat.codes, dtype=np.intp), present


def _expression(counts: CountFit, *, model: str) -> Estimates:
    classes = classify_genes(counts.mu)
    measured = {f"genes_{c}": float(np.sum(classes.gene_class == c)) for c in ("marker", "housekeeping", "silent")}
    if model == "programs":
        out = fit_programs(counts)
        out.measured.update(measured)
        return out
    if model == "seed":
        fields: dict[str, Any] = {"n_celltype": len(counts.celltypes), "n_genes": len(counts.genes),
                                  **seed_priors(counts, classes)}
        if counts.celltypes != [f"ct_{k}" for k in range(len(counts.celltypes))]:
            fields["celltype_names"] = counts.celltypes
        fields["tissue.proportions"] = [float(p) for p in counts.proportions]
        return Estimates(fields=fields, measured=measured,
                         missing={"gene names": "the seed model names genes by class (ct_0_mkr_0, hk_0 …)"})
    from STpuppeteer.config.gene_table import GeneTable

    silent = {g: "silent" for g, c in zip(counts.genes, classes.gene_class, strict=True) if c == "silent"}
    marks = {g: [counts.celltypes[k]] for g, k in zip(counts.genes, classes.marks, strict=True) if k >= 0}
    table = GeneTable.from_arrays(counts.genes, counts.celltypes, mu=counts.mu, theta=counts.theta,
                                  classes=silent, marks=marks)
    return Estimates(fields={"gene_table": table.model_dump(mode="json"),
                             "tissue.proportions": [float(p) for p in counts.proportions]}, measured=measured)


def _tissue_and_molecules(
    reference: Reference, codes: np.ndarray, celltypes: list[str], *, model: str, progress: bool
) -> list[Estimates]:
    from tqdm.auto import tqdm

    from STpuppeteer.fit.cells import estimate_cells
    from STpuppeteer.fit.molecules import estimate_molecules
    from STpuppeteer.fit.spatial import estimate_spatial

    steps = {"cells": estimate_cells, "spatial pattern": estimate_spatial, "molecules": estimate_molecules}
    out = []
    with tqdm(steps.items(), desc="fitting", unit="step", disable=None if progress else True) as bar:
        for name, estimate in bar:
            bar.set_postfix_str(name)
            out.append(estimate(reference, codes, celltypes))
    if model == "programs":  # the program model keeps proportions in cell_type_specs
        for est in out:
            est.fields.pop("tissue.proportions", None)
    return out


def _before_leakage(counts: CountFit, estimates: Estimates) -> CountFit:
    """The means a leaking type's cells make, from those that stayed in them: μ / (1 − p_t).

    The counts are of molecules found in each cell; the simulator takes μ as what a cell makes
    and then moves a share p_t of it out (``leakage_by_celltype``). Without this, a fitted
    config would lose the leaked share twice. (Molecules that leak into a cell from its
    neighbours, and ambient ones, stay in its counts: a few per cent of a gene at most.)
    """
    leak = estimates.fields.get("leakage_by_celltype") or {}
    if not leak:
        return counts
    keep = np.array([1.0 - min(leak.get(ct, 0.0), 0.99) for ct in counts.celltypes])[:, None]
    estimates.notes.append(f"μ of the leaking types divided by what stays in their cells: {leak}")
    return dataclasses.replace(counts, mu=counts.mu / keep, mu_se=counts.mu_se / keep)


def _size_factor_spread(counts: CountFit, estimates: Estimates) -> None:
    """Without nucleus areas, carry the library sizes' spread into the simulator's size factors.

    The simulator's size factor is an area over its type's mean times a log-normal level of CV
    ``size_factor_cv`` (``docs/model_genes.md``). Data without areas (a count matrix) still show
    the size factors' spread in their library sizes; :attr:`CountFit.size_factor_cv` is it, net of
    noise. It becomes the level's CV, with the area's part switched off (``size_factor_exponent``
    0): a log-normal level has exactly that CV, whereas nuclei drawn with that CV are shrunk to fit
    their neighbours and spread less.
    """
    if "size_factor_cv" in estimates.fields or counts.size_factor != "library_size":
        return
    cv = float(min(counts.size_factor_cv, 2.0))  # the config's bound
    estimates.fields["size_factor_cv"] = cv
    estimates.fields["size_factor_exponent"] = 0.0
    estimates.missing.pop("size_factor_cv", None)
    estimates.measured["size_factor_cv_from_library_sizes"] = counts.size_factor_cv
    estimates.notes.append(f"no areas: the size factors are a log-normal level of the library sizes' spread net "
                           f"of noise, CV {cv:.3f}")


def _nest(fields: dict[str, Any]) -> dict[str, Any]:
    """Dotted paths (``"tissue.density_per_mm2"``) to nested dicts."""
    out: dict[str, Any] = {}
    for path, value in fields.items():
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
