"""Scores as a tidy table and as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["format_comparison", "format_scores", "scores_to_frame"]

# The order sections are shown in; others follow alphabetically.
SECTION_ORDER = ("assignment", "segmentation", "expression", "typing", "regions")


def scores_to_frame(scores: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Long (tidy) table of :func:`~STpuppeteer.metrics.score` output.

    Parameters
    ----------
    scores
        ``{section: {metric: value}}``.

    Returns
    -------
    Columns ``section``, ``metric``, ``value``.

    Examples
    --------
    >>> scores_to_frame({"typing": {"ari": 1.0}}).to_dict("records")
    [{'section': 'typing', 'metric': 'ari', 'value': 1.0}]
    """
    order = [s for s in SECTION_ORDER if s in scores] + sorted(set(scores) - set(SECTION_ORDER))
    rows = [(s, k, float(v)) for s in order for k, v in scores[s].items()]
    return pd.DataFrame(rows, columns=["section", "metric", "value"])


def _fmt(metric: str, value: float) -> str:
    if not np.isfinite(value):
        return "—"
    if metric.startswith("n_"):  # counts read better without decimals
        return f"{int(round(value)):,}"
    return f"{value:.4f}"


def format_scores(scores: dict[str, dict[str, float]]) -> str:
    """A plain-text table of the scores, one section after another.

    Parameters
    ----------
    scores
        ``{section: {metric: value}}``.

    Returns
    -------
    The table as a string.

    Examples
    --------
    >>> print(format_scores({"typing": {"ari": 0.5, "n_labelled": 10.0}}))
    typing
      ari         0.5000
      n_labelled      10
    """
    frame = scores_to_frame(scores)
    if frame.empty:
        return "(no scores)"
    width = int(frame["metric"].str.len().max())
    values = [_fmt(m, v) for m, v in zip(frame["metric"], frame["value"], strict=True)]
    vwidth = max(len(v) for v in values)
    lines: list[str] = []
    for section, group in frame.groupby("section", sort=False):
        lines.append(str(section))
        lines += [f"  {m:<{width}}  {values[i]:>{vwidth}}" for i, m in zip(group.index, group["metric"], strict=True)]
    return "\n".join(lines)


def format_comparison(runs: Mapping[str, dict[str, dict[str, float]]]) -> str:
    """A plain-text table with one column per run, e.g. prediction | floor | ceiling.

    Rows are the metrics of the first run; a metric another run lacks shows as "—".

    Parameters
    ----------
    runs
        ``{column name: {section: {metric: value}}}``, the first being the prediction.

    Returns
    -------
    The table as a string.

    Examples
    --------
    >>> print(format_comparison({"prediction": {"typing": {"ari": 0.5}}, "floor": {}}))
    typing  prediction  floor
      ari       0.5000      —
    """
    names = list(runs)
    frame = scores_to_frame(runs[names[0]]) if names else pd.DataFrame()
    if frame.empty:
        return "(no scores)"
    cells = [
        [_fmt(m, float(runs[n].get(s, {}).get(m, np.nan))) for n in names]
        for s, m in zip(frame["section"], frame["metric"], strict=True)
    ]
    width = max(int(frame["metric"].str.len().max()) + 2, int(frame["section"].str.len().max()))
    widths = [max(len(n), *(len(row[k]) for row in cells)) for k, n in enumerate(names)]
    lines: list[str] = []
    for section, group in frame.groupby("section", sort=False):
        lines.append(f"{section!s:<{width}}" + "".join(f"  {n:>{w}}" for n, w in zip(names, widths, strict=True)))
        for i, m in zip(group.index, group["metric"], strict=True):
            row = "".join(f"  {v:>{w}}" for v, w in zip(cells[i], widths, strict=True))
            lines.append(f"  {m:<{width - 2}}{row}")
    return "\n".join(lines)
