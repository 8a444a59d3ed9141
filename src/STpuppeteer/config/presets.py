"""Platform presets: configs whose outputs land in the realism table of DESIGN.md.

A preset is a nested dict of overrides of :class:`~STpuppeteer.config.SimulationConfig`'s
defaults (data only; :func:`~STpuppeteer.config.preset_config` builds the config): it
never changes a default itself, so the tutorial's behaviour is untouched.
Targets (all three presets, per the published Xenium-like figures): 2,000–2,500 cells/mm²,
~0.8–1.1 molecules/µm², median 150–350 molecules per cell, negative controls ≈ 0.4 % of
molecules, 5 µm (FFPE) or 10 µm (fresh frozen) sections, leakage ≈ 0.2 (Proseg's default
diffusion probability). The overall level is set with ``expression_scale`` for the default
300-gene panel; with another panel size rescale it.

Program-model presets are tissues: ``"breast_programs"`` is the data file
``breast_programs.yaml`` beside this module (seven named breast cell types from twelve gene
programs over 35 marker genes) on the Xenium preset's tissue, instrument and localisation settings.
"""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

from STpuppeteer.config._yaml import load_yaml
from STpuppeteer.config.gene_panels import panel_genes

__all__ = ["PANEL_PRESETS", "PRESETS", "PROGRAM_PRESETS", "merge_overrides"]

_CONTROLS_04_PERCENT = {
    # ≈ 0.0036 controls per µm² against ≈ 0.9 molecules per µm²: 0.4 %.
    "neg_control_probe_rate_per_um2": 0.0018,
    "neg_control_codeword_rate_per_um2": 0.0012,
    "unassigned_codeword_rate_per_um2": 0.0006,
}

# Where molecules sit in their cells (docs/model_molecules.md, "Calibration"): measured on the
# MERFISH sample shipped in bento-tools (tests/data/real/merfish_sample, 13 U-2 OS cells with
# nuclei). Nucleus : cytoplasm density ratio per cell 0.72-1.58, geometric mean 1.18 (SE 0.07),
# pooled 1.23; the default 1.2 sits inside that range. Per gene the nuclear share over the
# ratio's prediction has quartiles 0.83-1.57 (MALAT1 3.1, TLN1 0.24): 53 of 130 genes are
# nuclear-enriched and 28 depleted beyond a Bonferroni test, so 15 % nuclear and 10 % cytoplasmic
# genes at strength 0.3 (nuclear share ratio about 1.7 and 0.7); the other patterns are rarer in
# imaging screens (a few % of genes, Chouaib et al. 2020), so 2-5 % each. The same for every
# platform: no platform's data in this repository says otherwise.
_LOCALISATION = {
    "nuclear_density_ratio": 1.2,
    "pattern_mix": {"nuclear": 0.15, "cytoplasmic": 0.10, "perinuclear": 0.05, "cell_edge": 0.05,
                    "distal": 0.03, "foci": 0.02},
    "strength": 0.3,
}

# Optics (docs/model_instrument.md): the lateral resolvable distance is about the diffraction limit
# (~0.25–0.3 µm at NA ~1, 600 nm light), the axial one 2–3 times it; localisation error in z is
# larger than in x, y for the same reason.
_OPTICS = {"min_distance_um": 0.3, "merge_fraction": 0.5}

# Xenium's qv: Phred-scaled, capped at 40; the count matrix keeps qv ≥ 20, and 10x's example runs
# keep ~80 % of transcripts (10x "Understanding Xenium outputs"). A mass at the cap, a normal low
# tail that grows with the cell's density (cap share × e^(−ρ/3)), a lower one for background.
_XENIUM_QV = {
    "qv_cap_fraction": 0.85, "qv_mean": 23.0, "qv_sd": 8.0, "qv_density_scale_per_um2": 3.0,
    "qv_background_cap_fraction": 0.3, "qv_background_mean": 18.0, "qv_background_sd": 8.0,
}

PRESETS: dict[str, dict[str, Any]] = {
    "xenium": {
        "expression_scale": 4.9,
        # Xenium's cell-segmentation kit is standard since XOA 2.0: a segmenter gets its four stains.
        "images": {"xenium_stains": "multimodal"},
        "leakage_by_gene": 0.15,
        "leak_dist_factor": 1.05,
        "transcripts": {"localisation": _LOCALISATION},
        "tissue": {"density_per_mm2": 2300.0, "section_thickness_um": 5.0},
        "instrument": {
            "jitter_um": 0.2,
            "jitter_z_um": 0.5,
            **_OPTICS,
            "min_distance_z_um": 0.8,
            **_XENIUM_QV,
            "ambient_rate_per_um2": 0.08,
            **_CONTROLS_04_PERCENT,
            "detection_efficiency": 0.95,
            "fov_size_um": 900.0,
            "fov_efficiency_sd": 0.05,
            "miscall_rate": 0.005,
        },
    },
    "merscope": {
        # Calibrated on confluent cells with size factors that follow the cell's area
        # (benchmarks/calibrate_presets.py, median ≈ 325 over seeds 0-6 and 11). The density is 2,400, not
        # 2,200: confluent cells catch nearly every molecule, so molecules/µm² ≈ density × mean per cell,
        # and at 2,200 the table's ≥ 0.8/µm² needs a median near its 350.
        "expression_scale": 5.1,
        "leakage_by_gene": 0.2,
        "leak_dist_factor": 1.05,
        "transcripts": {"localisation": _LOCALISATION},
        "tissue": {"density_per_mm2": 2400.0, "section_thickness_um": 10.0},
        "instrument": {
            "jitter_um": 0.3,
            "jitter_z_um": 0.75,
            **_OPTICS,
            "min_distance_z_um": 1.5,
            "ambient_rate_per_um2": 0.08,
            **_CONTROLS_04_PERCENT,
            "detection_efficiency": 0.9,
            "fov_size_um": 200.0,
            "fov_efficiency_sd": 0.08,
            "miscall_rate": 0.01,
        },
    },
    "cosmx": {
        "expression_scale": 5.1,
        "leakage_by_gene": 0.2,
        "leak_dist_factor": 1.23,
        "transcripts": {"localisation": _LOCALISATION},
        "tissue": {"density_per_mm2": 2400.0, "section_thickness_um": 5.0},
        "instrument": {
            "jitter_um": 0.25,
            "jitter_z_um": 0.6,
            **_OPTICS,
            "min_distance_z_um": 0.8,
            "ambient_rate_per_um2": 0.08,
            **_CONTROLS_04_PERCENT,
            "detection_efficiency": 0.9,
            "fov_size_um": 510.0,
            "fov_efficiency_sd": 0.1,
            "miscall_rate": 0.01,
        },
    },
}


def _program_preset(filename: str, platform: str) -> dict[str, Any]:
    """A tissue's program config (a YAML file of this package) on a platform preset's tissue and instrument."""
    tissue = load_yaml(resources.files("STpuppeteer.config").joinpath(filename).read_text(encoding="utf-8"))
    base = {
        key: PRESETS[platform][key]
        for key in ("tissue", "instrument", "transcripts", "images")
        if key in PRESETS[platform]
    }
    return merge_overrides(base, tissue)


#: Presets of the program model (also in :data:`PRESETS`): name → (data file, platform).
PROGRAM_PRESETS = {"breast_programs": ("breast_programs.yaml", "xenium")}


def merge_overrides(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in key by key (nested dicts merged, not replaced)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_overrides(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


PRESETS.update({name: _program_preset(*source) for name, source in PROGRAM_PRESETS.items()})

#: Platform presets of the program model (also in :data:`PRESETS`): name → (tissue data file,
#: platform, panel of :mod:`~STpuppeteer.config.gene_panels`). The tissue's marker programs use
#: panel genes; the panel's other genes are ``extra_genes`` at ``expression_baseline``.
#: Targets and their sources: ``docs/presets.md``.
PANEL_PRESETS = {
    "xenium_breast": ("tissues/xenium_breast.yaml", "xenium", "xenium_human_breast_v1"),
    "merscope_io": ("tissues/merscope_io.yaml", "merscope", "xenium_human_immuno_oncology_v1"),
    "cosmx_1k": ("tissues/cosmx_1k.yaml", "cosmx", "cosmx_human_universal_cell_characterization_1k"),
    "xenium_prime_5k": ("tissues/xenium_prime_5k.yaml", "xenium", "xenium_prime_human_5k"),
}
PRESETS.update(
    {
        name: {**_program_preset(filename, platform), "extra_genes": panel_genes(panel)}
        for name, (filename, platform, panel) in PANEL_PRESETS.items()
    }
)
