"""Moved to :mod:`STpuppeteer.pipeline.cell_store`; this path keeps working for older code."""

from STpuppeteer.pipeline.cell_store import *  # noqa: F403
from STpuppeteer.pipeline.cell_store import __all__  # noqa: F401
