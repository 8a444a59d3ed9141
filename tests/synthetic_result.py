"""A small hand-built SimulationResult the writer tests share, and a raster reader."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import affinity

from STpuppeteer.config import SimulationConfig
from STpuppeteer.result import SimulationResult
from STpuppeteer.stages.genes import generate_gene_parameters

CONTROL_NAMES = ["NegControlProbe_00001", "NegControlProbe_00002", "NegControlCodeword_0500", "UnassignedCodeword_0001"]


def make_synthetic_result(seed: int = 0, *, n_rows: int = 8, n_cols: int = 10) -> SimulationResult:
    """A small hand-built SimulationResult: touching hexagonal cells with elliptical nuclei.

    It stands in for the real stages while they are being written: the writers need only the
    data contract (columns of ``cell_gdf`` and ``trs_df``), not how the data were drawn.
    """
    rng = np.random.default_rng(seed)
    spacing = 12.0
    radius = spacing / np.sqrt(3)  # hexagon circumradius so neighbours share edges
    rr, cc = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
    cx = 20.0 + cc.ravel() * spacing + (rr.ravel() % 2) * spacing / 2
    cy = 20.0 + rr.ravel() * spacing * np.sqrt(3) / 2
    n_cells = cx.size
    angles = np.deg2rad(np.arange(6) * 60 + 30)
    hexes = shapely.polygons(
        np.stack([cx[:, None] + radius * np.cos(angles), cy[:, None] + radius * np.sin(angles)], axis=-1)
    )
    nuclei = [
        affinity.rotate(affinity.scale(shapely.Point(x, y).buffer(3.0), xfact=a, yfact=1 / a), theta, origin=(x, y))
        for x, y, a, theta in zip(cx, cy, rng.uniform(1.0, 1.4, n_cells), rng.uniform(0, 180, n_cells), strict=True)
    ]
    config = SimulationConfig(seed=seed, n_cells=n_cells, n_genes=30, n_markers=4)
    gpar_df = generate_gene_parameters(config, np.random.default_rng(seed))
    celltypes = rng.choice(config.celltype_names, size=n_cells)
    cell_gdf = gpd.GeoDataFrame(
        {
            "cell_id": np.arange(n_cells) * 3 + 7,  # ids need not be 0..n-1
            "celltype": celltypes,
            "x": cx,
            "y": cy,
            "z": np.full(n_cells, 5.0),
            "nucleus_area": shapely.area(nuclei),
            "cell_area": shapely.area(hexes),
            "scale": np.ones(n_cells),
            "leakage_percentage": np.full(n_cells, 0.1),
            "nucleus": gpd.GeoSeries(nuclei),
        },
        geometry=hexes,
    )
    count_array = rng.poisson(3.0, size=(n_cells, len(gpar_df)))
    src, gene = np.nonzero(count_array)
    src, gene = np.repeat(src, count_array[src, gene]), np.repeat(gene, count_array[src, gene])
    r = np.sqrt(rng.uniform(0, 1, src.size)) * 5.0
    phi = rng.uniform(0, 2 * np.pi, src.size)
    x, y = cx[src] + r * np.cos(phi), cy[src] + r * np.sin(phi)
    leaked = rng.uniform(size=src.size) < 0.1
    x[leaked] += rng.choice([-1, 1], leaked.sum()) * 8.0
    n_ambient, n_control = 60, 40
    xmax, ymax = cx.max() + 15, cy.max() + 15
    x = np.concatenate([x, rng.uniform(0, xmax, n_ambient + n_control)])
    y = np.concatenate([y, rng.uniform(0, ymax, n_ambient + n_control)])
    n = x.size
    points = shapely.points(x, y)
    landed = np.full(n, -1)
    pt, cell = shapely.STRtree(hexes).query(points, predicate="within")
    landed[pt] = cell_gdf["cell_id"].to_numpy()[cell]
    in_nucleus = np.zeros(n, dtype=bool)
    pt, _ = shapely.STRtree(np.asarray(nuclei)).query(points, predicate="within")
    in_nucleus[pt] = True
    names = np.concatenate(
        [
            gpar_df["feature_name"].to_numpy()[gene],
            gpar_df["feature_name"].to_numpy()[rng.integers(0, len(gpar_df), n_ambient)],
            rng.choice(CONTROL_NAMES, n_control),
        ]
    )
    source = np.concatenate([cell_gdf["cell_id"].to_numpy()[src], np.full(n_ambient + n_control, -1)])
    origin = np.concatenate(
        [np.where(leaked, "leaked", "cell"), np.full(n_ambient, "ambient"), np.full(n_control, "control")]
    )
    trs_df = pd.DataFrame(
        {
            "transcript_id": np.arange(n, dtype=np.int64) + 1000,
            "x": x,
            "y": y,
            "z": rng.uniform(0, 10, n),
            "feature_name": names,
            "cell_id": source,
            "celltype": np.concatenate([celltypes[src], np.full(n_ambient + n_control, "")]),
            "origin": origin,
            "landed_cell_id": landed,
            "compartment": np.where(in_nucleus, "nucleus", np.where(landed >= 0, "cytoplasm", "extracellular")),
            "overlaps_nucleus": in_nucleus,
            "qv": rng.uniform(10, 40, n),
        }
    )
    return SimulationResult(config=config, gpar_df=gpar_df, cell_gdf=cell_gdf, count_array=count_array, trs_df=trs_df)


def full_resolution(element) -> np.ndarray:
    """The full-resolution level of a (possibly multiscale) raster element, as numpy."""
    from spatialdata import get_pyramid_levels
    from xarray import DataTree

    return np.asarray(get_pyramid_levels(element, n=0) if isinstance(element, DataTree) else element)


def _hexagon(cx: float, cy: float, radius: float) -> shapely.Polygon:
    angles = np.deg2rad(np.arange(0, 360, 60) + 30)
    return shapely.Polygon(np.c_[cx + radius * np.cos(angles), cy + radius * np.sin(angles)])


def make_result(
    rng: np.random.Generator,
    *,
    n_rows: int = 5,
    n_cols: int = 6,
    radius: float = 6.0,
    origin: tuple[float, float] = (30.0, 40.0),
    n_ambient: int = 40,
    n_control: int = 25,
) -> SimulationResult:
    """A small hand-built result: a honeycomb of cells, molecules with their full truth."""
    dx = radius * np.sqrt(3)
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    cx = origin[0] + dx * (cols + 0.5 * (rows % 2))
    cy = origin[1] + 1.5 * radius * rows
    n_cells = len(cx)
    cells = [_hexagon(x, y, radius * 0.98) for x, y in zip(cx, cy, strict=True)]
    nuclei = shapely.buffer(shapely.points(cx, cy), radius * 0.4)
    celltype = np.array(["ct_0", "ct_1"])[rows % 2]
    config = SimulationConfig(seed=7, n_cells=n_cells, n_genes=8, n_celltype=2, n_markers=2)
    gpar_df = generate_gene_parameters(config, np.random.default_rng(config.seed))
    cell_gdf = gpd.GeoDataFrame(
        {
            "cell_id": np.arange(n_cells, dtype=np.int64) + 1,
            "celltype": pd.Categorical(celltype),
            "x": cx,
            "y": cy,
            "z": rng.uniform(2, 8, n_cells),
            "nucleus_area": shapely.area(nuclei),
            "cell_area": shapely.area(np.array(cells)),
            "scale": rng.uniform(0.8, 1.2, n_cells),
            "leakage_percentage": np.full(n_cells, 0.2),
            "nucleus": gpd.GeoSeries(nuclei),
        },
        geometry=cells,
    )
    count_array = rng.poisson(4.0, (n_cells, len(gpar_df)))

    # True molecules: uniform in a disc inside the hexagon; a fifth leak up to 8 µm outward.
    src_row, gene = np.nonzero(count_array)
    reps = count_array[src_row, gene]
    src_row, gene = np.repeat(src_row, reps), np.repeat(gene, reps)
    n_true = len(src_row)
    r = 0.8 * radius * np.sqrt(rng.uniform(size=n_true))
    phi = rng.uniform(0, 2 * np.pi, n_true)
    leaked = rng.uniform(size=n_true) < 0.2
    r = np.where(leaked, radius + rng.uniform(0, 8, n_true), r)
    x_true, y_true = cx[src_row] + r * np.cos(phi), cy[src_row] + r * np.sin(phi)
    xmin, ymin, xmax, ymax = shapely.total_bounds(np.array(cells))
    n_bg = n_ambient + n_control
    x = np.r_[x_true, rng.uniform(xmin - 5, xmax + 5, n_bg)]
    y = np.r_[y_true, rng.uniform(ymin - 5, ymax + 5, n_bg)]
    names = np.r_[
        gpar_df["feature_name"].to_numpy()[gene],
        rng.choice(gpar_df["feature_name"].to_numpy(), n_ambient),
        rng.choice(CONTROL_NAMES, n_control),
    ]
    source = np.r_[cell_gdf["cell_id"].to_numpy()[src_row], np.full(n_bg, -1)]
    origin_label = np.r_[np.where(leaked, "leaked", "cell"), ["ambient"] * n_ambient, ["control"] * n_control]
    src_type = np.r_[celltype[src_row], [None] * n_bg]

    points = shapely.points(x, y)
    landed = np.full(len(x), -1, dtype=np.int64)
    pt, poly = shapely.STRtree(cells).query(points, predicate="within")
    landed[pt] = cell_gdf["cell_id"].to_numpy()[poly]
    in_nucleus = np.zeros(len(x), dtype=bool)
    pt, poly = shapely.STRtree(nuclei).query(points, predicate="within")
    in_nucleus[pt] = True
    compartment = np.where(in_nucleus, "nucleus", np.where(landed >= 0, "cytoplasm", "extracellular"))
    trs_df = pd.DataFrame(
        {
            "transcript_id": np.arange(len(x), dtype=np.int64) + 1000,
            "x": x,
            "y": y,
            "z": rng.uniform(0, 10, len(x)),
            "feature_name": pd.Categorical(names),
            "cell_id": source,
            "celltype": pd.Categorical(src_type, categories=["ct_0", "ct_1"]),
            "origin": pd.Categorical(origin_label, categories=["cell", "leaked", "ambient", "control"]),
            "landed_cell_id": landed,
            "compartment": pd.Categorical(compartment),
            "overlaps_nucleus": in_nucleus,
            "qv": rng.normal(35, 4, len(x)).clip(0, 40),
        }
    )
    return SimulationResult(config, gpar_df, cell_gdf, count_array, trs_df)
