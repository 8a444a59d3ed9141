"""``cell_feature_matrix.h5``: the 10x HDF5 matrix, written a range of cells at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import h5py
import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

# Values per chunk of the HDF5 matrix's data and indices.
_H5_CHUNK = 1 << 16

__all__ = ["FeatureMatrixH5"]



class FeatureMatrixH5:
    """``cell_feature_matrix.h5`` (10x HDF5, v3 layout) written a range of cells at a time.

    Features × barcodes in CSC, i.e. per cell the features it holds, so cells are appended in
    order as CSR rows (:meth:`append`); only ``indptr`` (8 bytes a cell) stays in memory.
    Use as a context manager.
    """

    def __init__(self, path: Path, cell_codes: np.ndarray, features: pd.DataFrame) -> None:
        self.h5 = h5py.File(path, "w")
        self.n_cells = len(cell_codes)
        matrix = self.h5.create_group("matrix")
        matrix.create_dataset("barcodes", data=np.asarray(cell_codes).astype("S"))
        self.data = matrix.create_dataset("data", shape=(0,), maxshape=(None,), dtype=np.int32,
                                          chunks=(_H5_CHUNK,), compression="gzip")
        self.indices = matrix.create_dataset("indices", shape=(0,), maxshape=(None,), dtype=np.int64,
                                             chunks=(_H5_CHUNK,), compression="gzip")
        matrix.create_dataset("shape", data=np.array([len(features), len(cell_codes)], dtype=np.int32))
        names = features["feature_name"].to_numpy().astype("S")
        feats = matrix.create_group("features")
        feats.create_dataset("_all_tag_keys", data=np.array([b"genome"]))
        feats.create_dataset("feature_type", data=features["feature_type"].to_numpy().astype("S"))
        feats.create_dataset("genome", data=np.full(len(features), b"simulated"))
        feats.create_dataset("id", data=names)
        feats.create_dataset("name", data=names)
        self.indptr = [np.zeros(1, dtype=np.int64)]
        self.nnz = 0

    def append(self, rows: sparse.csr_matrix) -> None:
        """Append the next cells (rows of a cells × features matrix)."""
        rows = rows.tocsr()
        rows.sort_indices()
        n = rows.nnz
        for dataset, values in ((self.data, rows.data.astype(np.int32)), (self.indices, rows.indices.astype(np.int64))):
            dataset.resize((self.nnz + n,))
            dataset[self.nnz :] = values
        self.indptr.append(rows.indptr[1:].astype(np.int64) + self.nnz)
        self.nnz += n

    def __enter__(self) -> FeatureMatrixH5:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                indptr = np.concatenate(self.indptr)
                if len(indptr) != self.n_cells + 1:
                    msg = f"cell_feature_matrix.h5 got {len(indptr) - 1} cells, expected {self.n_cells}."
                    raise ValueError(msg)
                self.h5["matrix"].create_dataset("indptr", data=indptr)
        finally:
            self.h5.close()
