"""Build the real-data test fixtures in this folder from two PyPI wheels.

Provenance record: the tests read the files this script wrote and never run it.
It needs, outside the project's environment, a venv with:

    pip install pandas pyarrow zarr shapely anndata h5py scipy

Usage:

    python tests/data/real/build_fixtures.py [--wheel-dir DIR]

Without --wheel-dir the two pinned wheels are fetched with `pip download`.
Each wheel's SHA-256 is checked against the one recorded below (and in README.md).
"""

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
import shapely
import zarr

HERE = Path(__file__).resolve().parent

BENTO = (
    "bento-tools",
    "2.1.4.post2",
    "bento_tools-2.1.4.post2-py3-none-any.whl",
    "5ef90016eede774a70b0b3289dbcf206ab3c3f3b2a7c9513ab8274b1e0b515a1",
)
SCANPY = (
    "scanpy",
    "1.11.5",
    "scanpy-1.11.5-py3-none-any.whl",
    "fcd383ddcf7acbf7c0ca232c25ad51b00aec9f8d2f7c8954b8c6ee0962257166",
)

MERFISH_ZARR = "bento/datasets/merfish_sample.zarr"
PBMC_H5AD = "scanpy/datasets/10x_pbmc68k_reduced.h5ad"

# The sample stores camera-pixel coordinates (see README.md); bento's plotting
# functions scale them with dx=0.1 µm per unit, which is used here.
PIXEL_SIZE_UM = 0.1
# scanpy's normalize_per_cell target used for pbmc68k_reduced .raw (checked below).
PBMC_TARGET_SUM = 1e4


def wheel(wheel_dir, spec):
    name, version, filename, sha256 = spec
    path = wheel_dir / filename
    if not path.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"{name}=={version}",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(wheel_dir),
            ],
            check=True,
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{filename}: sha256 {digest} != recorded {sha256}")
    return path


def extract(whl, prefix, dest):
    with zipfile.ZipFile(whl) as zf:
        members = [m for m in zf.namelist() if m.startswith(prefix)]
        zf.extractall(dest, members)
    return Path(dest) / prefix


def read_polygons(group):
    """Polygons of a SpatialData shapes element stored as ragged arrays, keyed by Index."""
    coords = group["coords"][:]
    offsets = (group["offset0"][:], group["offset1"][:])
    geoms = shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, offsets)
    return pd.Series(geoms, index=[str(i) for i in group["Index"][:]])


def build_merfish(whl, tmp, out):
    root = extract(whl, MERFISH_ZARR, tmp)
    pts = pd.read_parquet(root / "points" / "transcripts" / "points.parquet")
    store = zarr.open_group(str(root), mode="r")
    cells = read_polygons(store["shapes"]["cell_boundaries"])
    nuclei = read_polygons(store["shapes"]["nucleus_boundaries"])
    assert shapely.is_valid(cells.values).all() and shapely.is_valid(nuclei.values).all()
    assert set(nuclei.index) <= set(cells.index)
    # Each nucleus lies inside the cell of the same id.
    assert all(cells[k].contains(nuclei[k]) for k in nuclei.index)

    # Membership is tested in the source's pixel coordinates, where it is exact: 115 molecules
    # lie exactly on a nucleus edge (the polygons are pixel staircases) and count as inside,
    # as in bento's own assignment; after scaling, float rounding would move some of them.
    px, py = pts["x"].to_numpy(np.float64), pts["y"].to_numpy(np.float64)
    cell_id = pts["cell_boundaries"].astype(str).replace("", None)
    in_nucleus = shapely.intersects_xy(shapely.union_all(nuclei.values), px, py)
    bento_nucleus = pts["nucleus_boundaries"].astype(str).to_numpy() != ""
    assert np.array_equal(bento_nucleus, in_nucleus)
    assigned = cell_id.notna().to_numpy()
    assert shapely.intersects_xy(cells.reindex(cell_id[assigned]).values, px[assigned], py[assigned]).all()

    scale = PIXEL_SIZE_UM
    cells = pd.Series(shapely.transform(cells.values, lambda c: c * scale), index=cells.index)
    nuclei = pd.Series(shapely.transform(nuclei.values, lambda c: c * scale), index=nuclei.index)
    # The source stores the pixel values as decimals with at most 5 places; times 0.1 they have
    # at most 6, so rounding to 6 places keeps them exactly and drops only float noise.
    x = np.round(px * scale, 6)
    y = np.round(py * scale, 6)

    molecules = pa.table(
        {
            "x": pa.array(x, pa.float64()),
            "y": pa.array(y, pa.float64()),
            "gene": pa.array(pts["feature_name"].astype(str).to_numpy(), pa.string()),
            "cell_id": pa.array(cell_id.to_numpy(), pa.string()),
            "overlaps_nucleus": pa.array(in_nucleus, pa.bool_()),
        }
    )
    meta = {
        "source": f"{BENTO[0]}=={BENTO[1]} {MERFISH_ZARR}/points/transcripts",
        "units": "micrometre",
        "pixel_size_um": str(PIXEL_SIZE_UM),
    }
    molecules = molecules.replace_schema_metadata(meta)
    pq.write_table(molecules, out / "molecules.parquet", compression="zstd", compression_level=19)

    ids = list(cells.index)
    nuc = [nuclei.get(k) for k in ids]
    cells_tab = pa.table(
        {
            "cell_id": pa.array(ids, pa.string()),
            "cell_wkb": pa.array(list(shapely.to_wkb(cells.values)), pa.binary()),
            "nucleus_wkb": pa.array([None if g is None else shapely.to_wkb(g) for g in nuc], pa.binary()),
        }
    )
    cells_tab = cells_tab.replace_schema_metadata({**meta, "source": f"{BENTO[0]}=={BENTO[1]} {MERFISH_ZARR}/shapes"})
    pq.write_table(cells_tab, out / "cells.parquet", compression="zstd", compression_level=19)

    print(
        f"merfish: {len(pts)} molecules, {len(ids)} cells, {len(nuclei)} nuclei, "
        f"{pts['feature_name'].nunique()} genes; molecules outside cells: {int(cell_id.isna().sum())}; "
        f"overlapping a nucleus: {int(in_nucleus.sum())} (same as bento's assignment)"
    )


def build_pbmc(whl, tmp, out):
    path = extract(whl, PBMC_H5AD, tmp)
    adata = ad.read_h5ad(path)
    raw = adata.raw.X.tocsr()
    raw.sort_indices()
    n_counts = adata.obs["n_counts"].to_numpy(np.float64)
    assert np.all(n_counts == np.rint(n_counts))
    scale = n_counts / PBMC_TARGET_SUM  # counts = expm1(x) * total / target
    rows = np.repeat(np.arange(raw.shape[0]), np.diff(raw.indptr))
    stored = raw.data
    approx = np.expm1(stored.astype(np.float64)) * scale[rows]
    counts = np.rint(approx)
    dev = np.abs(approx - counts)
    per_cell = np.maximum.reduceat(dev, raw.indptr[:-1])

    # raw.X is stored rounded to 3 decimals, so expm1 cannot give integers to 1e-3 for
    # larger counts. The exact check is the round trip: the integer count, normalised and
    # log1p'd in float32 and rounded to 3 decimals, gives back the stored value bit for bit,
    # and neighbouring integers are > 0.001 apart in log space, so the integer is unique.
    back = np.round(np.log1p((counts / scale[rows]).astype(np.float32)), 3).astype(np.float32)
    exact = back == stored
    assert exact.all()
    gap = np.minimum(
        np.log1p((counts + 1) / scale[rows]) - np.log1p(counts / scale[rows]),
        np.log1p(counts / scale[rows]) - np.log1p((counts - 1) / scale[rows]),
    )
    assert gap.min() > 1e-3
    assert counts.min() >= 1

    X = sp.csr_matrix((counts.astype(np.int32), raw.indices.copy(), raw.indptr.copy()), shape=raw.shape)
    keep = [c for c in ("bulk_labels", "louvain") if c in adata.obs]
    obs = adata.obs[keep].copy()
    obs.index = obs.index.astype(str)
    var = pd.DataFrame(index=pd.Index(adata.raw.var_names.astype(str), name=None))
    out_ad = ad.AnnData(X=X, obs=obs, var=var)
    out_ad.uns["source"] = f"{SCANPY[0]}=={SCANPY[1]} {PBMC_H5AD} .raw"
    out_ad.uns["reconstruction"] = "counts = rint(expm1(raw.X) * obs.n_counts / 1e4)"
    out_ad.write_h5ad(out / "counts.h5ad", compression="gzip")

    print(
        f"pbmc: {X.shape[0]} cells x {X.shape[1]} genes, {X.nnz} non-zeros, max count {int(counts.max())}; "
        f"values round-tripping bit-exactly: {float(np.mean(exact)):.6f}; "
        f"max |expm1(x)*s - rint| = {dev.max():.4f}; values within 1e-3: {float(np.mean(dev < 1e-3)):.4f}; "
        f"cells with all values within 1e-3: {float(np.mean(per_cell < 1e-3)):.4f}; min log gap {gap.min():.4f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel_dir = args.wheel_dir or Path(tmp) / "wheels"
        wheel_dir.mkdir(parents=True, exist_ok=True)
        merfish_out = args.out / "merfish_sample"
        pbmc_out = args.out / "pbmc68k_reduced"
        merfish_out.mkdir(parents=True, exist_ok=True)
        pbmc_out.mkdir(parents=True, exist_ok=True)
        build_merfish(wheel(wheel_dir, BENTO), Path(tmp) / "bento", merfish_out)
        build_pbmc(wheel(wheel_dir, SCANPY), Path(tmp) / "scanpy", pbmc_out)


if __name__ == "__main__":
    main()
