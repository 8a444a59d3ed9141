"""Moved to :mod:`STpuppeteer.stages.transcripts`; this path keeps working for older code."""

from STpuppeteer.stages.transcripts import *  # noqa: F403
from STpuppeteer.stages.transcripts import __all__  # noqa: F401
