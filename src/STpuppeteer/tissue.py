"""Moved to :mod:`STpuppeteer.stages.tissue`; this path keeps working for older code."""

from STpuppeteer.stages.tissue import *  # noqa: F403
from STpuppeteer.stages.tissue import __all__  # noqa: F401
