"""Run a published third-party method on a simulation, offline, and return its assignment.

Only ComSeg for now (Defelice et al., 2024; ``pip install comseg``): a graph of molecules
weighted by gene co-expression, partitioned into RNA communities with the nuclei as prior,
then each community joined to a nucleus. Its heavy dependencies (scanpy, numba, leidenalg,
…) are not STpuppeteer's, so it is imported only when called.

Its inputs are written by the ComSeg export (:func:`STpuppeteer.io.write_export` with
``tool="comseg"``, :mod:`STpuppeteer.io.export.comseg`): the nuclei are the prior exactly as a
perfect DAPI segmentation would give them, coordinates in µm (ComSeg's scale 1), and our
``transcript_id`` travels with each molecule through ComSeg's graph.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from STpuppeteer.io.export import comseg as comseg_format
from STpuppeteer.io.export import export_molecules
from STpuppeteer.metrics.inputs import as_truth

__all__ = ["run_comseg"]


def run_comseg(
    truth: Any,
    workdir: str | Path | None = None,
    *,
    mean_cell_diameter: float = 15.0,
    max_cell_radius: float = 15.0,
    resolution: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Segment the simulated molecules with ComSeg, nuclei as the prior.

    Parameters
    ----------
    truth
        Anything :func:`~STpuppeteer.metrics.inputs.as_truth` accepts.
    workdir
        Folder for ComSeg's input CSVs (a temporary folder when ``None``).
    mean_cell_diameter
        ComSeg's expected cell diameter, µm.
    max_cell_radius
        Largest distance from a nucleus centroid at which ComSeg attaches molecules, µm.
    resolution
        Leiden resolution of ComSeg's in-situ clustering.
    seed
        Seed ComSeg passes to its graph partitioning.

    Returns
    -------
    A ``transcript_id`` → ``cell_id`` table (-1: unassigned), as the other baselines return.
    """
    try:
        from comseg import dataset as comseg_dataset
        from comseg import dictionary as comseg_dictionary
    except ImportError as err:
        msg = "run_comseg needs ComSeg: pip install comseg (it brings scanpy, numba and leidenalg)."
        raise ImportError(msg) from err

    molecules = export_molecules(as_truth(truth))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        comseg_format.write_comseg(molecules, folder, mean_cell_diameter=mean_cell_diameter)
        image = f"{comseg_format.IMAGE}.csv"
        data = comseg_dataset.ComSegDataset(
            path_dataset_folder=folder / comseg_format.SPOTS,
            prior_name=comseg_format.PRIOR,
            dict_scale={"x": 1, "y": 1, "z": 1},
            mean_cell_diameter=mean_cell_diameter,
            gene_column=comseg_format.GENE,
            image_csv_files=[image],
            centroid_csv_files=[image],
            path_cell_centroid=folder / comseg_format.CENTROIDS,
            disable_tqdm=True,
        )
        data.compute_edge_weight(n_neighbors=40, sampling=True, sampling_size=10000)
        result = comseg_dictionary.ComSegDict(
            dataset=data,
            mean_cell_diameter=mean_cell_diameter,
            community_detection="with_prior",
            seed=seed,
            disable_tqdm=True,
        )
        result.run_all(
            max_cell_radius=max_cell_radius, clustering_method="leiden", resolution=resolution, disable_tqdm=True
        )
        # ComSeg keeps its answer on the networkx nodes (one per molecule, every input column
        # kept): the same table as its uns["df_spots"], without building the AnnData.
        nodes = pd.DataFrame(
            [
                (d["transcript_id"], d.get(comseg_format.PREDICTION, 0))
                for _, d in result[comseg_format.IMAGE].G.nodes(data=True)
                if "transcript_id" in d
            ],
            columns=["transcript_id", comseg_format.PREDICTION],
        )
    table = comseg_format.comseg_spots(nodes)
    # every exported molecule gets a row; one ComSeg did not return stays unassigned
    cell = pd.Series(table["cell_id"].to_numpy(), index=table["transcript_id"].to_numpy())
    ids = molecules.trs_df["transcript_id"].to_numpy()
    return pd.DataFrame({"transcript_id": ids, "cell_id": cell.reindex(ids).fillna(-1).to_numpy("int64")})
