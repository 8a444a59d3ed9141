"""Stage 4: molecules from counts, with positions, leakage, background, instrument and truth.

The stage in rooms: :mod:`.driver` (the stage function), :mod:`.context` (what every block
shares), :mod:`.molecules` (one block of cells), :mod:`.background` (ambient and controls),
:mod:`.leakage` (the union rule and leak distances), :mod:`.labels` (``trs_df``'s columns),
:mod:`.geometry` (the cells' fans) and :mod:`.from_counts` (molecules without positions).
"""

from __future__ import annotations

from STpuppeteer.stages.transcripts.background import (
    BACKGROUND_TILE_UM,
    BackgroundTiles,
    ambient_weights,
    background_parts,
    block_background,
    locate_part,
    unlocated_background,
)
from STpuppeteer.stages.transcripts.context import (
    TranscriptContext,
    cell_blocks,
    cell_bounds,
    restrict_context,
    transcript_context,
)
from STpuppeteer.stages.transcripts.driver import generate_transcripts
from STpuppeteer.stages.transcripts.from_counts import counts_to_transcript_df
from STpuppeteer.stages.transcripts.geometry import CellGeometry
from STpuppeteer.stages.transcripts.labels import COMPARTMENTS, ORIGINS, MoleculeLabels
from STpuppeteer.stages.transcripts.leakage import classify_leakage, leak_probability, leak_reach
from STpuppeteer.stages.transcripts.molecules import cell_block_molecules

__all__ = [
    "BACKGROUND_TILE_UM",
    "COMPARTMENTS",
    "ORIGINS",
    "BackgroundTiles",
    "CellGeometry",
    "MoleculeLabels",
    "TranscriptContext",
    "ambient_weights",
    "background_parts",
    "block_background",
    "cell_block_molecules",
    "cell_blocks",
    "cell_bounds",
    "classify_leakage",
    "counts_to_transcript_df",
    "generate_transcripts",
    "leak_probability",
    "leak_reach",
    "locate_part",
    "restrict_context",
    "transcript_context",
    "unlocated_background",
]
