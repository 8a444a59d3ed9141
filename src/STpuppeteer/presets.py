"""Moved to :mod:`STpuppeteer.config`; this path keeps working for older code."""

from STpuppeteer.config import PRESETS, preset_config

__all__ = ["PRESETS", "preset_config"]
