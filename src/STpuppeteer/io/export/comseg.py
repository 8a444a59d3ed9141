"""ComSeg (Defelice et al., 2024): one CSV of molecules per image, with the nucleus prior, and the nucleus centroids.

Format, from ComSeg's code (``src/comseg/dataset.py``, ``dictionary.py``, ``model.py``, 1.8.5):
``ComSegDataset`` reads every CSV of a folder (``x``, ``y``, optional ``z``, the gene column, and
the prior column: the label of the nucleus holding the molecule, 0 for none) and, from a second
folder, one CSV of nucleus centroids per image (``x``, ``y``, the same prior column). Every
column of a molecule travels with it through the graph, so our ``transcript_id`` comes back in
``anndata_from_comseg_result``'s ``uns["df_spots"][image]`` beside ``cell_index_pred`` (the
nucleus label the molecule joined, 0 for none). ComSeg has no command line: the README shows
the Python calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from STpuppeteer.io.tables import write_csv

if TYPE_CHECKING:
    from STpuppeteer.io.export._molecules import ExportMolecules

__all__ = [
    "CENTROIDS", "GENE", "IMAGE", "OUTPUT", "PREDICTION", "PRIOR", "SCRIPT", "SPOTS", "read_comseg", "write_comseg",
]

SPOTS = "spots"
CENTROIDS = "centroids"
IMAGE = "tile"
GENE = "gene"
PRIOR = "in_nucleus"
PREDICTION = "cell_index_pred"
OUTPUT = "comseg_spots.csv"
#: The script beside the export that runs ComSeg on it (ComSeg has no command line).
SCRIPT = "run_comseg.py"


def write_comseg(molecules: ExportMolecules, folder: Path, *, mean_cell_diameter: float | None = None) -> str:
    """Write ``spots/tile.csv``, ``centroids/tile.csv`` and ``run_comseg.py``; return the command that runs it.

    Molecules: ``transcript_id``, ``x``, ``y`` (µm, so ComSeg's scale is 1), ``gene``,
    ``in_nucleus`` (the nucleus's ``cell_id + 1``, 0 for none: ComSeg reserves 0). Centroids:
    ``x``, ``y``, ``in_nucleus``. 2D, as the simulated section is thin.

    Parameters
    ----------
    molecules
        From :func:`~STpuppeteer.io.export._molecules.export_molecules`.
    folder
        The export folder.
    mean_cell_diameter
        µm, for the instructions (default: twice the mean cell radius).

    Returns
    -------
    ``python <folder>/run_comseg.py``: the script runs ComSeg on the export (found beside the
    script, so the folder may be moved) and writes its answer to ``comseg_spots.csv``.
    """
    trs = molecules.trs_df
    (folder / SPOTS).mkdir()
    (folder / CENTROIDS).mkdir()
    spots = pd.DataFrame(
        {
            "transcript_id": trs["transcript_id"].to_numpy(),
            "x": trs["x"].to_numpy(),
            "y": trs["y"].to_numpy(),
            GENE: trs["feature_name"].to_numpy(),
            PRIOR: trs["nucleus_id"].to_numpy() + 1,
        }
    )
    write_csv(spots, folder / SPOTS / f"{IMAGE}.csv")
    nuclei = molecules.nucleus_df
    centroids = pd.DataFrame(
        {"x": nuclei["x"].to_numpy(), "y": nuclei["y"].to_numpy(), PRIOR: nuclei["cell_id"].to_numpy() + 1}
    )
    write_csv(centroids, folder / CENTROIDS / f"{IMAGE}.csv")
    diameter = mean_cell_diameter if mean_cell_diameter is not None else 2 * molecules.mean_cell_radius
    (folder / SCRIPT).write_text(comseg_code(mean_cell_diameter=diameter), encoding="utf-8")
    return f"python {(folder / SCRIPT).resolve()}"


def comseg_code(*, mean_cell_diameter: float) -> str:
    """The Python calls that run ComSeg on the export beside the script (ComSeg's documented API)."""
    return f"""\
\"\"\"Run ComSeg on the stpuppeteer export in this folder; writes {OUTPUT} here.\"\"\"
from pathlib import Path

from comseg import dataset, dictionary

folder = Path(__file__).resolve().parent
data = dataset.ComSegDataset(
    path_dataset_folder=folder / "{SPOTS}", path_cell_centroid=folder / "{CENTROIDS}",
    dict_scale={{"x": 1, "y": 1, "z": 1}}, mean_cell_diameter={mean_cell_diameter:.1f},
    gene_column="{GENE}", prior_name="{PRIOR}",
    image_csv_files=["{IMAGE}.csv"], centroid_csv_files=["{IMAGE}.csv"],
)
data.compute_edge_weight(n_neighbors=40, sampling=True, sampling_size=10000)
result = dictionary.ComSegDict(
    dataset=data, mean_cell_diameter={mean_cell_diameter:.1f}, community_detection="with_prior"
)
result.run_all(max_cell_radius={mean_cell_diameter:.1f}, clustering_method="leiden")
adata, _ = result.anndata_from_comseg_result(return_polygon=False)
adata.uns["df_spots"]["{IMAGE}"].to_csv(folder / "{OUTPUT}", index=False)
"""


def comseg_spots(nodes: pd.DataFrame) -> pd.DataFrame:
    """Molecule → cell table from ComSeg's per-molecule table (``transcript_id``, ``cell_index_pred``).

    Parameters
    ----------
    nodes
        ``uns["df_spots"][image]`` of ComSeg's result, or any table with both columns.

    Returns
    -------
    ``transcript_id`` and ``cell_id``: the ``cell_id`` of the nucleus ComSeg joined the molecule
    to (ComSeg's labels are ours plus one), -1 for none.
    """
    missing = [c for c in ("transcript_id", PREDICTION) if c not in nodes]
    if missing:
        msg = f"ComSeg's table lacks {missing}; columns: {list(nodes.columns)}. Was it made from an stpuppeteer export?"
        raise ValueError(msg)
    label = pd.to_numeric(nodes[PREDICTION], errors="coerce").fillna(0).to_numpy(np.int64)
    return pd.DataFrame({"transcript_id": nodes["transcript_id"].to_numpy(np.int64), "cell_id": label - 1})


def read_comseg(path: str | Path) -> pd.DataFrame:
    """ComSeg's answer as a molecule → cell table.

    Parameters
    ----------
    path
        The per-molecule table written as in the export's README (``comseg_spots.csv``, or a
        Parquet), the export folder holding it, or an ``.h5ad`` of ComSeg's AnnData result
        (its ``uns["df_spots"]``, every image).

    Returns
    -------
    See :func:`comseg_spots`.
    """
    path = Path(path)
    if path.is_dir():
        path = path / OUTPUT
    name = path.name.lower()
    if name.endswith(".h5ad"):
        import anndata as ad

        spots = ad.read_h5ad(path).uns["df_spots"]
        frames = list(spots.values()) if isinstance(spots, dict) else [spots]
        return comseg_spots(pd.concat([pd.DataFrame(f) for f in frames], ignore_index=True))
    if name.endswith((".parquet", ".pq")):
        return comseg_spots(pd.read_parquet(path))
    return comseg_spots(pd.read_csv(path))
