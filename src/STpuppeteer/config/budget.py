"""What a config will cost, estimated before any work: molecules, fields of view, memory, rasters.

Two kinds of check use the estimate:

* :func:`check_budget` refuses configs no machine can run (``SimulationConfig`` calls it on
  validation): more than :data:`MAX_MOLECULES_PER_CELL` expected molecules in a cell, more than
  :data:`MAX_MOLECULES` in the run, more than :data:`MAX_FOVS` fields of view.
* :func:`check_memory` refuses an in-memory run bigger than this machine's memory (the
  drivers call it before the first stage); :func:`raster_pixels` is the size of a whole-tissue
  image, which the command line checks against the writers' limit before simulating.

Every message names the fields to change. The estimates use the expected values of the model
(size factors average 1), not draws, so they cost microseconds.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Protocol

from STpuppeteer.config.gene_table import GeneTable
from STpuppeteer.config.instrument import InstrumentConfig
from STpuppeteer.config.panel import CelltypePrior, SharedMarkerSet
from STpuppeteer.config.programs import CellTypeSpec, ProgramSpec
from STpuppeteer.config.tissue import TissueConfig
from STpuppeteer.config.tissue_checks import tissue_extent_um

__all__ = [
    "BYTES_PER_CELL",
    "CostedConfig",
    "BYTES_PER_MOLECULE",
    "MAX_FOVS",
    "MAX_MOLECULES",
    "MAX_MOLECULES_PER_CELL",
    "ResourceEstimate",
    "check_budget",
    "check_memory",
    "estimate_resources",
    "physical_memory_bytes",
    "raster_pixels",
]

#: Most expected molecules in one cell: a mammalian cell holds 10⁵–10⁶ mRNAs in all, and imaging
#: panels detect 10²–10³ of them.
MAX_MOLECULES_PER_CELL = 100_000.0
#: Most expected molecules in a run (cells and background): ~10⁹ is the largest slide measured;
#: beyond 2·10⁹ the cell × gene matrices' int32 indices of the readers overflow.
MAX_MOLECULES = 2e9
#: Most fields of view over the tissue (each draws its own factors and background).
MAX_FOVS = 1_000_000
#: Memory of one molecule held in memory: the trs_df columns and what the writers derive from them, bytes.
BYTES_PER_MOLECULE = 200
#: Memory of one cell held in memory: its polygons (shapely), its cell_gdf row and spatial indices, bytes.
BYTES_PER_CELL = 4_000


@dataclass(frozen=True)
class ResourceEstimate:
    """What a config is expected to produce and need.

    Attributes
    ----------
    n_cells, n_genes
        From the config.
    molecules_per_cell
        Expected molecules of a cell of each type (size factor 1), in ``celltype_names`` order.
    cell_molecules
        Expected molecules made by cells, over all cells.
    background_molecules
        Expected ambient and control molecules over the tissue's bounding box.
    width_um, height_um
        The tissue's bounding box.
    n_fovs
        Fields of view covering it.
    """

    n_cells: int
    n_genes: int
    molecules_per_cell: tuple[float, ...]
    cell_molecules: float
    background_molecules: float
    width_um: float
    height_um: float
    n_fovs: int

    @property
    def molecules(self) -> float:
        """All expected molecules."""
        return self.cell_molecules + self.background_molecules

    @property
    def memory_bytes(self) -> float:
        """Memory of an in-memory run: the count matrix (int32), the cells and the molecules, bytes."""
        return 4.0 * self.n_cells * self.n_genes + BYTES_PER_CELL * self.n_cells + BYTES_PER_MOLECULE * self.molecules


class CostedConfig(Protocol):
    """What the estimates read of a config (a :class:`~STpuppeteer.config.SimulationConfig`)."""

    n_cells: int
    n_genes: int
    n_markers: int
    n_hk: int
    celltype_names: list[str]
    celltype_priors: dict[str, CelltypePrior]
    shared_markers: list[SharedMarkerSet]
    expression_scale: float
    expression_model: str
    expression_baseline: float
    programs: list[ProgramSpec]
    cell_type_specs: dict[str, CellTypeSpec]
    gene_table: GeneTable | None
    celltype_proportions: list[float] | None
    tissue: TissueConfig
    instrument: InstrumentConfig


def _prior_means(config: CostedConfig) -> list[float]:
    """Expected molecules per cell of each type in the prior model (μ prior means × expression_scale)."""
    out = []
    for name in config.celltype_names:
        over = config.celltype_priors.get(name)

        def prior(field: str, over: object = over) -> float:
            value = getattr(over, field, None) if over is not None else None
            return float(getattr(config, field) if value is None else value)

        n_markers = config.n_markers + sum(block.n_genes for block in config.shared_markers if name in block.celltypes)
        n_hk = config.n_hk
        rest = config.n_genes - n_markers - n_hk
        mean = n_markers * prior("marker_mu") + n_hk * prior("hk_mu") + rest * prior("silence_mu")
        out.append(mean * config.expression_scale)
    return out


def _program_means(config: CostedConfig) -> list[float]:
    """Upper estimate of the expected molecules per cell of each type in the program model.

    Σ_g E[max(μ0 + W z, ε)] ≤ n_genes·max(μ0, ε) + Σ_p (max(μ_kp, 0) + σ_kp) Σ_g W_gp.
    """
    total_loading = {p.name: math.fsum(p.loading.values()) for p in config.programs}
    floor = config.n_genes * max(config.expression_baseline, 1e-6)
    out = []
    for spec in config.cell_type_specs.values():
        acts = spec.program_activations
        if isinstance(acts, list):
            acts = dict(zip(total_loading, acts, strict=False))
        sd = spec.activation_sd
        extra = math.fsum(
            (max(mean, 0.0) + (sd.get(p, 0.0) if isinstance(sd, dict) else sd)) * total_loading.get(p, 0.0)
            for p, mean in acts.items()
        )
        out.append(floor + extra)
    return out


def _table_means(config: CostedConfig) -> list[float]:
    """Expected molecules per cell of each type in the table model: the sum of the table's μ."""
    table = config.gene_table
    return [] if table is None else [math.fsum(row) for row in table.mu_array().tolist()]


def estimate_resources(config: CostedConfig) -> ResourceEstimate:
    """The expected molecules, extent and fields of view of ``config`` (no draws).

    Examples
    --------
    >>> from STpuppeteer.config import SimulationConfig
    >>> est = estimate_resources(SimulationConfig(n_cells=1000))
    >>> round(est.molecules_per_cell[0]), est.n_fovs
    (72, 9)
    """
    per_type = {"programs": _program_means, "table": _table_means}.get(config.expression_model, _prior_means)(config)
    shares = config.celltype_proportions or [1.0 / len(per_type)] * len(per_type)
    cell_molecules = config.n_cells * math.fsum(s * m for s, m in zip(shares, per_type, strict=True))
    width, height = tissue_extent_um(config.tissue, config.n_cells)
    inst = config.instrument
    rate = (inst.ambient_rate_per_um2 + inst.neg_control_probe_rate_per_um2
            + inst.neg_control_codeword_rate_per_um2 + inst.unassigned_codeword_rate_per_um2)
    n_fovs = (math.floor(width / inst.fov_size_um) + 1) * (math.floor(height / inst.fov_size_um) + 1)
    return ResourceEstimate(
        n_cells=config.n_cells, n_genes=config.n_genes, molecules_per_cell=tuple(per_type),
        cell_molecules=cell_molecules, background_molecules=rate * width * height, width_um=width,
        height_um=height, n_fovs=n_fovs,
    )


def _expression_fields(config: CostedConfig) -> str:
    if config.expression_model == "programs":
        return "expression_baseline, the programs' loadings or the cell types' program_activations"
    if config.expression_model == "table":
        return "the gene_table's mu or its number of genes"
    return "expression_scale, marker_mu, hk_mu, silence_mu or the number of genes"


def check_budget(config: CostedConfig) -> ResourceEstimate:
    """Refuse a config no machine can run; its estimate otherwise.

    Raises
    ------
    ValueError
        Naming the expected amount, the limit and the fields to change.
    """
    est = estimate_resources(config)
    worst = max(range(len(est.molecules_per_cell)), key=est.molecules_per_cell.__getitem__)
    if est.molecules_per_cell[worst] > MAX_MOLECULES_PER_CELL:
        msg = (
            f"a cell of type {config.celltype_names[worst]!r} would hold {est.molecules_per_cell[worst]:.3g} "
            f"molecules on average; at most {MAX_MOLECULES_PER_CELL:.0e} are allowed (a whole cell's mRNA): "
            f"lower {_expression_fields(config)}."
        )
        raise ValueError(msg)
    if est.molecules > MAX_MOLECULES:
        msg = (
            f"the run would make about {est.molecules:.3g} molecules ({est.cell_molecules:.3g} in cells, "
            f"{est.background_molecules:.3g} background); at most {MAX_MOLECULES:.0e} are allowed: lower n_cells, "
            f"{_expression_fields(config)} or the instrument's *_rate_per_um2."
        )
        raise ValueError(msg)
    if est.n_fovs > MAX_FOVS:
        msg = (
            f"instrument.fov_size_um={config.instrument.fov_size_um:g} tiles the {est.width_um:,.0f} × "
            f"{est.height_um:,.0f} µm tissue into {est.n_fovs:,} fields of view; at most {MAX_FOVS:,} are "
            "allowed: use larger fields of view."
        )
        raise ValueError(msg)
    return est


def physical_memory_bytes() -> int | None:
    """Physical memory of this machine in bytes (``None`` where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(config: CostedConfig, *, available_bytes: int | None = None) -> ResourceEstimate:
    """Refuse an in-memory run that needs more memory than the machine has.

    Parameters
    ----------
    config
        The validated config.
    available_bytes
        Memory to compare with (default: the machine's physical memory).

    Raises
    ------
    MemoryError
        Naming the estimate, the memory and what to change (fewer cells, genes or molecules,
        or the streamed driver).
    """
    est = estimate_resources(config)
    available = physical_memory_bytes() if available_bytes is None else available_bytes
    if available is not None and est.memory_bytes > available:
        msg = (
            f"this run needs about {est.memory_bytes / 1e9:.3g} GB in memory (n_cells={config.n_cells:,} × "
            f"n_genes={config.n_genes:,} counts, {est.molecules:.3g} molecules), more than the "
            f"{available / 1e9:.3g} GB of this machine: lower n_cells, n_genes or {_expression_fields(config)}, "
            "or stream it (stpuppeteer simulate --stream, or STpuppeteer.simulate_to_xenium)."
        )
        raise MemoryError(msg)
    return est


def raster_pixels(config: CostedConfig, *, pixel_size: float) -> float:
    """Pixels of a whole-tissue raster at ``pixel_size`` µm (the bounding box, plus 5 % for leaked molecules)."""
    width, height = tissue_extent_um(config.tissue, config.n_cells)
    return (1.05 * width / pixel_size) * (1.05 * height / pixel_size)
