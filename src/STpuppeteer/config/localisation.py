"""Where a gene's molecules sit in their cell: per-gene compartment patterns and nuclear enrichment.

Configures :mod:`STpuppeteer.stages.transcripts.localisation` (``transcripts.localisation``).
Every compartment is defined geometrically from the nucleus centre c, the cell's boundary
radius R(θ) and the nucleus's r_n(θ) along the ray from c at angle θ (cells and nuclei are
star-shaped about c); the definitions, the sources of the defaults and the presets' values
are in ``docs/model_molecules.md``. A gene with pattern P and strength s places each of its
molecules from P's distribution with probability s, and from the baseline (uniform in the cell,
or with the nuclear enrichment) otherwise, so the share of its molecules in P's region is
s + (1 − s) × the baseline's share.
"""

from __future__ import annotations

from typing import Literal, Self, get_args

from pydantic import Field, field_validator, model_validator

from STpuppeteer.config._base import Int, Name, Real, StrictModel, check_probability

__all__ = ["PATTERNS", "GenePattern", "LocalisationConfig", "Pattern", "check_pattern"]

#: The patterns. ``protrusion`` is accepted as another name of ``distal``.
Pattern = Literal["uniform", "nuclear", "perinuclear", "cytoplasmic", "cell_edge", "distal", "foci"]
PATTERNS: tuple[str, ...] = get_args(Pattern)
_ALIASES = {"protrusion": "distal"}
_ALLOWED = ", ".join(PATTERNS) + " (protrusion = distal)"


def check_pattern(field: str, value: object) -> str:
    """``value`` as a pattern name (``protrusion`` read as ``distal``); else an error naming ``field``."""
    name = _ALIASES.get(value, value) if isinstance(value, str) else value
    if name not in PATTERNS:
        msg = f"{field}={value!r} is not allowed; a pattern is one of {_ALLOWED}."
        raise ValueError(msg)
    return name


class GenePattern(StrictModel):
    """One gene's pattern and strength (``strength`` omitted: the section's ``strength``)."""

    pattern: str = Field(description=f"the gene's pattern: {_ALLOWED}")
    strength: Real | None = Field(
        None, ge=0, le=1,
        description="probability that a molecule is drawn from the pattern rather than the baseline, in [0, 1] "
        "(0: as uniform, 1: all in the pattern); None: the section's strength",
    )

    @field_validator("pattern", mode="before")
    @classmethod
    def _known(cls, value: object) -> str:
        return check_pattern("pattern", value)


class LocalisationConfig(StrictModel):
    """Per-gene compartment patterns, the mix of patterns across genes, and the nuclear enrichment.

    The default (no enrichment, no mix, no genes) places every molecule as before this section
    existed, draw for draw.

    Examples
    --------
    >>> cfg = LocalisationConfig(pattern_mix={"cell_edge": 0.1}, genes={"ACTB": {"pattern": "protrusion"}})
    >>> cfg.genes["ACTB"].pattern, cfg.is_default
    ('distal', False)
    """

    nuclear_density_ratio: Real | None = Field(
        None, ge=0.01, le=100,
        description="density of molecules in the nucleus over that in the cytoplasm (per µm² of the cell's "
        "footprint) for molecules not placed by a pattern, 0.01 to 100; None: uniform in the cell (ratio 1, drawn "
        "as before this field existed). A gene's nuclear_fraction, where set, overrides it",
    )
    pattern_mix: dict[str, Real] = Field(
        default_factory=dict,
        description="share of the panel's genes given each pattern {pattern: share in [0, 1]}, shares summing to "
        "at most 1, the rest uniform; which genes get which pattern is drawn once per seed (stream 'localisation')",
    )
    strength: Real = Field(
        0.5, ge=0, le=1,
        description="strength of the genes patterned by pattern_mix (and of genes entries without one), in [0, 1]",
    )
    genes: dict[Name, GenePattern] = Field(
        default_factory=dict,
        description="per-gene pattern {feature_name: {pattern: …, strength: …}}; overrides pattern_mix",
    )
    perinuclear_um: Real = Field(
        2.0, gt=0, le=50,
        description="width of the perinuclear shell, µm outside the nucleus along the ray from its centre; >0 to 50",
    )
    cell_edge_um: Real = Field(
        1.5, gt=0, le=50,
        description="width of the cell-edge band, µm inside the cell boundary along the ray from the nucleus "
        "centre; >0 to 50",
    )
    distal_fraction: Real = Field(
        0.7, ge=0, lt=1,
        description="distal region: radial fraction r / R(θ) above this along the ray from the nucleus centre, "
        "0 to <1 (0: the whole cell)",
    )
    n_foci: Int = Field(3, ge=1, le=100, description="granules per cell and gene of a foci gene, 1 to 100")
    foci_sigma_um: Real = Field(
        0.5, gt=0, le=20,
        description="spread (s.d. of each coordinate, µm) of a granule's Gaussian; >0 to 20 (0.2–1 µm: RNA granules)",
    )

    @field_validator("pattern_mix", mode="before")
    @classmethod
    def _mix(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        out = {}
        for key, share in value.items():
            name = check_pattern(f"pattern_mix[{key!r}]", key)
            out[name] = out.get(name, 0.0) + check_probability(f"pattern_mix[{key!r}]", share)
        total = sum(out.values())
        if total > 1.0 + 1e-9:
            msg = f"pattern_mix={value!r} is not allowed; the shares of genes sum to {total:g}, at most 1."
            raise ValueError(msg)
        return out

    @model_validator(mode="after")
    def _fill_strength(self) -> Self:
        for entry in self.genes.values():
            if entry.strength is None:
                entry.__dict__["strength"] = self.strength
        return self

    @property
    def is_default(self) -> bool:
        """Whether nothing is localised: every gene uniform and no nuclear enrichment."""
        patterned = any(v > 0 and k != "uniform" for k, v in self.pattern_mix.items())
        named = any(e.pattern != "uniform" and e.strength > 0 for e in self.genes.values())
        return self.nuclear_density_ratio is None and not patterned and not named
