"""The realism report: a simulation against a real dataset, as figures, a Markdown table and JSON.

``write_realism_report(sim, real, out)`` writes, atomically (nothing at ``out`` unless complete):

- ``realism.png``: every panel either side can draw (:func:`STpuppeteer.plotting.realism.plot_realism`),
  each titled with its distance;
- ``figures/<panel>.png``: the same panels one by one, cut out of the same drawing;
- ``distances.md``: for a person: the two sources, what was not compared and why, the table of
  distances (:func:`~STpuppeteer.fit.compare.compare_references`) and how each is measured;
- ``distances.json``: for a program: the sources, the rows (NaN as ``null``), what was not
  compared, the methods, the reader's notes and the figure paths;
- ``manifest.json``: every file's size and SHA-256, which also marks the folder as STpuppeteer's
  so that ``overwrite=True`` may replace it later.

The output is deterministic: sorted keys, no time stamps, the same bytes for the same inputs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.image as mpl_image
import matplotlib.pyplot as plt
import numpy as np

from STpuppeteer._version import __version__
from STpuppeteer.fit.compare import METHODS, compare_statistics, realism_statistics
from STpuppeteer.io.atomic import atomic_output_dir
from STpuppeteer.io.manifest import MANIFEST_NAME, file_sha256
from STpuppeteer.plotting.realism import available_panels, plot_realism, render_panels

if TYPE_CHECKING:
    import pandas as pd

    from STpuppeteer.fit.compare import RealismStatistics
    from STpuppeteer.fit.reference import Reference

__all__ = ["PANEL_STATISTICS", "REPORT_FILES", "panel_annotations", "write_realism_report"]

#: Files every report holds (besides one ``figures/<panel>.png`` per panel drawn).
REPORT_FILES = ("realism.png", "distances.md", "distances.json", MANIFEST_NAME)
#: The distances written under each panel's title.
PANEL_STATISTICS: dict[str, tuple[str, ...]] = {
    "mean_variance": ("mean_variance", "gene_variance_to_mean"),
    "gene_zero_fraction": ("gene_zero_fraction",),
    "gene_mean": ("gene_mean_correlation", "gene_mean"),
    "totals_per_cell": ("totals_per_cell",),
    "genes_per_cell": ("genes_per_cell",),
    "molecules_per_um2": ("molecules_per_um2",),
    "cell_area": ("cell_area",),
    "nucleus_area": ("nucleus_area",),
    "nuclear_fraction": ("nuclear_fraction",),
    "qv": ("qv",),
    "control_rate": ("control_rate",),
}
_SHORT = {
    "gene_mean": "KS D of means",
    "gene_mean_correlation": "r of log(1+mean)",
    "gene_variance_to_mean": "KS D of var/mean",
    "mean_variance": "binned |Δ log₁₀ var/mean|",
    "control_rate": "relative difference",
}
_DPI = 110


def panel_annotations(table: pd.DataFrame) -> dict[str, str]:
    """The text under each panel's title: its distances, e.g. ``"KS D = 0.031"``.

    Parameters
    ----------
    table
        Distances from :func:`~STpuppeteer.fit.compare.compare_references`.

    Returns
    -------
    Panel name → text (``"not compared"`` for a NaN distance).
    """
    values = table.set_index("statistic")["value"]
    out = {}
    for panel, statistics in PANEL_STATISTICS.items():
        parts = []
        for statistic in statistics:
            value = float(values.get(statistic, math.nan))
            label = _SHORT.get(statistic, "KS D")
            parts.append(f"{label} = {value:.3f}" if math.isfinite(value) else f"{label}: not compared")
        out[panel] = ", ".join(parts)
    return out


def _nan_to_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _side(ref: Reference, stats: RealismStatistics) -> dict[str, Any]:
    return {"source": ref.source, "n_cells": stats.n_cells, "n_genes": stats.n_genes,
            "region_area_um2": ref.region_area_um2, "has_molecules": ref.molecules is not None,
            "reader_notes": list(ref.notes), "missing": dict(stats.missing)}


def _report_json(sim: dict[str, Any], real: dict[str, Any], table: pd.DataFrame,
                 panels: list[str]) -> dict[str, Any]:
    rows = [{k: _nan_to_none(v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")]
    not_compared = {r["statistic"]: r["note"] for r in rows if r["value"] is None}
    return {
        "format": "stpuppeteer realism report",
        "stpuppeteer_version": __version__,
        "sim": sim,
        "real": real,
        "distances": rows,
        "not_compared": not_compared,
        "methods": {name: {"kind": kind, "description": text} for name, (kind, text) in METHODS.items()},
        "figures": {"grid": "realism.png", "panels": {p: f"figures/{p}.png" for p in panels}},
    }


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _report_markdown(report: dict[str, Any]) -> str:
    sim, real = report["sim"], report["real"]
    lines = [
        "# Realism report",
        "",
        f"- **Simulated**: `{sim['source']}`: {sim['n_cells']:,} cells × {sim['n_genes']:,} genes"
        f"{'' if sim['has_molecules'] else ', no molecules'}",
        f"- **Real**: `{real['source']}`: {real['n_cells']:,} cells × {real['n_genes']:,} genes"
        f"{'' if real['has_molecules'] else ', no molecules'}",
        "",
        "Each row is a distance between the simulated and the real dataset; `better` says which way is "
        "closer. KS D: 0 = the same distribution, 1 = disjoint. `n sim` / `n real`: the cells, genes or "
        "molecules each side contributed.",
        "",
        "## Not compared",
        "",
    ]
    not_compared = report["not_compared"]
    lines += [f"- **{name}**: {note}" for name, note in not_compared.items()] or ["Every statistic was compared."]
    lines += ["", "## Distances", "",
              "| statistic | distance | value | better | n sim | n real | note |",
              "|---|---|---:|---|---:|---:|---|"]
    for row in report["distances"]:
        value = "—" if row["value"] is None else f"{row['value']:.4f}"
        lines.append(f"| {row['statistic']} | {row['kind']} | {value} | {row['better']} | {row['n_sim']:,} | "
                     f"{row['n_real']:,} | {_cell(row['note'])} |")
    lines += ["", "## How each distance is measured", ""]
    lines += [f"- **{name}** ({m['kind']}): {m['description']}" for name, m in report["methods"].items()]
    notes = [(side, note) for side in ("sim", "real") for note in report[side]["reader_notes"]]
    if notes:
        lines += ["", "## Reader notes", ""] + [f"- {side}: {note}" for side, note in notes]
    lines += ["", "## Figures", "", "![simulated over real](realism.png)", ""]
    lines += [f"- [{name}]({path})" for name, path in report["figures"]["panels"].items()]
    return "\n".join(lines) + "\n"


def _save_png(image: np.ndarray, path: Path) -> None:
    # No time stamp is written into the PNG; the Software tag names the matplotlib version only.
    mpl_image.imsave(path, image, format="png", dpi=_DPI)


def write_realism_report(sim: Reference, real: Reference, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write the realism report of a simulation against a real dataset into the folder ``out``.

    Parameters
    ----------
    sim
        The simulation, as a reference.
    real
        The real dataset.
    out
        The report folder; it must not exist unless ``overwrite``.
    overwrite
        Replace an existing report (only a folder STpuppeteer wrote, once the new one is complete).

    Returns
    -------
    The report folder (absolute). See the module docstring for its files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, pandas as pd
    >>> from scipy import sparse
    >>> from STpuppeteer.fit.reference import Reference
    >>> rng = np.random.default_rng(0)
    >>> ref = Reference(sparse.csr_matrix(rng.poisson(2.0, size=(40, 8))), [f"g{k}" for k in range(8)],
    ...                 pd.DataFrame(index=[f"c{k}" for k in range(40)]), source="toy")
    >>> out = write_realism_report(ref, ref, pathlib.Path(tempfile.mkdtemp()) / "report")
    >>> sorted(p.name for p in out.iterdir())
    ['distances.json', 'distances.md', 'figures', 'manifest.json', 'realism.png']
    """
    sim_stats, real_stats = realism_statistics(sim), realism_statistics(real)
    table = compare_statistics(sim_stats, real_stats)
    annotations = panel_annotations(table)
    panels = available_panels(sim_stats, real_stats)
    report = _report_json(_side(sim, sim_stats), _side(real, real_stats), table, panels)
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        fig = plot_realism(sim_stats, real_stats, annotations=annotations)
        image, cut_outs = render_panels(fig, dpi=_DPI)
        plt.close(fig)
        _save_png(image, tmp / "realism.png")
        (tmp / "figures").mkdir()
        for name in panels:
            _save_png(cut_outs[name], tmp / "figures" / f"{name}.png")
        (tmp / "distances.json").write_text(json.dumps(report, indent=2, sort_keys=True, allow_nan=False,
                                                       ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "distances.md").write_text(_report_markdown(report), encoding="utf-8")
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {"format": "realism_report", "stpuppeteer_version": __version__,
                    "files": {p.relative_to(tmp).as_posix(): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
                              for p in files}}
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Path(out).expanduser().absolute()
