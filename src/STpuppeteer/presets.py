"""Moved to :mod:`STpuppeteer.config.presets`; this path keeps working for older code."""

from STpuppeteer.config.presets import *  # noqa: F403
from STpuppeteer.config.presets import __all__  # noqa: F401
