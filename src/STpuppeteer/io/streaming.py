"""Moved to :mod:`STpuppeteer.pipeline.streamed` (a driver, above io); this path keeps working.

The name is resolved on first use, so the io layer never imports the drivers above it.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__: list[str] = []  # nothing defined here; the names below are forwarded
_MOVED = ("AUTO_IMAGE_PIXELS", "simulate_to_xenium")


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whatever the driver module holds
    if name in _MOVED:
        return getattr(importlib.import_module("STpuppeteer.pipeline.streamed"), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
