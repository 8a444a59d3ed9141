"""``stpuppeteer fit`` and ``compare``: a config from real data, and how close a simulation comes."""

from __future__ import annotations

import argparse
from pathlib import Path

from STpuppeteer.cli._errors import UserError

__all__ = ["add_compare_parser", "add_fit_parser", "cmd_compare", "cmd_fit"]


def _existing(value: str, flag: str) -> str:
    if not Path(value).exists():
        msg = f"{flag} {value}: no such file or folder."
        raise UserError(msg)
    return value


def _cells(args: argparse.Namespace) -> str | None:
    return None if args.cells is None else _existing(args.cells, "--cells")


def cmd_fit(args: argparse.Namespace) -> int:
    """``stpuppeteer fit REF --out fitted.yaml``: fit, then write the config with what was (not) estimated."""
    from STpuppeteer.fit.config import fit_reference

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        msg = f"--out {out} already exists; pass --overwrite to replace it."
        raise UserError(msg)
    if out.suffix.lower() not in {".yaml", ".yml"}:
        msg = f"--out {out}: the fitted config is YAML; give a file name ending in .yaml."
        raise UserError(msg)
    result = fit_reference(_existing(args.reference, "REF"), celltype_key=args.celltype_key, model=args.model,
                           n_cells=args.n_cells, seed=args.seed, preset=args.preset, cells=_cells(args),
                           pixel_size_um=args.pixel_size_um, progress=True)
    tmp = out.with_name(f".{out.name}.tmp")
    result.to_yaml(tmp)
    tmp.replace(out)  # a half-written config never carries the final name
    print(result.header())
    print(f"written: {out.resolve()}\nsimulate it with:  stpuppeteer simulate --config {out} --out DIR")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``stpuppeteer compare SIM REF --out DIR``: the realism report, figures and distances."""
    from STpuppeteer.fit.read import read_reference
    from STpuppeteer.fit.report import write_realism_report

    sim = read_reference(_existing(args.sim, "SIM"), celltype_key=args.celltype_key)
    cells = _cells(args)
    real = read_reference(_existing(args.reference, "REF"), celltype_key=args.celltype_key,
                          **({} if cells is None else {"cells": cells}))
    out = write_realism_report(sim, real, Path(args.out), overwrite=args.overwrite)
    print(f"realism report: {out.resolve()} (distances.md, distances.json, realism.png)")
    print((out / "distances.md").read_text())
    return 0


def add_fit_parser(sub: argparse._SubParsersAction) -> None:
    """The ``fit`` subcommand's arguments."""
    p = sub.add_parser("fit", help="fit a config to a real dataset (AnnData, molecule table, instrument bundle)")
    p.add_argument("reference", metavar="REF",
                   help=".h5ad, molecule table (.parquet/.csv), .zarr, Xenium/MERSCOPE/CosMx folder or a run folder")
    p.add_argument("--celltype-key", metavar="KEY", help="the cells' type column (default: one type)")
    p.add_argument("--cells", metavar="FILE", help="for a molecule table: its cells (ids and polygons, WKB)")
    p.add_argument("--pixel-size-um", type=float, metavar="UM", help="µm per pixel, if REF's coordinates are pixels")
    p.add_argument("--model", choices=("table", "seed", "programs"), default="table",
                   help="expression model of the fitted config: an explicit gene table (real names, fitted μ, θ), "
                        "the seed's gamma priors, or gene programs (NMF)")
    p.add_argument("--out", required=True, metavar="FILE.yaml", help="where to write the fitted config")
    p.add_argument("--n-cells", type=int, help="cells to simulate (default: as many as REF has)")
    p.add_argument("--seed", type=int, default=0, help="the fitted config's seed")
    p.add_argument("--preset", default="default", help="preset whose values the fields not estimated keep")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.set_defaults(func=cmd_fit)


def add_compare_parser(sub: argparse._SubParsersAction) -> None:
    """The ``compare`` subcommand's arguments."""
    p = sub.add_parser("compare", help="realism report: a simulation against real data, figures and distances")
    p.add_argument("sim", metavar="SIM", help="a simulated run folder (or anything `fit` reads)")
    p.add_argument("reference", metavar="REF", help="the real dataset (as for `fit`)")
    p.add_argument("--out", required=True, metavar="DIR", help="the report folder")
    p.add_argument("--celltype-key", metavar="KEY", help="the cells' type column, in both")
    p.add_argument("--cells", metavar="FILE", help="for a molecule table REF: its cells (ids and polygons, WKB)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report folder")
    p.set_defaults(func=cmd_compare)
