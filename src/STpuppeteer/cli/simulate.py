"""``stpuppeteer simulate`` and ``demo``: check the target, run the stages, write the formats."""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from STpuppeteer.cli._config import load_config
from STpuppeteer.cli._errors import UserError
from STpuppeteer.cli._progress import Steps

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.result import SimulationResult

__all__ = ["FORMATS", "FORMAT_PATHS", "cmd_demo", "cmd_simulate", "plot_result", "run_stages", "write_outputs"]

FORMATS = ("xenium", "merscope", "cosmx", "spatialdata", "h5ad")
# Where each format goes inside the --out folder.
FORMAT_PATHS = {
    "xenium": "xenium",
    "merscope": "merscope",
    "cosmx": "cosmx",
    "spatialdata": "simulation.zarr",
    "h5ad": "simulation.h5ad",
}


def parse_formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        msg = f"--format {text!r}: unknown format(s) {unknown}; choose from {', '.join(FORMATS)}."
        raise UserError(msg)
    return list(dict.fromkeys(formats))


def run_stages(
    config: SimulationConfig, *, progress: bool = True, client: Any = None  # noqa: ANN401
) -> tuple[SimulationResult, dict[str, float]]:
    """Run every stage with a progress bar on a terminal, one line per finished stage elsewhere.

    Parameters
    ----------
    config
        The validated config.
    progress
        Report progress on stderr (a bar on a terminal, else one line per stage).
    client
        A ``dask.distributed.Client`` for the blocks of stages 3–4 (same result as without).

    Returns
    -------
    The simulation result and the seconds each stage took, in run order.
    """
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
    with Steps(len(stages), desc="simulating", unit="stage", quiet=not progress) as steps:
        for name, stage in stages:
            steps.run(name, stage)
    return sim.run(), steps.seconds


def write_outputs(
    result: SimulationResult,
    out: Path,
    formats: list[str],
    *,
    overwrite: bool = False,
    progress: bool = True,
    threads: int | None = None,
) -> tuple[list[str], dict[str, float], dict[str, int]]:
    """Write the chosen formats, the ground truth and the config into ``out``, atomically.

    The ground truth and the formats are written side by side on threads (:mod:`STpuppeteer.cli._writing`):
    the same bytes as one after another, in less time.

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
        Report progress on stderr (a bar on a terminal, else one line per output as it is finished).
    threads
        Writers at once; ``None``: :func:`~STpuppeteer.cli._writing.writer_threads` (the cores, within memory).

    Returns
    -------
    The written paths, relative to ``out``; the seconds (each writer's own, overlapping when on
    threads) and the bytes on disk of the ground truth and each format.
    """
    from STpuppeteer.cli._writing import WRITE_ORDER, run_writers, writer_threads
    from STpuppeteer.io.atomic import atomic_output_dir
    from STpuppeteer.io.ground_truth import write_ground_truth
    from STpuppeteer.io.manifest import write_manifest

    # The run's ground truth is written once, beside the bundles, which do not repeat it (CosMx
    # keeps only its instrument-cell mapping, which the others do not have).
    writers = {
        "xenium": partial(result.write_xenium, ground_truth=False),
        "merscope": partial(result.write_merscope, ground_truth=False),
        "cosmx": partial(result.write_cosmx, ground_truth=False),
        "spatialdata": result.write_spatialdata,
        "h5ad": result.write_h5ad,
    }
    names = [name for name in WRITE_ORDER if name in formats or name == "ground_truth"]
    if threads is None:
        threads = writer_threads(result.config, names)
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        result.config.to_yaml(tmp / "config.yaml")
        jobs = {"ground_truth": (partial(write_ground_truth, result, tmp), tmp / "ground_truth")}
        jobs |= {fmt: (partial(writers[fmt], tmp / FORMAT_PATHS[fmt]), tmp / FORMAT_PATHS[fmt]) for fmt in formats}
        with Steps(len(jobs), desc="writing", unit="output", quiet=not progress) as steps:
            run_writers(steps, {name: jobs[name] for name in names}, threads=threads)
        write_manifest(tmp, result.config, fmt="stpuppeteer-run", extra={"formats": formats})
        written = ["config.yaml", "ground_truth/"]
        written += [FORMAT_PATHS[fmt] + ("/" if (tmp / FORMAT_PATHS[fmt]).is_dir() else "") for fmt in formats]
    order = ["ground_truth", *formats]
    return [*written, "manifest.json"], {n: steps.seconds[n] for n in order}, {n: steps.sizes[n] for n in order}


def check_formats_fit(config: SimulationConfig, formats: list[str]) -> None:
    """Refuse, before simulating, a format that cannot hold this run (whole-tissue images too large, CosMx's FOVs)."""
    from STpuppeteer.config.budget import raster_pixels
    from STpuppeteer.config.tissue_checks import tissue_extent_um
    from STpuppeteer.geometry.raster import MAX_PIXELS
    from STpuppeteer.io._cosmx_constants import MIN_CELLS_PER_FOV
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
    images = config.images
    pixel_sizes = {"xenium": images.xenium_pixel_size_um, "spatialdata": images.spatialdata_pixel_size_um,
                   "merscope": images.merscope_pixel_size_um}
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
                f"memory; raise images.{fmt}_pixel_size_um, lower n_cells or raise tissue.density_per_mm2, or leave "
                f"{fmt} out of --format{stream}."
            )
            raise UserError(msg)


def free_out(args: argparse.Namespace) -> Path:
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


def simulate_and_write(
    args: argparse.Namespace, formats: list[str], *, plot: bool
) -> tuple[SimulationResult, Path, list[str], float, dict[str, Any]]:
    """Shared by ``simulate`` and ``demo``: check the target first, run, write, draw.

    The last item holds ``format_summary``'s ``seconds`` (per stage, then ``write <format>``) and ``sizes``.
    """
    from STpuppeteer._parallel import dask_client

    config = load_config(args)
    check_formats_fit(config, formats)
    out = free_out(args)
    start = time.perf_counter()
    with dask_client(workers=args.workers, scheduler=args.scheduler) as client:
        result, seconds = run_stages(config, progress=not args.quiet, client=client)
    files, write_seconds, sizes = write_outputs(result, out, formats, overwrite=args.overwrite,
                                                progress=not args.quiet)
    seconds |= {f"write {fmt}": s for fmt, s in write_seconds.items()}
    if plot:
        files += [p.name for p in plot_result(result, out / "overview.png")]
    return result, out, files, time.perf_counter() - start, {"seconds": seconds, "sizes": sizes}


def stream(args: argparse.Namespace) -> int:
    """``simulate --stream``: a Xenium bundle written block by block (bounded memory; total time and size only)."""
    formats = parse_formats(args.format)
    if formats != ["xenium"] or args.plot:
        msg = (f"--stream writes one Xenium bundle block by block; it is not allowed with --format {args.format}"
               f"{' or --plot' if args.plot else ''} (use --format xenium, without --plot).")
        raise UserError(msg)
    config, out = load_config(args), free_out(args)
    # Imported once the arguments hold: a mistyped command line answers without loading the pipeline.
    from STpuppeteer._parallel import dask_client
    from STpuppeteer.pipeline.streamed import simulate_to_xenium
    from STpuppeteer.summary import disk_bytes, human_bytes

    start = time.perf_counter()
    with dask_client(workers=args.workers, scheduler=args.scheduler) as client:
        path = simulate_to_xenium(config, out, client=client, overwrite=args.overwrite,
                                  worker_files=args.worker_files)
    print(f"STpuppeteer: streamed seed {config.seed} ({config.n_cells:,} cells) in "
          f"{time.perf_counter() - start:.1f} s → {path} ({human_bytes(disk_bytes(path))})")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """``stpuppeteer simulate``: run in memory and write the formats, or stream a Xenium bundle."""
    from STpuppeteer.summary import format_summary, summarize

    if args.worker_files and not (args.stream and (args.workers or args.scheduler)):
        msg = ("--worker-files has the Dask workers of a streamed run write their row groups: it needs --stream "
               "and --workers N or --scheduler ADDRESS.")
        raise UserError(msg)
    if args.stream:
        return stream(args)
    result, out, files, elapsed, run = simulate_and_write(args, parse_formats(args.format), plot=args.plot)
    print(f"STpuppeteer: simulated seed {result.config.seed} in {elapsed:.1f} s → {out.resolve()}")
    print(format_summary(summarize(result), files=[str(out / f) for f in files], **run))
    return 0


def plot_result(result: SimulationResult, png: Path) -> list[Path]:
    """Write the overview to ``png`` and the QC panels beside it (``qc.png``, or ``<stem>_qc.png``).

    When any gene is localised, a zoom on one cell per pattern goes beside them too
    (``localisation.png``, or ``<stem>_localisation.png``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from STpuppeteer.plotting.localisation import plot_localisation
    from STpuppeteer.plotting.overview import plot_overview, plot_qc
    from STpuppeteer.stages.transcripts.localisation import PREFERENCE_COLUMN

    def beside(kind: str) -> Path:
        return png.with_name(f"{kind}.png" if png.stem == "overview" else f"{png.stem}_{kind}{png.suffix}")

    qc = beside("qc")
    plot_overview(result).savefig(png, dpi=130, bbox_inches="tight")
    plot_qc(result).savefig(qc, dpi=110, bbox_inches="tight")
    written = [png, qc]
    if PREFERENCE_COLUMN in result.gpar_df.columns:
        written.append(beside("localisation"))
        plot_localisation(result).savefig(written[-1], dpi=130, bbox_inches="tight")
    plt.close("all")
    return written


def cmd_demo(args: argparse.Namespace) -> int:
    """``stpuppeteer demo``: the Xenium-like tile, its h5ad and pictures, and how to open them."""
    from STpuppeteer.summary import format_summary, summarize

    result, out, files, elapsed, run = simulate_and_write(args, ["xenium", "h5ad"], plot=True)
    print(f"STpuppeteer demo: a {result.config.n_cells:,}-cell Xenium-like tile in {elapsed:.1f} s")
    print(format_summary(summarize(result), files=[str((out / f).resolve()) for f in files], **run))
    print(
        "Open it with:  import spatialdata_io; spatialdata_io.xenium("
        f"{str((out / 'xenium').resolve())!r})\n"
        f"Look at:      {(out / 'overview.png').resolve()}"
    )
    return 0
