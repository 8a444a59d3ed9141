"""Score segmentations and molecule → cell assignments against the simulated truth.

The benchmark"s ruler: :func:`score` takes the truth (a
:class:`~STpuppeteer.result.SimulationResult` or a bundle with ``ground_truth/``) and a
prediction (molecule → cell table and/or polygons, from any tool) and returns assignment,
segmentation, expression and cell-typing scores; :func:`score_baselines` gives the floor
(nucleus, expansion) and the ceiling (oracles) on the same data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

if TYPE_CHECKING:
    from STpuppeteer.metrics.assignment import AssignmentScores, contingency, score_assignment
    from STpuppeteer.metrics.baselines import (
        assign_by_polygons,
        expansion_assignment,
        expansion_shapes,
        nucleus_assignment,
        oracle_assignment,
    )
    from STpuppeteer.metrics.celltyping import adjusted_rand_index, score_labels
    from STpuppeteer.metrics.clustering import cluster_counts, clustering_ari
    from STpuppeteer.metrics.definitions import METRIC_DEFINITIONS, metrics_epilog
    from STpuppeteer.metrics.expression import count_matrix, exclusive_marker_pairs, mecr, rowwise_pearson
    from STpuppeteer.metrics.external import run_comseg
    from STpuppeteer.metrics.inputs import Assignment, Truth, align_assignment, as_truth, read_assignment, read_shapes
    from STpuppeteer.metrics.matching import f1_at_thresholds, match, over_under_counts
    from STpuppeteer.metrics.report import format_comparison, format_scores, scores_to_frame
    from STpuppeteer.metrics.scoring import score, score_baselines, score_cli
    from STpuppeteer.metrics.segmentation import overlap_areas, score_segmentation

# Submodules load on first use (PEP 562, via lazy_loader): the command line reaches what it needs
# without importing every reader, writer and scikit-learn first.
__getattr__, __dir__, _ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "assignment": ["AssignmentScores", "contingency", "score_assignment"],
        "baselines": [
            "assign_by_polygons",
            "expansion_assignment",
            "expansion_shapes",
            "nucleus_assignment",
            "oracle_assignment",
        ],
        "celltyping": ["adjusted_rand_index", "score_labels"],
        "clustering": ["cluster_counts", "clustering_ari"],
        "definitions": ["METRIC_DEFINITIONS", "metrics_epilog"],
        "expression": ["count_matrix", "exclusive_marker_pairs", "mecr", "rowwise_pearson"],
        "external": ["run_comseg"],
        "inputs": ["Assignment", "Truth", "align_assignment", "as_truth", "read_assignment", "read_shapes"],
        "matching": ["f1_at_thresholds", "match", "over_under_counts"],
        "report": ["format_comparison", "format_scores", "scores_to_frame"],
        "scoring": ["score", "score_baselines", "score_cli"],
        "segmentation": ["overlap_areas", "score_segmentation"],
    },
)

__all__ = [
    "METRIC_DEFINITIONS",
    "Assignment",
    "AssignmentScores",
    "Truth",
    "adjusted_rand_index",
    "align_assignment",
    "as_truth",
    "assign_by_polygons",
    "cluster_counts",
    "clustering_ari",
    "contingency",
    "count_matrix",
    "exclusive_marker_pairs",
    "expansion_assignment",
    "expansion_shapes",
    "f1_at_thresholds",
    "format_comparison",
    "format_scores",
    "match",
    "mecr",
    "metrics_epilog",
    "nucleus_assignment",
    "oracle_assignment",
    "over_under_counts",
    "overlap_areas",
    "read_assignment",
    "read_shapes",
    "rowwise_pearson",
    "run_comseg",
    "score",
    "score_assignment",
    "score_baselines",
    "score_cli",
    "score_labels",
    "score_segmentation",
    "scores_to_frame",
]
