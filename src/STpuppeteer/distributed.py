"""Moved to :mod:`STpuppeteer._parallel`; this path keeps working for older code."""

from STpuppeteer._parallel import *  # noqa: F403
from STpuppeteer._parallel import __all__  # noqa: F401
