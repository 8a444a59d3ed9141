"""Molecules: how many per cell, where in the cell, the background, the negative controls, the quality scores.

Estimators, and why (the simulator's side: docs/data_contract.md, ``stages/instrument.py``,
``stages/transcripts/``):

- **Molecules per cell**: gene molecules by the cell they were observed in, per cell and per µm²
  of cell (measured only: the expression level is the count fit's).
- **Nuclear fraction** (``transcripts.nuclear_fraction_by_gene``): the fraction f_g of a gene's
  in-cell molecules that overlap the nucleus, counted in the cells of the types that express it
  (mean count at least a quarter of its highest type's), so that molecules leaked into other types'
  cells do not dilute it. The simulator's default (no fraction given) places a molecule uniformly in
  its cell, so it lands in the nucleus with probability s_c = nucleus area / cell area; a gene whose
  f_g differs from the mean of s_c over its molecules by more than Φ⁻¹(1 − 0.025/G) binomial
  standard errors (Bonferroni over the G genes with at least ``min_gene_molecules``) gets its own
  f_g; the other genes, pooled, get ``transcripts.nuclear_fraction`` if they too differ from the
  uniform rule, and are left to it otherwise. Ambient molecules landing in a cell dilute f_g
  towards s_c by their share (about 1 % at 0.002 per µm²).
- **Negative controls** (the instrument's three ``*_rate_per_um2`` and ``n_*`` fields): control
  molecules of each kind (:data:`CONTROL_KINDS`, from the name) per µm² of the region, Poisson
  standard error; the number of names from those seen, corrected for names never detected
  (:func:`names_in_use`).
  The simulator draws them uniformly over the region, in and outside cells alike.
- **Region**: the reader's ``region_area_um2``, else the convex hull of every molecule (ambient and
  control molecules cover the simulator's region, the cells' bounding box).
- **Quality scores** (``qv_*``): :mod:`STpuppeteer.fit.quality` (censored normals, background apart).
- **Ambient rate and leakage**: :mod:`STpuppeteer.fit.leakage`. The ambient rate is missing when the
  cells cover at least :data:`~STpuppeteer.fit.cells.CONFLUENT_COVER_FRACTION` of the region
  (confluent cells): it is counted outside cells only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
from scipy import optimize, sparse, stats

from STpuppeteer.fit.cells import CONFLUENT_COVER_FRACTION
from STpuppeteer.fit.counts import type_sums
from STpuppeteer.fit.estimates import Estimates
from STpuppeteer.fit.leakage import estimate_ambient_and_leakage
from STpuppeteer.fit.quality import estimate_qv

if TYPE_CHECKING:
    from STpuppeteer.fit.reference import Reference

__all__ = ["CONTROL_KINDS", "estimate_molecules", "names_in_use", "nuclear_fractions"]

#: Control kinds as the instrument config counts them, by name prefix (case-insensitive; the
#: prefixes of :data:`~STpuppeteer.fit.reference.CONTROL_PREFIXES`): probes that target nothing,
#: codewords reserved to catch decoding errors, and codewords no probe uses.
CONTROL_KINDS = {
    "neg_control_probe": ("negcontrolprobe", "negprb", "negative", "genomiccontrol", "intergenic", "antisense"),
    "neg_control_codeword": ("negcontrolcodeword", "falsecode", "systemcontrol"),
    "unassigned_codeword": ("unassignedcodeword", "deprecatedcodeword", "blank", "notarget"),
}
_NAME_COUNT = {"neg_control_probe": "n_neg_control_probes", "neg_control_codeword": "n_neg_control_codewords",
               "unassigned_codeword": "n_unassigned_codewords"}
_EXPRESSED = 0.25


def estimate_molecules(
    reference: Reference,
    codes: np.ndarray,
    celltypes: list[str],
    *,
    min_gene_molecules: int = 20,
    z_leak: float = 3.0,
) -> Estimates:
    """Instrument, placement and leakage fields from the molecule table.

    Parameters
    ----------
    reference
        The dataset (its ``molecules``, and its cells' types, centroids and areas).
    codes
        Each cell's type code, an index into ``celltypes`` (all 0 without types).
    celltypes
        The type names.
    min_gene_molecules
        Fewest in-cell molecules of a gene for its own nuclear fraction.
    z_leak
        A type leaks when its estimate exceeds this many standard errors.

    Returns
    -------
    The fields of the module docstring, their statistics, and what the table cannot give.
    """
    out = Estimates()
    for key in ("instrument.detection_efficiency", "instrument.miscall_rate", "instrument.jitter_um",
                "instrument.fov_efficiency_sd", "leakage_by_gene", "leak_dist_factor"):
        out.missing[key] = "not estimated from molecules without their truth"
    mol = reference.molecules
    if mol is None:
        for key in ("instrument.ambient_rate_per_um2", "instrument.qv_mean", "leakage_by_celltype",
                    "transcripts.nuclear_fraction_by_gene", "instrument.neg_control_probe_rate_per_um2"):
            out.missing[key] = "the reference has no molecule table"
        return out
    codes = np.asarray(codes, dtype=np.intp)
    row = reference.cells.index.get_indexer(mol["cell_id"].astype(object).where(mol["cell_id"].notna(), None))
    control = mol["is_control"].to_numpy(bool)
    column = pd.Index(reference.genes).get_indexer(mol["gene"].astype(str))
    gene = ~control & (column >= 0)
    if np.any(~control & (column < 0)):
        out.notes.append(f"molecules: {int(np.sum(~control & (column < 0)))} of genes outside the panel left out")
    inside = gene & (row >= 0)
    in_cell = sparse.csr_matrix((np.ones(int(inside.sum())), (row[inside], column[inside])),
                                shape=(reference.n_cells, len(reference.genes)))
    in_cell.sum_duplicates()
    outside = np.bincount(column[gene & (row < 0)], minlength=len(reference.genes)).astype(float)
    region = (float(reference.region_area_um2) if reference.region_area_um2 is not None
              else float(shapely.convex_hull(shapely.multipoints(mol[["x", "y"]].to_numpy(float))).area))
    out.measured["molecule_region_area_um2"] = region
    if reference.region_area_um2 is None:
        out.notes.append(f"molecule rates: per µm² of the molecules' convex hull ({region:.4g} µm²)")
    per_cell = np.asarray(in_cell.sum(axis=1)).ravel()
    out.measured.update({"molecules_per_cell_mean": float(per_cell.mean()),
                         "molecules_per_cell_sd": float(per_cell.std()),
                         "molecules_outside_cells_fraction": float(outside.sum() / max(gene.sum(), 1))})
    cell_area = reference.cells["cell_area"].to_numpy(float) if reference.has("cell_area") else None
    if cell_area is not None:
        out.measured["molecules_per_um2_of_cell"] = float(per_cell.sum() / cell_area.sum())
    _controls(mol["gene"].astype(str).to_numpy()[control], region, out)
    estimate_qv(mol, inside=inside, control=control, out=out)
    if "overlaps_nucleus" in mol.columns and reference.has("overlaps_nucleus"):
        _nuclear(nuclear_fractions(reference, codes, celltypes, row=row, column=column, inside=inside,
                                   in_cell=in_cell), min_gene_molecules=min_gene_molecules, out=out)
    else:
        out.missing["transcripts.nuclear_fraction_by_gene"] = "the molecules have no overlaps_nucleus"
    if cell_area is None or region - cell_area.sum() <= 0:
        reason = "no cell areas" if cell_area is None else "the cells cover the whole region"
        out.missing.update({"instrument.ambient_rate_per_um2": reason, "leakage_by_celltype": reason})
        return out
    out.measured["region_outside_cells_um2"] = region - float(cell_area.sum())
    found = estimate_ambient_and_leakage(reference, codes, celltypes, in_cell=in_cell, outside=outside,
                                         area_out_um2=region - float(cell_area.sum()), z_leak=z_leak)
    cover = float(cell_area.sum() / region)
    if cover >= CONFLUENT_COVER_FRACTION:
        # Confluent cells leave almost no free area: the few molecules outside them (none on a simulated
        # confluent tissue) give an ambient rate of 0 ± 0, which says nothing.
        found.fields.pop("instrument.ambient_rate_per_um2", None)
        found.fields.pop("instrument.ambient_genes", None)
        found.measured.pop("ambient_rate_per_um2_se", None)
        found.missing["instrument.ambient_rate_per_um2"] = (
            f"the cells cover {cover:.1%} of the region (confluent): too little free area to count ambient "
            "molecules in, and ambient molecules in cells are not told from expression")
    return out.update(found)


def _controls(names: np.ndarray, region: float, out: Estimates) -> None:
    """Control rates per µm² and name counts, by kind."""
    if len(names) == 0:
        for kind in CONTROL_KINDS:
            out.missing[f"instrument.{kind}_rate_per_um2"] = "no control molecules in the table"
        return
    lowered = pd.Index(names).str.lower()
    for kind, prefixes in CONTROL_KINDS.items():
        of_kind = np.asarray(lowered.str.startswith(prefixes), dtype=bool)
        n = int(of_kind.sum())
        out.fields[f"instrument.{kind}_rate_per_um2"] = n / region
        out.measured[f"{kind}_rate_per_um2_se"] = math.sqrt(n) / region
        if n:
            seen = len(np.unique(names[of_kind]))
            out.measured[f"{_NAME_COUNT[kind]}_seen"] = float(seen)
            count = names_in_use(seen, n)
            out.fields[f"instrument.{_NAME_COUNT[kind]}"] = count
            out.measured[f"{_NAME_COUNT[kind]}_se"] = _names_se(count, n)
        else:
            out.missing[f"instrument.{_NAME_COUNT[kind]}"] = "no molecule of this kind: no names seen"


def names_in_use(seen: int, molecules: int) -> int:
    """How many names a kind has, from the ``seen`` names among its ``molecules`` (each name equally likely).

    With N names, M molecules show N (1 − (1 − 1/N)^M) names on average; N is solved from it. When
    every molecule has its own name, N is only known to be at least ``seen``, which is returned.

    Examples
    --------
    >>> names_in_use(83, 175), names_in_use(20, 680), names_in_use(5, 5)
    (100, 20, 5)
    """
    if seen >= molecules:
        return seen

    def excess(n: float) -> float:
        return n * -math.expm1(molecules * math.log1p(-1 / n)) - seen

    top = 2.0 * seen
    while excess(top) < 0:
        top *= 2
    return round(optimize.brentq(excess, seen, top)) if excess(seen) < 0 else seen


def _names_se(names: int, molecules: int) -> float:
    """Standard error of :func:`names_in_use`: the s.d. of the names seen over the slope of their mean in N."""
    n, m = float(names), float(molecules)
    if n <= 1:
        return 0.0
    miss = (1 - 1 / n) ** m  # chance a given name is never seen
    var_seen = n * (n - 1) * (1 - 2 / n) ** m + n * miss - n * n * miss * miss
    slope = 1 - miss * (1 + m / (n - 1))  # d E[seen] / dN
    return float(math.sqrt(max(var_seen, 0.0)) / slope) if slope > 1e-12 else float("inf")


def nuclear_fractions(
    reference: Reference,
    codes: np.ndarray,
    celltypes: list[str],
    *,
    row: np.ndarray,
    column: np.ndarray,
    inside: np.ndarray,
    in_cell: sparse.csr_matrix,
) -> pd.DataFrame:
    """Per gene: the nuclear fraction of its in-cell molecules and the uniform rule's (module docstring).

    Columns: in-cell molecules counted (``n``), nuclear fraction ``f`` and its ``se``, the uniform
    rule's ``expected`` fraction and the ``z`` of the difference. ``row``, ``column``, ``inside``:
    each molecule's cell row, gene column, and whether it is a gene molecule in a cell;
    ``in_cell``: cells × genes counts of those.
    """
    n_types = len(celltypes)
    mean = type_sums(in_cell, codes, n_types) / np.maximum(np.bincount(codes, minlength=n_types), 1)[:, None]
    expressed = mean >= _EXPRESSED * mean.max(axis=0, keepdims=True)
    cells = reference.cells
    share = (cells["nucleus_area"].to_numpy(float) / cells["cell_area"].to_numpy(float)
             if reference.has("nucleus_area") and reference.has("cell_area") else None)
    idx = np.flatnonzero(inside)
    r, g = row[idx], column[idx]
    keep = expressed[codes[r], g]
    if share is not None:  # a cell without a nucleus polygon says nothing of where its molecules sit
        keep &= np.isfinite(share[r])
    r, g, nuclear = r[keep], g[keep], reference.molecules["overlaps_nucleus"].to_numpy(bool)[idx][keep]
    n_genes = len(reference.genes)
    n = np.bincount(g, minlength=n_genes).astype(float)
    k = np.bincount(g, nuclear, minlength=n_genes)
    s = share[r] if share is not None else np.full(len(r), k.sum() / max(n.sum(), 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        f = k / n
        expected = np.bincount(g, s, minlength=n_genes) / n
        null_sd = np.sqrt(np.bincount(g, s * (1 - s), minlength=n_genes)) / n
        return pd.DataFrame({"n": n, "f": f, "se": np.sqrt(f * (1 - f) / n), "expected": expected,
                             "z": (f - expected) / null_sd}, index=pd.Index(reference.genes, name="gene"))


def _nuclear(table: pd.DataFrame, *, min_gene_molecules: int, out: Estimates) -> None:
    """``transcripts.nuclear_fraction_by_gene`` and ``nuclear_fraction`` from the per-gene table."""
    tested = table[table["n"] >= min_gene_molecules]
    z_crit = stats.norm.isf(0.025 / max(len(tested), 1))
    own = tested[np.abs(tested["z"]) > z_crit]
    out.measured.update({"nuclear_fraction_genes_tested": float(len(tested)),
                         "nuclear_fraction_genes_own": float(len(own)), "nuclear_fraction_z_crit": float(z_crit)})
    out.fields["transcripts.nuclear_fraction_by_gene"] = {str(g): float(v) for g, v in own["f"].items()}
    out.measured.update({f"nuclear_fraction_se_{g}": float(v) for g, v in own["se"].items()})
    rest = table.drop(index=own.index)
    rest = rest[rest["n"] > 0]
    n = rest["n"].sum()
    if n == 0:
        return
    f, expected = float((rest["f"] * rest["n"]).sum() / n), float((rest["expected"] * rest["n"]).sum() / n)
    out.measured.update({"nuclear_fraction_pooled": f, "nuclear_fraction_uniform_rule": expected})
    if abs(f - expected) > stats.norm.isf(0.025) * math.sqrt(expected * (1 - expected) / n):
        out.fields["transcripts.nuclear_fraction"] = f
    else:
        out.missing["transcripts.nuclear_fraction"] = (
            f"the other genes' {f:.3f} is the uniform rule's {expected:.3f} (the default: uniform in the cell, "
            "nucleus with probability its share of the cell's area)")
