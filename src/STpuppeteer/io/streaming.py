"""Moved to :mod:`STpuppeteer.pipeline.streamed`; this path keeps working for older code."""

from STpuppeteer.pipeline.streamed import *  # noqa: F403
from STpuppeteer.pipeline.streamed import __all__  # noqa: F401
