"""What every export shares: the molecules a tool sees, the nucleus prior, the instructions file.

A tool gets what an instrument would give it, never the truth: each molecule's id, position (µm)
and gene, and the nuclei as a perfect DAPI segmentation would draw them. Negative-control
molecules are left out (the tools expect genes only; ``score`` does not score them either).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from STpuppeteer.io.ground_truth import GROUND_TRUTH_DIR, read_ground_truth

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "INSTRUCTIONS",
    "NO_NUCLEUS",
    "ExportMolecules",
    "export_molecules",
    "nucleus_of",
    "polygon_of",
    "write_instructions",
]

#: The file each export writes beside its data, with the exact command line that runs the tool.
INSTRUCTIONS = "README.md"
#: The prior of a molecule in no nucleus (the tools that count cells from 1 add one to cell ids).
NO_NUCLEUS = -1
CONTROL_ORIGIN = "control"


@dataclass(frozen=True)
class ExportMolecules:
    """The molecules and nuclei handed to a tool.

    Attributes
    ----------
    trs_df
        One row per exported molecule: ``transcript_id``, ``x``, ``y``, ``z`` (µm),
        ``feature_name``, and ``nucleus_id``, the ``cell_id`` of the nucleus containing the
        molecule (:data:`NO_NUCLEUS` for none).
    nucleus_df
        One row per nucleus: ``cell_id`` and its centroid ``x``, ``y``.
    mean_cell_radius
        √(mean cell area / π), µm: the scale the tools ask for.
    n_dropped_controls
        Negative-control molecules left out.
    """

    trs_df: pd.DataFrame
    nucleus_df: pd.DataFrame
    mean_cell_radius: float
    n_dropped_controls: int


def _parts(source: Any) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    if isinstance(source, str | Path):
        folder = Path(source)
        if not (folder / GROUND_TRUTH_DIR).is_dir() and folder.name != GROUND_TRUTH_DIR:
            msg = f"source={str(source)!r} holds no {GROUND_TRUTH_DIR}/; pass a folder written by stpuppeteer simulate."
            raise ValueError(msg)
        truth = read_ground_truth(folder)
        return truth["trs_df"], truth["cell_gdf"]
    if hasattr(source, "trs_df") and hasattr(source, "cell_gdf"):
        return source.trs_df, source.cell_gdf
    msg = f"source of type {type(source).__name__} is not allowed; pass a run folder or a SimulationResult."
    raise TypeError(msg)


def nucleus_of(trs_df: pd.DataFrame, cell_gdf: gpd.GeoDataFrame) -> np.ndarray:
    """The ``cell_id`` of the nucleus containing each molecule, :data:`NO_NUCLEUS` for none.

    The same rule as the floor baseline (``metrics.nucleus_assignment``): the molecule lies
    within the nucleus polygon; where nuclei overlap, the first in ``cell_gdf`` order.

    Parameters
    ----------
    trs_df
        Molecules with ``x`` and ``y``.
    cell_gdf
        Cells with ``cell_id`` and the ``nucleus`` polygon.

    Returns
    -------
    One integer per molecule.
    """
    nuclei = np.asarray(cell_gdf["nucleus"].to_numpy(), dtype=object)
    ids = cell_gdf["cell_id"].to_numpy(np.int64)
    row = polygon_of(trs_df["x"].to_numpy(float), trs_df["y"].to_numpy(float), nuclei)
    return np.where(row >= 0, ids[np.maximum(row, 0)] if len(ids) else NO_NUCLEUS, NO_NUCLEUS)


def polygon_of(x: np.ndarray, y: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Row of the first polygon (in ``geoms`` order) that holds each point, -1 for none.

    Parameters
    ----------
    x, y
        Point coordinates.
    geoms
        Polygons.

    Returns
    -------
    One row index per point.

    Examples
    --------
    >>> polygon_of(np.array([0.5, 5.0]), np.array([0.5, 5.0]), np.array([shapely.box(0, 0, 1, 1)])).tolist()
    [0, -1]
    """
    points = shapely.points(x, y)
    row = np.full(len(points), -1, dtype=np.int64)
    if len(geoms) and len(points):
        pi, gi = shapely.STRtree(geoms).query(points, predicate="within")
        order = np.lexsort((gi, pi))  # by point, then polygon order: keep the first polygon
        pi, gi = pi[order], gi[order]
        first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, dtype=bool)
        row[pi[first]] = gi[first]
    return row


def export_molecules(source: Any) -> ExportMolecules:
    """The molecules (controls dropped) with their nucleus prior, and the nucleus centroids.

    Parameters
    ----------
    source
        A run folder (with ``ground_truth/``), or anything with ``trs_df`` and ``cell_gdf``
        (a :class:`~STpuppeteer.result.SimulationResult`).

    Returns
    -------
    The :class:`ExportMolecules`.
    """
    trs_df, cell_gdf = _parts(source)
    control = (trs_df["origin"] == CONTROL_ORIGIN).to_numpy() if "origin" in trs_df else np.zeros(len(trs_df), bool)
    kept = trs_df.loc[~control].reset_index(drop=True)
    z = kept["z"].to_numpy(float) if "z" in kept else np.zeros(len(kept))
    molecules = pd.DataFrame(
        {
            "transcript_id": kept["transcript_id"].to_numpy(np.int64),
            "x": kept["x"].to_numpy(float),
            "y": kept["y"].to_numpy(float),
            "z": z,
            "feature_name": kept["feature_name"].astype(str).to_numpy(),
            "nucleus_id": nucleus_of(kept, cell_gdf),
        }
    )
    centres = shapely.centroid(np.asarray(cell_gdf["nucleus"].to_numpy(), dtype=object))
    nucleus_df = pd.DataFrame(
        {"cell_id": cell_gdf["cell_id"].to_numpy(np.int64), "x": shapely.get_x(centres), "y": shapely.get_y(centres)}
    )
    area = cell_gdf["cell_area"].to_numpy(float) if "cell_area" in cell_gdf else shapely.area(cell_gdf.geometry.values)
    radius = float(np.sqrt(np.mean(area) / np.pi)) if len(area) else 0.0
    return ExportMolecules(
        trs_df=molecules, nucleus_df=nucleus_df, mean_cell_radius=radius, n_dropped_controls=int(control.sum())
    )


def write_instructions(folder: Path, text: str) -> Path:
    """Write the export's ``README.md`` (the command line that runs the tool on it).

    Parameters
    ----------
    folder
        The export folder.
    text
        Markdown.

    Returns
    -------
    The file's path.
    """
    path = folder / INSTRUCTIONS
    path.write_text(text.rstrip() + "\n")
    return path
