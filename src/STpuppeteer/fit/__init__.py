"""Fit a configuration to a real dataset, and measure how close a simulation comes (``stp.fit``).

Readers turn an AnnData, a molecule table or an instrument bundle into a
:class:`~STpuppeteer.fit.reference.Reference` (:func:`read_reference` recognises the input);
estimators read only that. :func:`fit_config` does it all; :func:`compare_references` and
:func:`~STpuppeteer.fit.report.write_realism_report` say how close a simulation comes. Every
name but :class:`Reference` is imported on first use: the readers load the io layer, and
``spatialdata_io`` only when a folder of an instrument is read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from STpuppeteer.fit.reference import Reference, is_control_name

if TYPE_CHECKING:
    from STpuppeteer.fit.compare import compare_references, is_better
    from STpuppeteer.fit.config import fit_config, fit_reference
    from STpuppeteer.fit.read import (
        read_reference,
        reference_from_anndata,
        reference_from_molecules,
        reference_from_spatialdata,
    )
    from STpuppeteer.fit.report import write_realism_report
    from STpuppeteer.fit.statistics import realism_statistics

_LAZY = {
    "read_reference": "read", "reference_from_anndata": "read", "reference_from_molecules": "read",
    "reference_from_spatialdata": "read", "compare_references": "compare", "is_better": "compare",
    "realism_statistics": "statistics", "fit_config": "config", "fit_reference": "config",
    "write_realism_report": "report",
}

__all__ = [
    "Reference",
    "compare_references",
    "fit_config",
    "fit_reference",
    "is_better",
    "is_control_name",
    "read_reference",
    "realism_statistics",
    "reference_from_anndata",
    "reference_from_molecules",
    "reference_from_spatialdata",
    "write_realism_report",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - a function
    if name in _LAZY:
        return getattr(importlib.import_module(f"STpuppeteer.fit.{_LAZY[name]}"), name)
    msg = f"module 'STpuppeteer.fit' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
