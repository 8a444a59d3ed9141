"""Readers and writers: instrument bundles, AnnData, SpatialData, and the ground truth.

Every writer takes a :class:`~STpuppeteer.result.SimulationResult` and creates its folder
atomically (it appears only once complete). The platforms live in their own modules and
never import each other; what they share is in :mod:`.tables`, :mod:`.observed`,
:mod:`.ground_truth`, :mod:`.manifest` and :mod:`.atomic`. :func:`truth_cell_id` (and
:func:`decode_cell_ids` for Xenium"s ids) join an instrument"s cells to the ground truth;
:func:`write_export` hands a simulation to Baysor, Proseg, ComSeg or Sopa and
:func:`read_assignment` reads their answer back for scoring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

if TYPE_CHECKING:
    from STpuppeteer.io.anndata import to_anndata, write_h5ad
    from STpuppeteer.io.cell_ids import decode_cell_ids, encode_cell_ids
    from STpuppeteer.io.cosmx import write_cosmx
    from STpuppeteer.io.export import read_assignment, write_export
    from STpuppeteer.io.ground_truth import read_ground_truth, write_ground_truth
    from STpuppeteer.io.joins import truth_cell_id
    from STpuppeteer.io.merscope import write_merscope
    from STpuppeteer.io.read import read_result
    from STpuppeteer.io.spatialdata import to_spatialdata, write_spatialdata
    from STpuppeteer.io.xenium import write_xenium

# Submodules load on first use (PEP 562, via lazy_loader): the command line reaches what it needs
# without importing every reader, writer and scikit-learn first.
__getattr__, __dir__, _ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "anndata": ["to_anndata", "write_h5ad"],
        "cell_ids": ["decode_cell_ids", "encode_cell_ids"],
        "cosmx": ["write_cosmx"],
        "export": ["read_assignment", "write_export"],
        "ground_truth": ["read_ground_truth", "write_ground_truth"],
        "joins": ["truth_cell_id"],
        "merscope": ["write_merscope"],
        "read": ["read_result"],
        "spatialdata": ["to_spatialdata", "write_spatialdata"],
        "xenium": ["write_xenium"],
    },
)

__all__ = [
    "decode_cell_ids",
    "encode_cell_ids",
    "read_assignment",
    "read_ground_truth",
    "read_result",
    "to_anndata",
    "to_spatialdata",
    "truth_cell_id",
    "write_cosmx",
    "write_export",
    "write_ground_truth",
    "write_h5ad",
    "write_merscope",
    "write_spatialdata",
    "write_xenium",
]
