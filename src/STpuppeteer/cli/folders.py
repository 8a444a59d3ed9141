"""``stpuppeteer plot | score | clean``: commands on folders that a run wrote."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from STpuppeteer.cli._errors import UserError
from STpuppeteer.cli.simulate import plot_result

__all__ = ["cmd_clean", "cmd_plot", "cmd_score"]


def cmd_plot(args: argparse.Namespace) -> int:
    """``stpuppeteer plot DIR``: the overview and QC panels of a written run."""
    from STpuppeteer.io.read import read_result

    folder = Path(args.dir)
    if not folder.is_dir():
        msg = f"plot {folder}: no such folder."
        raise UserError(msg)
    result = read_result(folder)
    png = Path(args.out) if args.out else folder / "overview.png"
    written = plot_result(result, png)
    print("written: " + ", ".join(str(p.resolve()) for p in written))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """``stpuppeteer score``: a method's assignment or polygons against the run's truth."""
    inputs = ("pred", "pred_shapes", "pred_labels", "pred_regions")
    for name in ("truth", *inputs):
        value = getattr(args, name)
        if value is not None and not Path(value).exists():
            msg = f"--{name.replace('_', '-')} {value}: no such file or folder."
            raise UserError(msg)
    if all(getattr(args, name) is None for name in inputs):
        msg = "give --pred (molecule → cell table), --pred-shapes (polygons), --pred-labels or --pred-regions."
        raise UserError(msg)
    kwargs: dict[str, Any] = {"cell_col": args.cell_col, "transcript_col": args.transcript_col}
    if args.unassigned:
        kwargs["unassigned"] = tuple(args.unassigned)
    if args.tool is not None and args.pred is None:
        msg = f"--tool {args.tool} says how to read --pred; give --pred (the tool's output)."
        raise UserError(msg)
    # Imported once the arguments hold: a mistyped command line answers without loading the metrics.
    from STpuppeteer.metrics import score_cli

    score_cli(args.truth, args.pred, args.pred_shapes, pred_labels_path=args.pred_labels,
              pred_regions_path=args.pred_regions, out_json=args.json, pred_tool=args.tool, **kwargs)
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    """``stpuppeteer clean DIR``: remove the hidden temporaries of killed runs."""
    from STpuppeteer.io.atomic import remove_stale_temporaries

    folder = Path(args.dir)
    if not folder.is_dir():
        msg = f"{folder}: no such folder."
        raise UserError(msg)
    removed = remove_stale_temporaries(folder)
    for path in removed:
        print(f"removed {path}")
    print(f"stpuppeteer clean: {len(removed)} stale temporary folder(s) removed from {folder.resolve()}")
    return 0
