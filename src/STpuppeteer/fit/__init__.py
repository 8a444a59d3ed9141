"""Fit a configuration to a real dataset, and measure how close a simulation comes (``stp.fit``).

Readers turn an AnnData, a molecule table or an instrument bundle into a
:class:`~STpuppeteer.fit.reference.Reference`; estimators read only that.
"""

from __future__ import annotations

from STpuppeteer.fit.compare import compare_references, is_better, realism_statistics
from STpuppeteer.fit.reference import Reference, is_control_name

__all__ = ["Reference", "compare_references", "is_better", "is_control_name", "realism_statistics"]
