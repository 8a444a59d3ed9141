"""Command line: ``stpuppeteer simulate | config | plot | score | clean | demo``.

Every failure the user can cause (bad arguments, invalid config, existing output) ends
with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.result import SimulationResult

__all__ = ["main"]

FORMATS = ("xenium", "merscope", "cosmx", "spatialdata", "h5ad")
# Where each format goes inside the --out folder.
FORMAT_PATHS = {
    "xenium": "xenium",
    "merscope": "merscope",
    "cosmx": "cosmx",
    "spatialdata": "simulation.zarr",
    "h5ad": "simulation.h5ad",
}
PRESETS = ("default", "xenium", "merscope", "cosmx", "breast_programs")
# The expression models, and the preset each starts from when no --preset or --config is given
# (the table model has none: its configs come from data, e.g. from `stpuppeteer fit`).
MODELS = {"priors": "default", "programs": "breast_programs", "table": None}


class UserError(Exception):
    """A problem with the user's input, reported as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _one_line(err: BaseException) -> str:
    if isinstance(err, ValidationError):
        parts = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "config"
            parts.append(f"{loc}: {e['msg']} (got {e['input']!r})" if "input" in e else f"{loc}: {e['msg']}")
        return "invalid config: " + "; ".join(parts)
    return " ".join(str(err).split())


# --------------------------------------------------------------------------- config
def _load_config(args: argparse.Namespace) -> SimulationConfig:
    from STpuppeteer.config import SimulationConfig

    overrides: dict[str, Any] = {}
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    if getattr(args, "n_cells", None) is not None:
        overrides["n_cells"] = args.n_cells
    model = getattr(args, "model", None)
    if getattr(args, "config", None):
        path = Path(args.config)
        if not path.is_file():
            msg = f"--config {path}: no such file."
            raise UserError(msg)
        base = SimulationConfig.from_yaml(path)
        config = SimulationConfig.model_validate({**base.model_dump(), **overrides})
    else:
        preset = getattr(args, "preset", None) or MODELS[model or "priors"]
        if preset is None:
            msg = (f"--model {model}: the table model has no preset; give a config with a gene_table "
                   "(`stpuppeteer fit` writes one) with --config.")
            raise UserError(msg)
        if preset == "default":
            config = SimulationConfig(**overrides)
        else:
            config = SimulationConfig.from_preset(preset, **overrides)
    if model is not None and config.expression_model != model:
        source = f"--config {args.config}" if getattr(args, "config", None) else f"--preset {args.preset}"
        hint = ("a table config has a gene_table" if model == "table"
                else f"the presets of the program model: {[p for p in PRESETS if p.endswith('_programs')]}")
        msg = f"--model {model}: {source} is a config of the {config.expression_model} model ({hint})."
        raise UserError(msg)
    return config


def _cmd_config(args: argparse.Namespace) -> int:
    from STpuppeteer.config.commented import commented_yaml

    config = _load_config(args)
    source = f"config: {args.config}" if args.config else f"preset: {args.preset or MODELS[args.model or 'priors']}"
    header = (
        f"STpuppeteer config ({config.expression_model} model, {source}). Edit and run:\n"
        "  stpuppeteer simulate --config THIS.yaml --out DIR"
    )
    sys.stdout.write(commented_yaml(config, header=header))
    return 0


# --------------------------------------------------------------------------- simulate
def _parse_formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        msg = f"--format {text!r}: unknown format(s) {unknown}; choose from {', '.join(FORMATS)}."
        raise UserError(msg)
    return list(dict.fromkeys(formats))


def run_stages(config: SimulationConfig, *, progress: bool = True, client: Any = None) -> SimulationResult:  # noqa: ANN401
    """Run every stage with a progress bar (shown on a terminal only).

    Parameters
    ----------
    config
        The validated config.
    progress
        Show the bar (it is also hidden when stderr is not a terminal).
    client
        A ``dask.distributed.Client`` for the blocks of stages 3–4 (same result as without).

    Returns
    -------
    The simulation result.
    """
    from tqdm.auto import tqdm

    from STpuppeteer.config.budget import check_memory
    from STpuppeteer.pipeline.simulator import SpotlessSimulator

    check_memory(config)
    sim = SpotlessSimulator(config)
    stages = [
        ("gene parameters", sim.generate_gene_parameters),
        ("cells", sim.generate_cells),
        ("counts", partial(sim.generate_counts, client=client)),
        ("transcripts", partial(sim.generate_transcripts, client=client)),
    ]
    with tqdm(stages, desc="simulating", unit="stage", disable=None if progress else True) as bar:
        for name, stage in bar:
            bar.set_postfix_str(name)
            stage()
    return sim.run()


def write_outputs(
    result: SimulationResult, out: Path, formats: list[str], *, overwrite: bool = False, progress: bool = True
) -> list[str]:
    """Write the chosen formats, the ground truth and the config into ``out``, atomically.

    Parameters
    ----------
    result
        The simulation result.
    out
        The output folder; refused if it exists unless ``overwrite``.
    formats
        Subset of ``FORMATS``.
    overwrite
        Replace an existing ``out``.
    progress
        Show a progress bar on a terminal.

    Returns
    -------
    The written paths, relative to ``out``.
    """
    from tqdm.auto import tqdm

    from STpuppeteer.io.atomic import atomic_output_dir
    from STpuppeteer.io.ground_truth import write_ground_truth
    from STpuppeteer.io.manifest import write_manifest

    # The run's ground truth is written once, at the top; the bundles do not repeat it (CosMx
    # keeps only its instrument-cell mapping, which the others do not have).
    writers = {
        "xenium": partial(result.write_xenium, ground_truth=False),
        "merscope": partial(result.write_merscope, ground_truth=False),
        "cosmx": partial(result.write_cosmx, ground_truth=False),
        "spatialdata": result.write_spatialdata,
        "h5ad": result.write_h5ad,
    }
    written = []
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        result.config.to_yaml(tmp / "config.yaml")
        written.append("config.yaml")
        write_ground_truth(result, tmp)
        written.append("ground_truth/")
        with tqdm(formats, desc="writing", unit="format", disable=None if progress else True) as bar:
            for fmt in bar:
                bar.set_postfix_str(fmt)
                writers[fmt](tmp / FORMAT_PATHS[fmt])
                written.append(FORMAT_PATHS[fmt] + ("/" if (tmp / FORMAT_PATHS[fmt]).is_dir() else ""))
        write_manifest(tmp, result.config, fmt="stpuppeteer-run", extra={"formats": formats})
        written.append("manifest.json")
    return written


def _check_formats_fit(config: SimulationConfig, formats: list[str]) -> None:
    """Refuse, before simulating, a format that cannot hold this run (whole-tissue images too large, CosMx's FOVs)."""
    from STpuppeteer.config.budget import raster_pixels
    from STpuppeteer.config.tissue import tissue_extent_um
    from STpuppeteer.geometry.raster import MAX_PIXELS
    from STpuppeteer.io._cosmx_constants import MIN_CELLS_PER_FOV
    from STpuppeteer.io._merscope_constants import MOSAIC_PIXEL_SIZE
    from STpuppeteer.io.xenium._constants import PIXEL_SIZE as XENIUM_PIXEL_SIZE
    from STpuppeteer.io.xenium.features import check_ascii_genes

    if "cosmx" in formats and config.n_cells < MIN_CELLS_PER_FOV:
        msg = (
            f"--format cosmx: a CosMx bundle needs a field of view holding {MIN_CELLS_PER_FOV} cells or more "
            f"(spatialdata_io.cosmx places each one from its cells), and n_cells={config.n_cells}; use "
            f"--n-cells {MIN_CELLS_PER_FOV} or more, or leave cosmx out of --format."
        )
        raise UserError(msg)
    if "xenium" in formats:
        try:
            check_ascii_genes(config.resolve_gene_names())
        except ValueError as err:
            raise UserError(f"--format xenium: {err}") from None
    pixel_sizes = {"xenium": XENIUM_PIXEL_SIZE, "spatialdata": XENIUM_PIXEL_SIZE, "merscope": MOSAIC_PIXEL_SIZE}
    for fmt in formats:
        if fmt not in pixel_sizes:
            continue
        n_pixels = raster_pixels(config, pixel_size=pixel_sizes[fmt])
        if n_pixels > MAX_PIXELS:
            width, height = tissue_extent_um(config.tissue, config.n_cells)
            stream = "; --stream writes Xenium without images at this size" if fmt == "xenium" else ""
            msg = (
                f"--format {fmt}: the whole-tissue image of this {width:,.0f} × {height:,.0f} µm tissue would have "
                f"about {n_pixels:.2g} pixels at {pixel_sizes[fmt]} µm, more than the {MAX_PIXELS:.0e} allowed in "
                f"memory; lower n_cells or raise tissue.density_per_mm2, or leave {fmt} out of --format{stream}."
            )
            raise UserError(msg)


def _free_out(args: argparse.Namespace) -> Path:
    """``--out``, checked before anything is simulated.

    Refused if it exists (unless ``--overwrite``, and then only a folder STpuppeteer wrote),
    and never the current folder, one of its ancestors, the home folder or a root.
    """
    from STpuppeteer.io.atomic import check_folder_target

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        msg = f"--out {out} already exists; pass --overwrite to replace it."
        raise UserError(msg)
    try:
        check_folder_target(out, overwrite=args.overwrite)
    except FileExistsError as err:
        raise UserError(f"--out {out}: {err}") from None
    return out


def _simulate_and_write(
    args: argparse.Namespace, formats: list[str], *, plot: bool
) -> tuple[SimulationResult, Path, list[str], float]:
    """Shared by ``simulate`` and ``demo``: check the target first, run, write, draw."""
    from STpuppeteer._parallel import dask_client

    config = _load_config(args)
    _check_formats_fit(config, formats)
    out = _free_out(args)
    start = time.perf_counter()
    with dask_client(workers=args.workers, scheduler=args.scheduler) as client:
        result = run_stages(config, progress=not args.quiet, client=client)
    files = write_outputs(result, out, formats, overwrite=args.overwrite, progress=not args.quiet)
    if plot:
        files += [p.name for p in _plot_result(result, out / "overview.png")]
    return result, out, files, time.perf_counter() - start


def _stream(args: argparse.Namespace) -> int:
    """``simulate --stream``: a Xenium bundle written block by block (bounded memory, no summary)."""
    from STpuppeteer._parallel import dask_client
    from STpuppeteer.pipeline.streamed import simulate_to_xenium

    formats = _parse_formats(args.format)
    if formats != ["xenium"] or args.plot:
        msg = (f"--stream writes one Xenium bundle block by block; it is not allowed with --format {args.format}"
               f"{' or --plot' if args.plot else ''} (use --format xenium, without --plot).")
        raise UserError(msg)
    config, out = _load_config(args), _free_out(args)
    start = time.perf_counter()
    with dask_client(workers=args.workers, scheduler=args.scheduler) as client:
        path = simulate_to_xenium(config, out, client=client, overwrite=args.overwrite)
    print(f"STpuppeteer: streamed seed {config.seed} ({config.n_cells:,} cells) in "
          f"{time.perf_counter() - start:.1f} s → {path}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from STpuppeteer.summary import format_summary, summarize

    if args.stream:
        return _stream(args)
    result, out, files, elapsed = _simulate_and_write(args, _parse_formats(args.format), plot=args.plot)
    print(f"STpuppeteer: simulated seed {result.config.seed} in {elapsed:.1f} s → {out.resolve()}")
    print(format_summary(summarize(result), files=[str(out / f) for f in files]))
    return 0


# --------------------------------------------------------------------------- plot
def _plot_result(result: SimulationResult, png: Path) -> list[Path]:
    """Write the overview to ``png`` and the QC panels beside it (``qc.png``, or ``<stem>_qc.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from STpuppeteer.plotting.overview import plot_overview, plot_qc

    qc = png.with_name("qc.png" if png.stem == "overview" else f"{png.stem}_qc{png.suffix}")
    plot_overview(result).savefig(png, dpi=130, bbox_inches="tight")
    plot_qc(result).savefig(qc, dpi=110, bbox_inches="tight")
    plt.close("all")
    return [png, qc]


def _cmd_plot(args: argparse.Namespace) -> int:
    from STpuppeteer.io.read import read_result

    folder = Path(args.dir)
    if not folder.is_dir():
        msg = f"plot {folder}: no such folder."
        raise UserError(msg)
    result = read_result(folder)
    png = Path(args.out) if args.out else folder / "overview.png"
    written = _plot_result(result, png)
    print("written: " + ", ".join(str(p.resolve()) for p in written))
    return 0


# --------------------------------------------------------------------------- score
def _cmd_score(args: argparse.Namespace) -> int:
    from STpuppeteer.metrics import score_cli

    for name in ("truth", "pred", "pred_shapes"):
        value = getattr(args, name)
        if value is not None and not Path(value).exists():
            msg = f"--{name.replace('_', '-')} {value}: no such file or folder."
            raise UserError(msg)
    if args.pred is None and args.pred_shapes is None:
        msg = "give --pred (molecule → cell table), --pred-shapes (polygons), or both."
        raise UserError(msg)
    kwargs: dict[str, Any] = {"cell_col": args.cell_col, "transcript_col": args.transcript_col}
    if args.unassigned:
        kwargs["unassigned"] = tuple(args.unassigned)
    score_cli(args.truth, args.pred, args.pred_shapes, out_json=args.json, **kwargs)
    return 0


# --------------------------------------------------------------------------- clean
def _cmd_clean(args: argparse.Namespace) -> int:
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


# --------------------------------------------------------------------------- demo
def _cmd_demo(args: argparse.Namespace) -> int:
    from STpuppeteer.summary import format_summary, summarize

    result, out, files, elapsed = _simulate_and_write(args, ["xenium", "h5ad"], plot=True)
    print(f"STpuppeteer demo: a {result.config.n_cells:,}-cell Xenium-like tile in {elapsed:.1f} s")
    print(format_summary(summarize(result), files=[str((out / f).resolve()) for f in files]))
    print(
        "Open it with:  import spatialdata_io; spatialdata_io.xenium("
        f"{str((out / 'xenium').resolve())!r})\n"
        f"Look at:      {(out / 'overview.png').resolve()}"
    )
    return 0


# --------------------------------------------------------------------------- parser
def _add_config_args(parser: argparse.ArgumentParser, *, default_preset: str | None = None) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE.yaml", help="a config file (see `stpuppeteer config`)")
    source.add_argument("--preset", choices=PRESETS, default=default_preset, help="a platform preset")
    parser.add_argument(
        "--model", choices=tuple(MODELS),
        help="expression model: 'priors' (the seed's gamma priors, cell types ct_k), 'programs' (gene programs, "
             "named cell types; default preset breast_programs) or 'table' (μ and θ per gene and cell type, as "
             "`stpuppeteer fit` writes them; with --config)",
    )
    parser.add_argument("--seed", type=int, help="override the config's seed")
    parser.add_argument("--n-cells", type=int, help="override the number of cells")


def _add_dask_args(parser: argparse.ArgumentParser) -> None:
    dask = parser.add_mutually_exclusive_group()
    dask.add_argument("--workers", type=int, metavar="N",
                      help="run the cell blocks on a local Dask cluster of N processes (needs dask[distributed])")
    dask.add_argument("--scheduler", metavar="ADDRESS",
                      help="run the cell blocks on a running Dask scheduler, e.g. tcp://host:8786")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``stpuppeteer`` command."""
    parser = _Parser(prog="stpuppeteer", description="Simulate imaging-based spatial transcriptomics.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("simulate", help="simulate and write instrument-like outputs")
    _add_config_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist)")
    p.add_argument("--format", default="xenium,h5ad", help=f"comma-separated, from {','.join(FORMATS)}")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--plot", action="store_true", help="also write overview.png and qc.png")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--stream", action="store_true",
                   help="slide scale: write the Xenium bundle block by block, never holding every molecule "
                        "(--format xenium only)")
    _add_dask_args(p)
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("config", help="print a fully commented config")
    _add_config_args(p)
    p.set_defaults(func=_cmd_config)

    p = sub.add_parser("plot", help="draw the overview of a simulated folder")
    p.add_argument("dir", metavar="DIR", help="a folder written by `simulate` (or a bundle with ground_truth/)")
    p.add_argument("--out", metavar="PNG", help="where to write (default DIR/overview.png)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("score", help="score a method's output against the truth")
    p.add_argument("--truth", required=True, metavar="DIR", help="a simulated folder with ground_truth/")
    p.add_argument("--pred", metavar="FILE", help="molecule → cell table (csv/tsv/parquet)")
    p.add_argument("--pred-shapes", metavar="FILE", help="predicted cell polygons (GeoParquet, Xenium/MERSCOPE tables)")
    p.add_argument("--cell-col", help="column of --pred holding the predicted cell (default: guessed)")
    p.add_argument("--transcript-col", default="transcript_id", help="column of --pred holding the molecule id")
    p.add_argument(
        "--unassigned", action="append", metavar="VALUE",
        help="value meaning 'no cell' in --pred (repeatable; default -1, UNASSIGNED, empty; e.g. 0 for Baysor)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the scores as JSON")
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("clean", help="remove what killed runs left (hidden temporary folders of dead processes)")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the folder holding the outputs (default: .)")
    p.set_defaults(func=_cmd_clean)

    p = sub.add_parser("demo", help="simulate the default Xenium-like tile into a folder")
    _add_config_args(p, default_preset="xenium")
    p.add_argument("--out", default="demo_output", metavar="DIR")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")
    _add_dask_args(p)
    p.set_defaults(func=_cmd_demo)
    return parser


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
        print(f"stpuppeteer {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stpuppeteer {args.command}: interrupted; nothing was left half-written.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
