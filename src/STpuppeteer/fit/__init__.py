"""Fit a configuration to a real dataset, and measure how close a simulation comes (``stp.fit``).

Readers turn an AnnData, a molecule table or an instrument bundle into a
:class:`~STpuppeteer.fit.reference.Reference` (:func:`read_reference` recognises the input);
estimators read only that. The readers are imported on first use: they load the io layer,
and ``spatialdata_io`` only when a folder of an instrument is read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from STpuppeteer.fit.reference import Reference, is_control_name

if TYPE_CHECKING:
    from STpuppeteer.fit.read import (
        read_reference,
        reference_from_anndata,
        reference_from_molecules,
        reference_from_spatialdata,
    )

__all__ = [
    "Reference",
    "is_control_name",
    "read_reference",
    "reference_from_anndata",
    "reference_from_molecules",
    "reference_from_spatialdata",
]

_READERS = {"read_reference", "reference_from_anndata", "reference_from_molecules", "reference_from_spatialdata"}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - a function
    if name in _READERS:
        return getattr(importlib.import_module("STpuppeteer.fit.read"), name)
    msg = f"module 'STpuppeteer.fit' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
