"""tissue.architecture: names, mappings, roles from the types' names, and refusals that say what is allowed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from STpuppeteer.config import SimulationConfig
from STpuppeteer.config.architecture import (
    CortexArchitecture,
    GlandsArchitecture,
    TumourArchitecture,
    architecture_roles,
)

XENIUM_BREAST = SimulationConfig.from_preset("xenium_breast", n_cells=100).celltype_names


def test_a_name_is_enough_and_round_trips(tmp_path):
    config = SimulationConfig(n_cells=100, tissue={"architecture": "tumour"})
    assert config.tissue.architecture == TumourArchitecture()
    assert SimulationConfig(n_cells=100, tissue={"architecture": "Tumor"}).tissue.architecture.kind == "tumour"
    path = tmp_path / "config.yaml"
    config.to_yaml(path)
    assert SimulationConfig.from_yaml(path) == config
    mapping = {"kind": "glands", "roles": {"epithelium": "ct_2"}, "lining_cells": 1.0}
    glands = SimulationConfig(n_cells=100, tissue={"architecture": mapping}).tissue.architecture
    assert glands.roles == {"epithelium": ["ct_2"]}  # one type as text becomes a list


@pytest.mark.parametrize(
    ("architecture", "needles"),
    [
        ("gut", ["tissue.architecture", "'gut'", "'glands', 'tumour', 'cortex'"]),
        (
            {"kind": "glands", "roles": {"immune": ["ct_1"]}},
            ["tissue.architecture.roles", "['immune']", "['epithelium', 'myoepithelium', 'stroma']"],
        ),
        ({"kind": "tumour", "roles": {"tumour": ["ct_0"], "immune": ["ct_0"]}}, ["'ct_0' two roles"]),
        ({"kind": "tumour", "roles": {"immune": []}}, ["roles['immune'] is empty"]),
        (
            {"kind": "tumour", "roles": {"tumour": ["T cell"]}},
            ["roles['tumour'] names ['T cell']", "allowed are ['ct_0', 'ct_1', 'ct_2']"],
        ),
        (
            {"kind": "cortex", "roles": {"scattered": ["ct_0", "ct_1", "ct_2"]}},
            ["tissue.architecture='cortex' needs at least one cell type in role 'layers'"],
        ),
        ({"kind": "glands", "nest_length_um": 100.0}, ["nest_length_um", "Extra inputs are not permitted"]),
        ({"kind": "tumour", "infiltration": 1.5}, ["infiltration", "less than or equal to 1"]),
        ({"kind": "cortex", "curvature_radius_um": 1.0}, ["curvature_radius_um", "greater than or equal to 10"]),
    ],
)
def test_refusals_name_the_field_the_value_and_what_is_allowed(architecture, needles):
    with pytest.raises(ValidationError) as err:
        SimulationConfig(n_cells=100, tissue={"architecture": architecture})
    text = str(err.value)
    assert all(needle in text for needle in needles), text


def test_roles_of_ct_types_take_the_first_types():
    names = ["ct_0", "ct_1", "ct_2", "ct_3"]
    assert architecture_roles(GlandsArchitecture(), names) == {
        "epithelium": ["ct_0"],
        "myoepithelium": [],
        "stroma": ["ct_1", "ct_2", "ct_3"],
    }
    assert architecture_roles(TumourArchitecture(), names) == {
        "tumour": ["ct_0"],
        "immune": ["ct_1"],
        "stroma": ["ct_2", "ct_3"],
    }
    assert architecture_roles(CortexArchitecture(), names) == {"layers": names, "scattered": []}
    assert architecture_roles(TumourArchitecture(), ["ct_0"]) == {"tumour": ["ct_0"], "immune": [], "stroma": []}


def test_roles_of_named_types_come_from_their_names():
    glands = architecture_roles(GlandsArchitecture(), XENIUM_BREAST)
    assert glands["epithelium"] == ["Invasive tumour (luminal)"]
    assert glands["myoepithelium"] == ["Myoepithelial"]
    tumour = architecture_roles(TumourArchitecture(), XENIUM_BREAST)
    assert tumour["tumour"] == ["Invasive tumour (luminal)"]
    assert tumour["immune"] == [
        "CD4 T cell",
        "CD8 T cell",
        "B cell",
        "Plasma cell",
        "Macrophage",
        "Dendritic cell",
        "Mast cell",
    ]
    assert "Fibroblast / CAF" in tumour["stroma"] and "Myoepithelial" in tumour["stroma"]
    # breast_programs: no "tumour" in a name, so the epithelial type is the tumour; "Basal/myoepithelial" is not
    programs = SimulationConfig.from_preset("breast_programs", n_cells=100).celltype_names
    assert architecture_roles(TumourArchitecture(), programs)["tumour"] == ["Luminal epithelial (ER+)"]
    # word starts only: "T cell" is not in "Breast cell"
    assert architecture_roles(TumourArchitecture(), ["Breast cell", "Tumour", "T cell"])["immune"] == ["T cell"]


def test_cortex_orders_layers_by_the_numbers_in_their_names():
    names = ["Astrocyte", "L6 CT", "L2/3 IT", "Pvalb interneuron", "L4 IT", "L5 ET", "Oligodendrocyte"]
    roles = architecture_roles(CortexArchitecture(), names)
    assert roles == {
        "layers": ["L2/3 IT", "L4 IT", "L5 ET", "L6 CT"],
        "scattered": ["Astrocyte", "Pvalb interneuron", "Oligodendrocyte"],
    }
    given = architecture_roles(CortexArchitecture(roles={"layers": ["L6 CT", "L5 ET"]}), names)
    assert given["layers"] == ["L6 CT", "L5 ET"] and "L2/3 IT" in given["scattered"]


def test_given_roles_are_kept_and_the_rest_is_stroma():
    roles = architecture_roles(TumourArchitecture(roles={"immune": ["ct_2"]}), ["ct_0", "ct_1", "ct_2"])
    assert roles == {"tumour": ["ct_0"], "immune": ["ct_2"], "stroma": ["ct_1"]}


def test_cli_architecture_over_preset_and_config_file(tmp_path):
    import argparse
    import typing

    from STpuppeteer.cli._config import ARCHITECTURES, add_config_args, load_config
    from STpuppeteer.config.architecture import ArchitectureKind

    assert ARCHITECTURES == typing.get_args(ArchitectureKind)
    parser = argparse.ArgumentParser()
    add_config_args(parser)
    assert parser.parse_args([]).architecture is None
    args = parser.parse_args(["--preset", "xenium_breast", "--architecture", "glands", "--n-cells", "300"])
    assert load_config(args) == SimulationConfig.from_preset(
        "xenium_breast", n_cells=300, tissue={"architecture": "glands"}
    )
    # a config file's other tissue fields stay (merged, not replaced)
    SimulationConfig(n_cells=300, tissue={"density_per_mm2": 1800.0}).to_yaml(tmp_path / "c.yaml")
    config = load_config(parser.parse_args(["--config", str(tmp_path / "c.yaml"), "--architecture", "cortex"]))
    assert config.tissue.architecture.kind == "cortex" and config.tissue.density_per_mm2 == 1800.0
    config = load_config(
        parser.parse_args(["--config", str(tmp_path / "c.yaml"), "--architecture", "tumour", "--difficulty", "hard"])
    )
    assert config.tissue.architecture.kind == "tumour" and config.difficulty == "hard"
