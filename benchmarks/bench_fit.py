"""Benchmark of ``fit_reference``: seconds and peak memory to fit 10⁵ cells × 500 genes.

The input is an AnnData of negative-binomial counts (10 cell types, μ and θ drawn like a
real panel's), cell centroids and nucleus areas, as an scRNA-seq or spatial count matrix
arrives. Each model runs in a fresh Python process. Usage::

    python benchmarks/bench_fit.py                      # 100,000 cells × 500 genes, every model
    python benchmarks/bench_fit.py --cells 20000 --genes 300 --models table

Target (issue 15): well under a minute on 2 cores for 10⁵ cells × 500 genes (a peer's
scDesign3-style Python fit takes ~30 s for 700 cells × 100 genes).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _anndata(n_cells: int, n_genes: int, n_types: int, seed: int):  # noqa: ANN202
    import anndata
    import numpy as np
    import pandas as pd
    from scipy import sparse

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n_types, n_cells)
    mu = rng.gamma(0.6, 1.5, (n_types, n_genes)) * rng.choice([0.05, 1.0, 8.0], size=(n_types, n_genes),
                                                               p=[0.3, 0.6, 0.1])
    theta = rng.gamma(2.0, 1.0, (n_types, n_genes)) + 0.05
    area = rng.gamma(12, 50 / 12, n_cells)
    scale = area / np.bincount(codes, weights=area)[codes] * np.bincount(codes)[codes]
    counts = sparse.csr_matrix(rng.poisson(rng.gamma(theta[codes]) * (mu[codes] * scale[:, None] / theta[codes])))
    side = np.sqrt(n_cells / 2200) * 1000  # µm at Xenium's 2,200 cells per mm²
    obs = pd.DataFrame({"celltype": pd.Categorical([f"type_{k}" for k in codes]), "nucleus_area": area},
                       index=[f"c{i}" for i in range(n_cells)])
    adata = anndata.AnnData(X=counts.astype(np.int32), obs=obs,
                            var=pd.DataFrame(index=[f"gene_{g}" for g in range(n_genes)]))
    adata.obsm["spatial"] = rng.uniform(0, side, (n_cells, 2))
    return adata


def _one(n_cells: int, n_genes: int, model: str, seed: int) -> dict[str, float | str]:
    from STpuppeteer.fit.config import fit_reference

    adata = _anndata(n_cells, n_genes, 10, seed)
    start = time.perf_counter()
    fit = fit_reference(adata, celltype_key="celltype", model=model)
    seconds = time.perf_counter() - start
    return {
        "model": model,
        "n_cells": n_cells,
        "n_genes": n_genes,
        "seconds": seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,  # KiB on Linux
        "fields": len(fit.estimates.fields),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one row per model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--genes", type=int, default=500)
    parser.add_argument("--models", default="table,seed,programs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_one(args.cells, args.genes, args.models, args.seed)))
        return
    print(f"fit_reference of {args.cells:,} cells × {args.genes} genes (AnnData, 10 types), seed {args.seed}")
    print(f"{'model':>10} {'seconds':>9} {'peak RSS GB':>12} {'fields':>7}")
    for model in args.models.split(","):
        cmd = [sys.executable, __file__, "--cells", str(args.cells), "--genes", str(args.genes), "--models", model,
               "--seed", str(args.seed), "--child"]
        row = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        print(f"{row['model']:>10} {row['seconds']:>9.2f} {row['peak_rss_gb']:>12.2f} {row['fields']:>7}")


if __name__ == "__main__":
    main()
