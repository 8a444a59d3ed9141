"""One line per score: the single table that ``stpuppeteer score --help`` and the report use.

``docs/metrics.md`` explains each score at length; a test checks that every score
:func:`~STpuppeteer.metrics.score` returns has a line here and a mention there. This module
imports nothing heavy, so the command line can build its help from it.
"""

from __future__ import annotations

__all__ = ["BASELINE_COLUMNS", "METRIC_DEFINITIONS", "metrics_epilog"]

# Columns of the printed report and keys of the JSON, with the baseline behind each.
BASELINE_COLUMNS: dict[str, str] = {
    "floor": "nucleus",  # a molecule goes to the cell whose true nucleus holds it
    "ceiling": "oracle_polygons",  # a molecule goes to the true cell polygon it lies in
}

METRIC_DEFINITIONS: dict[str, dict[str, str]] = {
    "assignment": {
        "coverage": "fraction of the true molecules present in the prediction table",
        "n_molecules": "molecules scored (negative controls left out)",
        "n_true_cells": "true cells",
        "n_pred_cells": "predicted cells with at least one molecule",
        "n_matched_cells": "true-predicted pairs in the one-to-one matching on shared molecules",
        "accuracy": "molecules in the match of their source cell, or unassigned when they have none",
        "precision": "of the assigned molecules, those in the match of their source cell",
        "recall": "of the molecules with a source cell, those in the match of it",
        "assigned_fraction": "molecules given any cell",
        "mean_jaccard": "mean over true cells of the molecule-set Jaccard with the matched cell (0 if none)",
        "median_jaccard": "median of the same per-cell molecule-set Jaccard",
        "f1_jaccard50": "matched-cell F1 where a pair counts if its molecule-set Jaccard >= 0.5",
        "f1_jaccard_mean": "the same F1 averaged over Jaccard thresholds 0.5, 0.55, ..., 0.95",
        "n_over_segmented": "true cells split: >= 2 predicted cells each with >= half their molecules in it",
        "n_under_segmented": "predicted cells merging >= 2 true cells (each >= half inside)",
        "ambient_unassigned": "ambient (cell-free) molecules left unassigned",
        "leaked_unassigned": "leaked molecules left unassigned",
        "leaked_to_source": "leaked molecules returned to the cell that made them",
        "leaked_to_other": "leaked molecules given to another cell (usually the one they landed in)",
    },
    "segmentation": {
        "n_true_cells": "true cell polygons",
        "n_pred_cells": "predicted polygons",
        "precision50": "matched polygons (area IoU >= 0.5) over predicted polygons",
        "recall50": "matched polygons (area IoU >= 0.5) over true polygons",
        "f1_50": "F1 of polygons matched at area IoU >= 0.5",
        "precision_mean": "precision averaged over IoU thresholds 0.5, 0.55, ..., 0.95",
        "recall_mean": "recall averaged over IoU thresholds 0.5, 0.55, ..., 0.95",
        "f1_mean": "F1 averaged over IoU thresholds 0.5, 0.55, ..., 0.95",
        "mean_matched_iou": "mean area IoU of the pairs matched at IoU >= 0.5",
        "n_over_segmented": "true polygons split: >= 2 predicted polygons each >= half inside",
        "n_under_segmented": "predicted polygons merging >= 2 true polygons (each >= half inside)",
    },
    "expression": {
        "mean_correlation": "mean over matched cells of the Pearson r of predicted and true gene counts",
        "median_correlation": "median of the same per-cell Pearson r",
        "n_correlated_cells": "matched cells with a defined correlation",
        "mecr": "mutually exclusive co-expression rate of the predicted counts (lower is cleaner)",
        "mecr_true_counts": "the same rate on the true counts (what a perfect method reaches)",
    },
    "typing": {
        "ari": "adjusted Rand index of --pred-labels vs the true type of each matched cell",
        "accuracy": "labels equal to the true type name",
        "accuracy_best_map": "agreement after the best one-to-one renaming of labels to types",
        "n_labelled": "predicted cells both labelled and matched to a true cell",
    },
    "regions": {
        "ari": "adjusted Rand index of --pred-regions vs the true type of each molecule's source cell",
        "accuracy_best_map": "agreement after the best one-to-one renaming of regions to types",
        "n_molecules": "molecules with a source cell and a region",
        "coverage": "fraction of the molecules with a source cell that have a region",
    },
}


def metrics_epilog() -> str:
    """The metric list shown by ``stpuppeteer score --help``.

    Returns
    -------
    One line per ``section.metric`` with its definition, sections in report order.

    Examples
    --------
    >>> print(metrics_epilog().splitlines()[0])
    columns: prediction | floor (nucleus baseline) | ceiling (oracle_polygons baseline)
    """
    cols = " | ".join(["prediction"] + [f"{k} ({v} baseline)" for k, v in BASELINE_COLUMNS.items()])
    lines = [f"columns: {cols}", "metrics (details: docs/metrics.md):"]
    width = max(len(m) for sec in METRIC_DEFINITIONS.values() for m in sec)
    for section, metrics in METRIC_DEFINITIONS.items():
        lines.append(f"  {section}")
        lines += [f"    {m:<{width}}  {text}" for m, text in metrics.items()]
    return "\n".join(lines)
