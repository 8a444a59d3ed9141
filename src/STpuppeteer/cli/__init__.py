"""Command line: ``stpuppeteer simulate | config | plot | export | score | clean | demo | fit | compare``.

Every failure the user can cause (bad arguments, invalid config, existing output) ends
with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pydantic import ValidationError

from STpuppeteer.cli._config import MODELS, PRESETS, add_config_args, add_dask_args, cmd_config
from STpuppeteer.cli._errors import Parser, UserError, one_line
from STpuppeteer.cli.export import EXPORT_TOOLS, add_export_parser
from STpuppeteer.cli.fit import add_compare_parser, add_fit_parser
from STpuppeteer.cli.folders import cmd_clean, cmd_plot, cmd_score
from STpuppeteer.cli.simulate import FORMATS, cmd_demo, cmd_simulate, run_stages, write_outputs

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MODELS", "PRESETS", "UserError", "build_parser", "main", "run_stages", "write_outputs"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``stpuppeteer`` command."""
    parser = Parser(prog="stpuppeteer", description="Simulate imaging-based spatial transcriptomics.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("simulate", help="simulate and write instrument-like outputs")
    add_config_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist)")
    p.add_argument("--format", default="xenium,h5ad", help=f"comma-separated, from {','.join(FORMATS)}")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--plot", action="store_true", help="also write overview.png and qc.png "
                   "(and localisation.png when genes are localised)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress on stderr (bars on a terminal, else one line per finished stage)")
    p.add_argument("--stream", action="store_true",
                   help="slide scale: write the Xenium bundle block by block, never holding every molecule "
                        "(--format xenium only)")
    add_dask_args(p)
    p.add_argument("--worker-files", action="store_true",
                   help="with --stream on Dask workers: the workers write their blocks' encoded row groups into "
                        "the output folder, which they must reach (shared storage), instead of sending them back")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("config", help="print a fully commented config")
    add_config_args(p)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("plot", help="draw the overview and QC panels of a simulated folder (two PNGs)",
                       description="Write two PNGs: the overview (--out) and the QC panels beside it.")
    p.add_argument("dir", metavar="DIR", help="a folder written by `simulate` (or a bundle with ground_truth/)")
    p.add_argument("--out", metavar="PNG",
                   help="the overview's path (default DIR/overview.png); the QC panels go beside it as "
                        "<stem>_qc.png (qc.png when the stem is overview); both paths are printed")
    p.set_defaults(func=cmd_plot)

    add_export_parser(sub)

    p = sub.add_parser("score", help="score a method's output against the truth",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Score a prediction against the truth, beside the floor and ceiling baselines.")
    p.epilog_factory = _score_epilog
    p.add_argument("--truth", required=True, metavar="DIR", help="a simulated folder with ground_truth/")
    p.add_argument("--pred", metavar="FILE", help="molecule → cell table (csv/tsv/parquet)")
    p.add_argument("--pred-shapes", metavar="FILE", help="predicted cell polygons (GeoParquet, Xenium/MERSCOPE tables)")
    p.add_argument("--pred-labels", metavar="FILE",
                   help="predicted cell → type label table (cell_id, celltype|label|cluster), typed on matched cells")
    p.add_argument("--pred-regions", metavar="FILE",
                   help="molecule → region table (transcript_id, region|domain|niche|label|cluster), "
                        "scored against each molecule's source cell type")
    p.add_argument("--tool", choices=EXPORT_TOOLS,
                   help="--pred is this tool's own output (Baysor segmentation.csv, Proseg transcript metadata, "
                        "ComSeg's per-molecule table, Sopa's .zarr), read with STpuppeteer.io.read_assignment")
    p.add_argument("--cell-col", help="column of --pred (and --pred-labels) holding the cell (default: guessed)")
    p.add_argument("--transcript-col", default="transcript_id", help="column of --pred holding the molecule id")
    p.add_argument(
        "--unassigned", action="append", metavar="VALUE",
        help="value meaning 'no cell' in --pred (repeatable; default -1, UNASSIGNED, empty; e.g. 0 for Baysor)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the scores as JSON")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("clean", help="remove what killed runs left (hidden temporary folders of dead processes)")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the folder holding the outputs (default: .)")
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser("demo", help="simulate the default Xenium-like tile into a folder")
    add_config_args(p, default_preset="xenium")
    p.add_argument("--out", default="demo_output", metavar="DIR")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_dask_args(p)
    p.set_defaults(func=cmd_demo)
    add_fit_parser(sub)
    add_compare_parser(sub)
    return parser


def _score_epilog() -> str:
    from STpuppeteer.metrics.definitions import metrics_epilog

    return metrics_epilog()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv
        Arguments (default: ``sys.argv[1:]``).
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    # OSError covers what the filesystem refuses (existing, missing or read-only targets, a
    # full disk, an over-long name) and an unreachable scheduler: each is one line too.
    except (UserError, ValidationError, ValueError, TypeError, KeyError, ModuleNotFoundError, OSError,
            MemoryError) as err:
        print(f"stpuppeteer {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stpuppeteer {args.command}: interrupted; nothing was left half-written.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
