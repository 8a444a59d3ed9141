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
programs over 35 marker genes) on the Xenium preset's tissue and instrument settings.
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

PRESETS: dict[str, dict[str, Any]] = {
    "xenium": {
        "expression_scale": 4.9,
        "leakage_by_gene": 0.15,
        "leak_dist_factor": 1.05,
        "tissue": {"density_per_mm2": 2300.0, "section_thickness_um": 5.0},
        "instrument": {
            "jitter_um": 0.2,
            "ambient_rate_per_um2": 0.08,
            **_CONTROLS_04_PERCENT,
            "detection_efficiency": 0.95,
            "fov_size_um": 900.0,
            "fov_efficiency_sd": 0.05,
            "miscall_rate": 0.005,
        },
    },
    "merscope": {
        "expression_scale": 5.5,
        "leakage_by_gene": 0.2,
        "leak_dist_factor": 1.05,
        "tissue": {"density_per_mm2": 2200.0, "section_thickness_um": 10.0},
        "instrument": {
            "jitter_um": 0.3,
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
        "tissue": {"density_per_mm2": 2400.0, "section_thickness_um": 5.0},
        "instrument": {
            "jitter_um": 0.25,
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
    base = {key: PRESETS[platform][key] for key in ("tissue", "instrument")}
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
