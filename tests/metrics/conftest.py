"""A small written run shared by the scoring tests (built once per session: it costs seconds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from STpuppeteer.cli import main

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="session")
def xenium_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200-cell Xenium-preset run written as a Xenium bundle with ``ground_truth/``."""
    d = tmp_path_factory.mktemp("score") / "run"
    assert main(["simulate", "--preset", "xenium", "--n-cells", "200", "--out", str(d), "--format", "xenium",
                 "--quiet"]) == 0
    return d
