"""Shared fixtures: a fresh generator per test, matplotlib without a screen."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator per test, so tests never share random state."""
    return np.random.default_rng(20261124)
