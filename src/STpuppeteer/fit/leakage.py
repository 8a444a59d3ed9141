"""Ambient RNA and leakage of molecules out of their cells, estimated together from where marker genes land.

The simulator's model (docs/data_contract.md; ``stages/transcripts/leakage.py``,
``background.py``): each molecule of a cell of type t leaves it with probability p_t
(``leakage_by_celltype``), landing just beyond its boundary, in the gap between cells or in a
neighbour; ambient molecules fall uniformly over the region at ``ambient_rate_per_um2``, their
gene drawn in proportion to the genes' total expression (``ambient_genes='expression'``) or
uniformly. Both put gene molecules outside cells, so each estimate needs the other; they are
alternated until the set of leaking types is stable (at most ``_ROUNDS`` rounds).

**Leakage of type t**, from its marker genes M_t (genes whose mean count in t is at least
:data:`~STpuppeteer.fit.genes.MARKER_FOLD` times their mean in every other type;
:func:`~STpuppeteer.fit.genes.classify_genes`), whose molecules come almost only from t's cells:

- leaked out, into the gaps: L_out = (M_t molecules outside every cell) − the ambient expected there;
- leaked into cells of other types: a regression over those cells c of their M_t molecules, less
  the ambient expected in them, on the cells' own expression (their size factor s_c, one
  coefficient per type) and their exposure e_c, the number of type-t cells among their
  ``k_contact`` nearest neighbours: L_other = β Σ_c e_c. This is "beyond what those cells express
  themselves": a cell far from any t-cell shows its own expression only;
- leaked into other t-cells, unseen: a leak lands in a neighbour, which is of type t with the
  share h_t of t-cells among t-cells' neighbours, so L = L_out + L_other / (1 − h_t);
- made in total: Y = (M_t molecules in t-cells − the ambient there) + L_out + L_other (the
  molecules still in their cell, plus every leak seen);
- p_t = L / Y. Its standard error adds the Poisson noise of the molecules outside, the
  regression's (heteroscedasticity-robust) error and Y's: var = (X + var(β)(Σe)²/(1 − h)² + p² I) / Y².

A type leaks (enters ``leakage_by_celltype``) when p_t exceeds ``z_leak`` standard errors.
The per-gene leakage (``leakage_by_gene``) and the leak distance (``leak_dist_factor``) are not
estimated.

**Ambient rate**: gene molecules outside every cell per µm² of the region outside cells (region
area − cell areas), after removing what leaked there: from the genes whose in-cell molecules lie
almost all (≥ 98 %) outside leaking types (at 10 %, a leaking type's share of a gene leaked three
times the ambient of it, and a 2× bias remained), less each leaking type's leaked-out molecules in proportion
to its in-cell molecules of the gene (L_out / in-cell markers, per type), over those genes' share
of the ambient. The share is the gene's share of in-cell molecules ('expression') or 1/G
('uniform'), whichever gives the outside counts the higher Poisson likelihood. Standard error:
Poisson (a count of 0 taken as 1: no molecules outside do not make the rate exact). Ambient and a
leakage shared equally by every type are not told apart by gene composition alone (ambient
follows expression): with every type leaking, the ambient rate is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from STpuppeteer.fit.counts import type_sums
from STpuppeteer.fit.estimates import Estimates
from STpuppeteer.fit.genes import classify_genes

if TYPE_CHECKING:
    from STpuppeteer.fit.reference import Reference

__all__ = ["estimate_ambient_and_leakage"]

_ROUNDS = 5
#: Genes with at most this share of their in-cell molecules in leaking types measure the ambient.
_LEAKY_SHARE = 0.02


@dataclass(frozen=True)
class _Tables:
    """Molecule counts the estimators need, by gene (columns) and cell or place."""

    in_cell: sparse.csr_matrix  # cells × genes, gene molecules by observed cell
    outside: np.ndarray  # per gene, molecules outside every cell
    cell_area: np.ndarray
    area_out: float
    scale: np.ndarray  # each cell's size factor (nucleus area over its type's mean, or 1)


def estimate_ambient_and_leakage(
    reference: Reference,
    codes: np.ndarray,
    celltypes: list[str],
    *,
    in_cell: sparse.csr_matrix,
    outside: np.ndarray,
    area_out_um2: float,
    k_contact: int = 6,
    z_leak: float = 3.0,
) -> Estimates:
    """``instrument.ambient_rate_per_um2``, ``instrument.ambient_genes`` and ``leakage_by_celltype``.

    Parameters
    ----------
    reference
        The dataset (its cells' types, centroids and areas).
    codes
        Each cell's type code, an index into ``celltypes``.
    celltypes
        The type names.
    in_cell
        Cells × genes: gene molecules by the cell they were observed in.
    outside
        Per gene: molecules outside every cell.
    area_out_um2
        Area of the region outside cells, µm².
    k_contact
        Neighbours of a cell that its leaks reach (the exposure's neighbourhood).
    z_leak
        A type leaks when its estimate exceeds this many standard errors.

    Returns
    -------
    The fields, and in ``measured`` each type's ``leakage_<type>`` with its ``_se``.
    """
    codes = np.asarray(codes, dtype=np.intp)
    cells = reference.cells
    area = cells["cell_area"].to_numpy(float)
    scale = np.ones(len(codes))
    if "nucleus_area" in cells.columns and np.all(cells["nucleus_area"].to_numpy(float) > 0):
        nucleus = cells["nucleus_area"].to_numpy(float)
        type_mean = np.bincount(codes, nucleus) / np.maximum(np.bincount(codes), 1)
        scale = nucleus / type_mean[codes]
    tables = _Tables(in_cell.tocsr(), np.asarray(outside, float), area, float(area_out_um2), scale)
    out = Estimates()
    typed = reference.celltypes is not None and len(np.unique(codes)) > 1
    has_xy = {"x", "y"} <= set(cells.columns)
    if not typed or not has_xy:
        out.missing["leakage_by_celltype"] = "no cell types" if not typed else "no cell positions"
        out.notes.append("ambient_rate_per_um2: leakage unknown, so molecules leaked out of cells count as "
                         "ambient (an upper bound)")
    per_type = np.zeros((len(celltypes), 4))  # p, se, leaked-out per in-cell marker molecule, markers
    leaky = np.zeros(len(celltypes), dtype=bool)
    ambient = _ambient(tables, codes, leaky, per_type)
    if typed and has_xy:
        xy = cells[["x", "y"]].to_numpy(float)
        neighbours = cKDTree(xy).query(xy, k=min(k_contact, len(codes) - 1) + 1)[1][:, 1:]
        mean = (type_sums(tables.in_cell, codes, len(celltypes))
                / np.maximum(np.bincount(codes, minlength=len(celltypes)), 1)[:, None])
        marks = classify_genes(mean).marks
        for _ in range(_ROUNDS):
            for t in range(len(celltypes)):
                per_type[t] = _leakage_of(t, np.flatnonzero(marks == t), tables, codes, neighbours,
                                          ambient.rate * ambient.share)
            now = (per_type[:, 0] > z_leak * per_type[:, 1]) & (per_type[:, 3] > 0)
            if np.array_equal(now, leaky) or now.all():
                leaky = now
                break
            leaky = now
            ambient = _ambient(tables, codes, leaky, per_type)
        for t, name in enumerate(celltypes):
            if per_type[t, 3] == 0:
                out.missing[f"leakage_by_celltype[{name!r}]"] = "the type has no marker genes"
                continue
            out.measured[f"leakage_{name}"] = float(per_type[t, 0])
            out.measured[f"leakage_{name}_se"] = float(per_type[t, 1])
            out.measured[f"leakage_{name}_markers"] = float(per_type[t, 3])
        out.fields["leakage_by_celltype"] = {name: float(min(per_type[t, 0], 1.0))
                                             for t, name in enumerate(celltypes) if leaky[t]}
        if leaky.all():
            out.missing["instrument.ambient_rate_per_um2"] = (
                "every type leaks: ambient (which follows expression) and leakage are not told apart")
            return out
    out.fields["instrument.ambient_rate_per_um2"] = max(ambient.rate, 0.0)
    out.fields["instrument.ambient_genes"] = ambient.model
    out.measured.update({"ambient_rate_per_um2_se": ambient.se, "ambient_molecules_counted": ambient.counted,
                         "outside_gene_molecules": float(tables.outside.sum())})
    return out


@dataclass(frozen=True)
class _Ambient:
    rate: float
    se: float
    share: np.ndarray
    model: str
    counted: float


def _ambient(tables: _Tables, codes: np.ndarray, leaky: np.ndarray, per_type: np.ndarray) -> _Ambient:
    """Ambient molecules per µm², each gene's share of them, and the share model (module docstring)."""
    y = tables.in_cell
    n_types, n_genes = len(leaky), y.shape[1]
    by_type = type_sums(y, codes, n_types)
    total = by_type.sum(axis=0)
    leaked_out = per_type[leaky, 2] @ by_type[leaky] if leaky.any() else np.zeros(n_genes)
    with np.errstate(invalid="ignore", divide="ignore"):
        clean = np.where(total > 0, by_type[leaky].sum(axis=0) / total, 0.0) <= _LEAKY_SHARE
    observed = np.maximum(tables.outside - leaked_out, 0.0)[clean]
    best = _Ambient(0.0, float("inf"), np.zeros(n_genes), "expression", 0.0)
    top = -np.inf
    for model, share in (("expression", total / max(total.sum(), 1.0)), ("uniform", np.full(n_genes, 1 / n_genes))):
        weight = float(share[clean].sum())
        if weight <= 0:
            continue
        rate = observed.sum() / (tables.area_out * weight)
        lam = np.maximum(rate * tables.area_out * share[clean], 1e-300)
        loglik = float(np.sum(observed * np.log(lam) - lam))
        if loglik > top:
            se = np.sqrt(max(observed.sum(), 1.0)) / (tables.area_out * weight)  # none counted: ±1, not ±0
            top, best = loglik, _Ambient(float(rate), float(se), share, model,
                                         float(observed.sum()))
    return best


def _leakage_of(t: int, markers: np.ndarray, tables: _Tables, codes: np.ndarray, neighbours: np.ndarray,
                ambient: np.ndarray) -> np.ndarray:
    """(p, s.e., leaked-out per in-cell marker molecule, number of markers) of type ``t``."""
    if len(markers) == 0:
        return np.zeros(4)
    y = np.asarray(tables.in_cell[:, markers].sum(axis=1)).ravel()
    density = float(ambient[markers].sum())  # ambient marker molecules per µm²
    own = codes == t
    in_t = float(y[own].sum() - density * tables.cell_area[own].sum())
    x_out = float(tables.outside[markers].sum())
    l_out = x_out - density * tables.area_out
    exposure = (codes[neighbours] == t).sum(axis=1).astype(float)
    h = float(exposure[own].mean() / neighbours.shape[1]) if own.any() else 0.0
    other = ~own
    types = np.unique(codes[other])
    design = np.column_stack([(codes[other] == u) * tables.scale[other] for u in types] + [exposure[other]])
    response = y[other] - density * tables.cell_area[other]
    gram_inv = np.linalg.pinv(design.T @ design)
    coef = gram_inv @ design.T @ response
    resid = response - design @ coef
    meat = design.T @ (design * resid[:, None] ** 2)
    var_beta = float((gram_inv @ meat @ gram_inv)[-1, -1])
    l_other = float(coef[-1] * exposure[other].sum())
    leaked = l_out + l_other / max(1 - h, 1e-9)
    made = in_t + l_out + l_other
    if made <= 0:
        return np.array([0.0, np.inf, 0.0, len(markers)])
    p = max(leaked / made, 0.0)
    var = (x_out + var_beta * exposure[other].sum() ** 2 / max(1 - h, 1e-9) ** 2 + p * p * max(in_t, 0.0)) / made**2
    return np.array([p, np.sqrt(var), max(l_out, 0.0) / max(in_t, 1.0), len(markers)])
