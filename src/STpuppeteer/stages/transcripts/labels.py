"""The labels of ``trs_df``: origins, compartments, and the block codes turned into rows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from STpuppeteer.stages.instrument import control_names

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

__all__ = [
    "AMBIENT",
    "CELL",
    "COMPARTMENTS",
    "CONTROL",
    "CYTOPLASM",
    "EXTRACELLULAR",
    "LEAKED",
    "NO_CELLTYPE",
    "NUCLEUS",
    "ORIGINS",
    "MoleculeLabels",
    "code_dtype",
    "compartment_codes",
]


ORIGINS = ("cell", "leaked", "ambient", "control")
COMPARTMENTS = ("nucleus", "cytoplasm", "extracellular")
NO_CELLTYPE = "none"
# Integer codes of the blocks' ``origin`` and ``compartment`` arrays (positions in the tuples above).
CELL, LEAKED, AMBIENT, CONTROL = range(4)
NUCLEUS, CYTOPLASM, EXTRACELLULAR = range(3)


def compartment_codes(landed: np.ndarray, in_nucleus: np.ndarray) -> np.ndarray:
    """Compartment code of molecules from the cell they landed in (-1: none) and the nucleus test."""
    return np.where(landed < 0, EXTRACELLULAR, np.where(in_nucleus, NUCLEUS, CYTOPLASM)).astype(np.int8)


def code_dtype(n_categories: int) -> type[np.signedinteger]:
    """The smallest dtype pandas stores categorical codes in (codes already in it are not copied)."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(dtype).max:
            return dtype
    return np.int64


@dataclass(frozen=True)
class MoleculeLabels:
    """What turns blocks of molecules (integer codes) into ``trs_df`` rows: ids and category names."""

    cell_ids: np.ndarray | None
    ct_code: np.ndarray
    ct_names: list[str]
    features: pd.Index
    #: Whether the optics are on: then the frame has the columns ``merged`` and ``lost``.
    optics: bool = False

    @classmethod
    def build(cls, cell_gdf: pd.DataFrame, gpar_df: pd.DataFrame, config: SimulationConfig) -> MoleculeLabels:
        """From the cells (``cell_id``, ``celltype``), the genes and the config's control names."""
        genes = np.asarray(gpar_df["feature_name"], dtype=object)
        features = pd.Index(list(genes) + [name for kind in control_names(config.instrument) for name in kind])
        cell_ids = np.asarray(cell_gdf["cell_id"])
        # Rows are positions in cell_gdf; report the cells' own ids when they differ.
        ids = None if np.array_equal(cell_ids, np.arange(len(cell_ids))) else np.append(cell_ids, -1).astype(np.int64)
        ct_values = np.asarray(cell_gdf["celltype"], dtype=str)
        ct_names = list(dict.fromkeys(config.celltype_names + sorted(set(ct_values))))
        ct_code = np.append(pd.Index(ct_names).get_indexer(ct_values), len(ct_names))
        ct_code = ct_code.astype(code_dtype(len(ct_names) + 1))
        return cls(cell_ids=ids, ct_code=ct_code, ct_names=ct_names, features=features,
                   optics=config.instrument.min_distance_um > 0)

    def frame(self, parts: list[dict[str, np.ndarray]], *, first_id: int = 0, n_threads: int = 1) -> pd.DataFrame:
        """``trs_df`` rows of these blocks, ``transcript_id`` counting from ``first_id``.

        ``n_threads`` threads join the blocks' columns (the same frame whatever their number).
        """
        keys = ("row", "gene", "true_gene", "x", "y", "z", "origin", "landed", "compartment", "qv")
        keys += ("merged", "lost") if self.optics else ()
        # Gene codes joined straight into the dtype pandas keeps for the categorical's codes.
        gene_dtype = code_dtype(len(self.features))
        dtypes = {"row": np.int32, "gene": gene_dtype, "true_gene": gene_dtype, "x": np.float64, "y": np.float64,
                  "z": np.float32, "origin": np.int8, "landed": np.int32, "compartment": np.int8, "qv": np.float32,
                  "merged": np.int32, "lost": np.int32}

        def join(k: str) -> np.ndarray:
            if not parts:
                return np.zeros(0, dtype=dtypes[k])
            # Background parts have no optics columns: nothing of theirs is merged or lost.
            return np.concatenate([p[k] if k in p else np.zeros(len(p["row"]), dtype=dtypes[k]) for p in parts],
                                  dtype=dtypes[k], casting="same_kind")

        if n_threads > 1 and parts:
            # Joining is mostly first touches of fresh memory, which threads overlap.
            with ThreadPoolExecutor(max_workers=n_threads) as pool:
                cols = dict(zip(keys, pool.map(join, keys), strict=True))
        else:
            cols = {k: join(k) for k in keys}
        n = len(cols["row"])
        row, landed = cols["row"], cols["landed"]
        if self.cell_ids is not None:
            row, landed = self.cell_ids[row], self.cell_ids[landed]
        comp = cols["compartment"]
        features = self.features
        columns = {
            "transcript_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "x": cols["x"],
            "y": cols["y"],
            "z": cols["z"],
            "feature_name": pd.Categorical.from_codes(cols["gene"], categories=features, validate=False),
            "cell_id": row,
            "celltype": pd.Categorical.from_codes(self.ct_code[cols["row"]],
                                                  categories=[*self.ct_names, NO_CELLTYPE], validate=False),
            "origin": pd.Categorical.from_codes(cols["origin"], categories=list(ORIGINS), validate=False),
            "landed_cell_id": landed,
            "compartment": pd.Categorical.from_codes(comp, categories=list(COMPARTMENTS), validate=False),
            "overlaps_nucleus": comp == NUCLEUS,
            "qv": cols["qv"],
            "true_feature_name": pd.Categorical.from_codes(cols["true_gene"], categories=features, validate=False),
        }
        if self.optics:
            columns["merged"], columns["lost"] = cols["merged"], cols["lost"]
        # copy=False: the columns are fresh arrays; consolidating them would copy gigabytes.
        return pd.DataFrame(columns, copy=False)
