"""Rebuild a :class:`SimulationResult` from a folder STpuppeteer wrote."""

from __future__ import annotations

import json
from pathlib import Path

from STpuppeteer.config import SimulationConfig
from STpuppeteer.io.ground_truth import GROUND_TRUTH_DIR, read_ground_truth
from STpuppeteer.io.joins import PLATFORM_ID_COLUMNS
from STpuppeteer.io.manifest import MANIFEST_NAME
from STpuppeteer.result import SimulationResult

__all__ = ["read_result"]


def read_result(folder: str | Path) -> SimulationResult:
    """Read the truth and the config of a written folder back into a :class:`SimulationResult`.

    Parameters
    ----------
    folder
        A folder written by ``stpuppeteer simulate`` or by one of the bundle writers (any folder
        holding ``ground_truth/`` and ``manifest.json``).

    Returns
    -------
    The result, with the true molecules (``trs_df``), cells, counts and gene parameters.
    """
    folder = Path(folder)
    if not (folder / GROUND_TRUTH_DIR).is_dir():
        msg = f"{folder} holds no {GROUND_TRUTH_DIR}/ folder; pass a folder written by STpuppeteer."
        raise FileNotFoundError(msg)
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        msg = f"{folder} holds no {MANIFEST_NAME}; cannot tell which config made it."
        raise FileNotFoundError(msg)
    config = SimulationConfig.model_validate(json.loads(manifest.read_text())["config"])
    truth = read_ground_truth(folder)
    return SimulationResult(
        config=config,
        gpar_df=truth["gpar_df"],
        # the platform ids are derived from cell_id when written; the simulation's cells lack them
        cell_gdf=truth["cell_gdf"].drop(columns=list(PLATFORM_ID_COLUMNS), errors="ignore"),
        count_array=truth["count_array"],
        trs_df=truth["trs_df"],
    )
