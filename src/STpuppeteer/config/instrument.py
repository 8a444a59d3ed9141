"""Configuration of the instrument: detection, background, controls, mis-calls, quality, optics.

Owned by :mod:`STpuppeteer.stages.instrument` and :mod:`STpuppeteer.stages.optics`; the models
and their sources are in ``docs/model_instrument.md``. Every instrument effect is off by default,
so a default run records every true molecule exactly where it is; the platform presets
(:mod:`STpuppeteer.config.presets`) turn them on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from STpuppeteer.config._base import MAX_CONTROL_NAMES, Int, Real, StrictModel

__all__ = ["AmbientGenes", "InstrumentConfig", "MAX_RATE_PER_UM2"]

AmbientGenes = Literal["expression", "uniform"]

#: Largest background rate, molecules per µm²: ten times the density of every molecule a real
#: section shows (about 1 per µm²).
MAX_RATE_PER_UM2 = 10.0
_RATE = f"; 0 to {MAX_RATE_PER_UM2:g} (ten times all molecules of a real section, ~1 per µm²)"
_QV = "; 0 to 40 (Phred-like, the range the instruments report)"


class InstrumentConfig(StrictModel):
    """Instrument effects; each is off by default (a perfect instrument).

    Rates of background molecules are per µm² of the tissue's bounding box; control
    probes and codewords are named as Xenium names them.
    """

    jitter_um: Real = Field(
        0.0, ge=0, le=10,
        description="s.d. of the localisation error in x and y (and in z unless jitter_z_um is set), µm; 0 to 10 "
        "(instruments: 0.1–0.5; 10 blurs a molecule over a whole cell)",
    )
    jitter_z_um: Real | None = Field(
        None, ge=0, le=10,
        description="s.d. of the localisation error in z, µm; 0 to 10 (instruments: 0.3–1, the axial point "
        "spread being 2–3 times the lateral); None: the same as jitter_um",
    )
    min_distance_um: Real = Field(
        0.0, ge=0, le=5,
        description="minimum resolvable distance in x, y, µm: two molecules of one gene and one source cell "
        "closer than this are one detection; 0 to 5 (0: off; optics resolve 0.2–0.5, 5 fuses a nucleus)",
    )
    min_distance_z_um: Real | None = Field(
        None, gt=0, le=20,
        description="minimum resolvable distance in z, µm; above 0, up to 20 (optics: 0.5–1.5); None: the same "
        "as min_distance_um",
    )
    merge_fraction: Real = Field(
        0.5, ge=0, le=1,
        description="share of the unresolved molecules merged into their detection (it sits at their mean "
        "position); the rest are lost (it keeps its own); in [0, 1]",
    )
    ambient_rate_per_um2: Real = Field(
        0.0, ge=0, le=MAX_RATE_PER_UM2, description="ambient (free-floating) molecules per µm²" + _RATE
    )
    ambient_genes: AmbientGenes = Field(
        "expression", description="gene of an ambient molecule: 'expression' (∝ total counts) or 'uniform'"
    )
    neg_control_probe_rate_per_um2: Real = Field(
        0.0, ge=0, le=MAX_RATE_PER_UM2, description="NegControlProbe_* per µm²" + _RATE
    )
    neg_control_codeword_rate_per_um2: Real = Field(
        0.0, ge=0, le=MAX_RATE_PER_UM2, description="NegControlCodeword_* per µm²" + _RATE
    )
    unassigned_codeword_rate_per_um2: Real = Field(
        0.0, ge=0, le=MAX_RATE_PER_UM2, description="UnassignedCodeword_* per µm²" + _RATE
    )
    n_neg_control_probes: Int = Field(
        20, ge=1, le=MAX_CONTROL_NAMES,
        description=f"number of NegControlProbe_* names; 1 to {MAX_CONTROL_NAMES:,} (panels: tens)",
    )
    n_neg_control_codewords: Int = Field(
        41, ge=1, le=MAX_CONTROL_NAMES,
        description=f"number of NegControlCodeword_* names; 1 to {MAX_CONTROL_NAMES:,} (panels: tens)",
    )
    n_unassigned_codewords: Int = Field(
        100, ge=1, le=MAX_CONTROL_NAMES,
        description=f"number of UnassignedCodeword_* names; 1 to {MAX_CONTROL_NAMES:,} (panels: hundreds)",
    )
    detection_efficiency: Real = Field(
        1.0, gt=0, le=1, description="probability a true molecule is detected; in (0, 1]"
    )
    fov_size_um: Real = Field(
        250.0, ge=10, le=10_000,
        description="side of a square field of view (tile), µm; 10 to 10,000 (instruments: 200–1,000); the "
        "config refuses more than a million FOVs over the tissue",
    )
    fov_efficiency_sd: Real = Field(
        0.0, ge=0, le=1,
        description="s.d. of a per-FOV multiplicative factor on detection_efficiency (0: none); 0 to 1 (the "
        "factor is clipped at 0, so larger values only switch FOVs off)",
    )
    miscall_rate: Real = Field(
        0.0, ge=0, le=1, description="probability a detected molecule gets a wrong gene; in [0, 1]"
    )
    qv_mean: Real = Field(35.0, ge=0, le=40, description="mean quality score of correctly decoded molecules" + _QV)
    qv_sd: Real = Field(4.0, ge=0, le=40, description="s.d. of that quality score" + _QV)
    qv_background_mean: Real = Field(
        18.0, ge=0, le=40, description="mean quality score of ambient, control and mis-called molecules" + _QV
    )
    qv_background_sd: Real = Field(8.0, ge=0, le=40, description="s.d. of the background quality score" + _QV)
    qv_cap_fraction: Real = Field(
        0.0, ge=0, le=1,
        description="share of correctly decoded molecules (in an empty neighbourhood) scoring exactly 40, the "
        "cap; the rest follow qv_mean, qv_sd (the low tail); in [0, 1] (0: no mass at the cap)",
    )
    qv_background_cap_fraction: Real = Field(
        0.0, ge=0, le=1,
        description="share of ambient, control and mis-called molecules scoring exactly 40; the rest follow "
        "qv_background_mean, qv_background_sd; in [0, 1]",
    )
    qv_density_scale_per_um2: Real | None = Field(
        None, gt=0, le=MAX_RATE_PER_UM2,
        description="molecule density (the source cell's true molecules per µm² of it) at which the share at "
        f"the cap has fallen by a factor e, so the low tail grows in crowded cells; above 0, up to "
        f"{MAX_RATE_PER_UM2:g}; None: no effect of density",
    )
