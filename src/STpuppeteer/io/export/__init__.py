"""Hand a simulation to a segmentation tool, and read the tool's answer back for ``score``.

:func:`write_export` writes exactly what Baysor, Proseg, ComSeg or Sopa reads (the molecules with our
``transcript_id``, the nuclei as a prior) and a ``README.md`` with the command line that runs
the tool; :func:`read_assignment` reads the tool's output as the molecule → cell table that
``stpuppeteer score`` and :mod:`STpuppeteer.metrics` take. One module per tool, each holding
its file and column names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd

from STpuppeteer.io.atomic import atomic_output_dir
from STpuppeteer.io.export._molecules import ExportMolecules, export_molecules, write_instructions
from STpuppeteer.io.export.baysor import read_baysor, write_baysor
from STpuppeteer.io.export.comseg import read_comseg, write_comseg
from STpuppeteer.io.export.proseg import read_proseg, write_proseg
from STpuppeteer.io.export.sopa import read_sopa, write_sopa

__all__ = ["COMMAND", "TOOLS", "ExportMolecules", "Tool", "export_molecules", "read_assignment", "write_export"]

#: The command line alone, beside the README (to paste or to run from a script).
COMMAND = "command.txt"

Tool = Literal["baysor", "proseg", "comseg", "sopa"]
TOOLS: tuple[str, ...] = ("baysor", "proseg", "comseg", "sopa")

# What each tool's output is, for the README and the docs: (file to pass to read_assignment, note).
_OUTPUT = {
    "baysor": "segmentation.csv (Baysor's -o)",
    "proseg": "proseg/transcript-metadata.csv.gz",
    "comseg": "comseg_spots.csv (written by the last line of the Python above)",
    "sopa": "sopa.zarr (after sopa segmentation: its comseg_boundaries/baysor_boundaries shapes)",
}
_RUNNER = {"comseg": "python", "baysor": "sh", "proseg": "sh", "sopa": "sh"}


def _check_tool(tool: str) -> None:
    if tool not in TOOLS:
        msg = f"tool={tool!r} is not allowed; choose one of {', '.join(TOOLS)}."
        raise ValueError(msg)


def _readme(tool: str, command: str, molecules: ExportMolecules, source: str) -> str:
    dropped = (
        f"{molecules.n_dropped_controls:,} negative-control molecules were left out (the tool expects genes only; "
        "`stpuppeteer score` does not score them either)."
    )
    return f"""# {tool} input written by `stpuppeteer export --to {tool}`

From: `{source}`. {len(molecules.trs_df):,} molecules, {len(molecules.nucleus_df):,} nuclei (the prior:
each molecule carries the nucleus that contains it, as a perfect DAPI segmentation would give it).
Coordinates in µm; mean cell radius {molecules.mean_cell_radius:.1f} µm. {dropped}

## Run {tool}

```{_RUNNER[tool]}
{command}
```

## Score its answer

Its output, `{_OUTPUT[tool]}`, carries our `transcript_id`:

```sh
stpuppeteer score --truth RUN --pred OUTPUT --tool {tool}
```

or in Python `STpuppeteer.io.read_assignment(OUTPUT, tool="{tool}")` gives the molecule → cell table
(`transcript_id`, `cell_id`) that `STpuppeteer.metrics.score` takes.
"""


def write_export(
    source: Any, tool: Tool, out: str | Path, *, overwrite: bool = False, mean_cell_diameter: float | None = None
) -> Path:
    """Write what ``tool`` reads, and a ``README.md`` and ``command.txt`` with the command line that runs it.

    Parameters
    ----------
    source
        A run folder written by ``stpuppeteer simulate`` (with ``ground_truth/``), or a
        :class:`~STpuppeteer.result.SimulationResult`.
    tool
        ``"baysor"``, ``"proseg"``, ``"comseg"`` or ``"sopa"``.
    out
        The folder to create.
    overwrite
        Replace an existing ``out`` (only once the new one is complete).
    mean_cell_diameter
        ComSeg's expected cell diameter, µm (default: twice the mean cell radius).

    Returns
    -------
    The folder's absolute path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from STpuppeteer.pipeline.simulator import simulate
    >>> folder = write_export(simulate(seed=0, n_cells=20), "baysor", pathlib.Path(tempfile.mkdtemp()) / "baysor")
    >>> sorted(p.name for p in folder.iterdir())
    ['README.md', 'command.txt', 'molecules.csv']
    """
    _check_tool(tool)
    molecules = export_molecules(source)
    result = source
    if tool == "sopa" and isinstance(source, str | Path):
        from STpuppeteer.io.read import read_result

        result = read_result(source)
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        if tool == "baysor":
            command = write_baysor(molecules, tmp)
        elif tool == "proseg":
            command = write_proseg(molecules, tmp)
        elif tool == "comseg":
            command = write_comseg(molecules, tmp, mean_cell_diameter=mean_cell_diameter)
        else:
            command = write_sopa(molecules, tmp, result=result)
        # the commands name the final folder, not the temporary one
        final = str(Path(out).expanduser().absolute().resolve())
        command = command.replace(str(tmp.resolve()), final)
        label = str(source) if isinstance(source, str | Path) else type(source).__name__
        write_instructions(tmp, _readme(tool, command, molecules, label))
        (tmp / COMMAND).write_text(command.rstrip() + "\n")
    return Path(out).expanduser().absolute()


def read_assignment(path: str | Path, *, tool: Tool, shapes_key: str | None = None) -> pd.DataFrame:
    r"""Read a tool's output as the molecule → cell table ``score`` takes.

    Parameters
    ----------
    path
        Baysor's ``segmentation.csv``; Proseg's transcript metadata (CSV(.gz)/Parquet); ComSeg's
        per-molecule table (``uns["df_spots"]`` written as CSV/Parquet, or its ``.h5ad``); Sopa's
        ``.zarr`` after segmentation. An export folder holding the output works too.
    tool
        ``"baysor"``, ``"proseg"``, ``"comseg"`` or ``"sopa"``.
    shapes_key
        Sopa only: the shapes holding its cells (default: the first segmentation found).

    Returns
    -------
    ``transcript_id`` (ours, carried through the tool) and ``cell_id`` (the tool's cell; -1, or
    missing for string ids, when unassigned).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "segmentation.csv"
    >>> _ = path.write_text("x,y,gene,transcript_id,cell,is_noise\n1,1,A,7,CRa-1,false\n2,2,B,8,,true\n")
    >>> read_assignment(path, tool="baysor")["cell_id"].tolist()
    ['CRa-1', None]
    """
    _check_tool(tool)
    if not Path(path).exists():
        msg = f"path={str(path)!r}: no such file or folder."
        raise FileNotFoundError(msg)
    if tool == "baysor":
        return read_baysor(path)
    if tool == "proseg":
        return read_proseg(path)
    if tool == "comseg":
        return read_comseg(path)
    return read_sopa(path, shapes_key=shapes_key)
