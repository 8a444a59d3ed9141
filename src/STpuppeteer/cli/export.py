"""``stpuppeteer export RUN --to TOOL``: write what a segmentation tool reads, with its command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from STpuppeteer.cli._errors import UserError

__all__ = ["EXPORT_TOOLS", "add_export_parser", "cmd_export"]

# Kept here too so that building the parser imports no io module (the CLI starts quickly);
# tests/cli check it equals STpuppeteer.io.export.TOOLS.
EXPORT_TOOLS: tuple[str, ...] = ("baysor", "proseg", "comseg", "sopa")


def add_export_parser(sub: Any) -> None:
    """Add ``export`` to the ``stpuppeteer`` subcommands."""
    p = sub.add_parser(
        "export",
        help="write a run's molecules and nuclei for Baysor, Proseg, ComSeg or Sopa, with the command that runs it",
        description="Write exactly what the tool reads (our transcript_id carried through, the nuclei as prior) "
        "and DIR/README.md + DIR/command.txt with the tool's command line. Read its answer back with "
        "`stpuppeteer score --pred OUTPUT --tool TOOL`.",
    )
    p.add_argument("run", metavar="RUN", help="a folder written by `stpuppeteer simulate` (with ground_truth/)")
    p.add_argument("--to", required=True, choices=EXPORT_TOOLS, help="the tool")
    p.add_argument("--out", metavar="DIR", help="the folder to create (default: RUN/export_<tool>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """``stpuppeteer export RUN --to TOOL``."""
    from STpuppeteer.io.export import COMMAND, write_export

    run = Path(args.run)
    if not (run / "ground_truth").is_dir():
        msg = f"export {run}: no ground_truth/ folder in it; pass a folder written by `stpuppeteer simulate`."
        raise UserError(msg)
    out = Path(args.out) if args.out else run / f"export_{args.to}"
    folder = write_export(run, args.to, out, overwrite=args.overwrite)
    print(f"written: {folder}")
    print(f"run {args.to} with ({folder / COMMAND}):")
    print((folder / COMMAND).read_text().rstrip())
    return 0
