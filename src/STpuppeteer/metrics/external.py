"""Run a published third-party method on a simulation, offline, and return its assignment.

Only ComSeg for now (Defelice et al., 2024; ``pip install comseg``): a graph of molecules
weighted by gene co-expression, partitioned into RNA communities with the nuclei as prior,
then each community joined to a nucleus. Its heavy dependencies (scanpy, numba, leidenalg,
…) are not STpuppeteer's, so it is imported only when called.

The nuclei are given to ComSeg as its prior exactly as a perfect DAPI segmentation would:
each molecule carries the label of the nucleus containing it (0 for none), and each nucleus
its centroid. Coordinates are already in µm, so ComSeg's pixel scale is 1.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from STpuppeteer.metrics.baselines import nucleus_assignment
from STpuppeteer.metrics.inputs import as_truth

__all__ = ["run_comseg"]

PRIOR = "in_nucleus"
TILE = "tile"


def _write_inputs(truth: Any, folder: Path) -> pd.DataFrame:
    t = as_truth(truth)
    trs = t.trs_df[t.trs_df["origin"] != "control"].reset_index(drop=True) if "origin" in t.trs_df else t.trs_df
    nuc = nucleus_assignment(t)
    prior = pd.Series(nuc["cell_id"].to_numpy(), index=nuc["transcript_id"].to_numpy())
    label = prior.reindex(trs["transcript_id"].to_numpy()).to_numpy()
    (folder / "spots").mkdir(exist_ok=True)
    (folder / "centroids").mkdir(exist_ok=True)
    # ComSeg reserves 0 for "no prior": shift cell ids by one.
    pd.DataFrame(
        {"x": trs["x"].to_numpy(), "y": trs["y"].to_numpy(), "gene": trs["feature_name"].to_numpy(), PRIOR: label + 1}
    ).to_csv(folder / "spots" / f"{TILE}.csv", index=False)
    centres = shapely.centroid(t.cell_gdf["nucleus"].to_numpy())
    pd.DataFrame(
        {"x": shapely.get_x(centres), "y": shapely.get_y(centres), PRIOR: t.cell_gdf["cell_id"].to_numpy() + 1}
    ).to_csv(folder / "centroids" / f"{TILE}.csv", index=False)
    return trs


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

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        trs = _write_inputs(truth, folder)
        data = comseg_dataset.ComSegDataset(
            path_dataset_folder=folder / "spots",
            prior_name=PRIOR,
            dict_scale={"x": 1, "y": 1, "z": 1},
            mean_cell_diameter=mean_cell_diameter,
            gene_column="gene",
            image_csv_files=[f"{TILE}.csv"],
            centroid_csv_files=[f"{TILE}.csv"],
            path_cell_centroid=folder / "centroids",
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
        # ComSeg keeps its answer on the networkx nodes (one per molecule): read it back once.
        nodes = [(d["index"], d.get("cell_index_pred", 0)) for _, d in result[TILE].G.nodes(data=True) if "index" in d]
    row = np.fromiter((n[0] for n in nodes), dtype=np.int64, count=len(nodes))
    label = np.fromiter((n[1] for n in nodes), dtype=np.int64, count=len(nodes))
    cell_id = np.full(len(trs), -1, dtype=np.int64)
    cell_id[row] = label - 1  # back from ComSeg's 1-based labels; 0 (none) becomes -1
    return pd.DataFrame({"transcript_id": trs["transcript_id"].to_numpy(), "cell_id": cell_id})
