"""The program model's configuration: fields, free-text cell types, derived values, YAML and dict forms."""

from __future__ import annotations

import math

import pytest
import yaml
from pydantic import ValidationError

from STpuppeteer.config.commented import commented_yaml
from STpuppeteer.simulation import CellTypeSpec, ProgramSpec, SimulationConfig

PROGRAMS = [
    {"name": "epi", "loading": {"EPCAM": 12.0, "KRT8": 8.0}, "description": "epithelium"},
    {"name": "imm", "loading": {"PTPRC": 10.0, "CD3E": 6.0, "KRT8": 1.0}},
]
SPECS = {
    "Ductal/tumor epithelial": {"proportion": 0.6, "program_activations": {"epi": 1.0}, "activation_sd": 0.2},
    "Fibroblast / CAF": {"proportion": 0.1},
    "T cell (CD8⁺) é": {"proportion": 0.3, "program_activations": [0.0, 1.0]},
}
NAMES = list(SPECS)


def program_config(**fields) -> SimulationConfig:
    return SimulationConfig(**{"programs": PROGRAMS, "cell_type_specs": SPECS, "n_cells": 300, **fields})


YAML_BODY = """\
seed: 42
n_cells: 300
expression_baseline: 0.05
overdispersion_cv: 0.5
overdispersion_exponent: 0.3
leak_dist_factor: 1.0
leakage_by_celltype:
  Fibroblast / CAF: 0.20
programs:
  - name: ProgEpi
    loading: {KRT8: 10.0, KRT18: 8.0, EPCAM: 12.0}
  - name: ProgImm
    loading: {PTPRC: 11.0, CD3D: 9.0}
cell_type_specs:
  Fibroblast / CAF:
    program_activations: {ProgEpi: 0.1}
  Ductal/tumor epithelial:
    program_activations: {ProgEpi: 1.0}
  Immune:
    program_activations: [0.0, 1.0]
"""


# ---------------------------------------------------------------------------------------
# Derived values and attribute access
# ---------------------------------------------------------------------------------------
def test_derived_values_and_attribute_access():
    cfg = program_config(extra_genes=["ACTB", "KRT8"])
    assert cfg.expression_model == "programs"
    assert cfg.celltype_names == NAMES and cfg.n_celltype == 3
    assert cfg.resolve_gene_names() == ["EPCAM", "KRT8", "PTPRC", "CD3E", "ACTB"]
    assert cfg.n_genes == 5
    assert [p.name for p in cfg.programs] == ["epi", "imm"]
    assert isinstance(cfg.programs[0], ProgramSpec)
    assert cfg.programs[0].loading == {"EPCAM": 12.0, "KRT8": 8.0} and cfg.programs[0].description == "epithelium"
    assert cfg.programs[1].description is None
    spec = cfg.cell_type_specs["T cell (CD8⁺) é"]
    assert isinstance(spec, CellTypeSpec)
    assert spec.program_activations == {"epi": 0.0, "imm": 1.0}  # a list in program order becomes a dict
    assert cfg.cell_type_specs["Ductal/tumor epithelial"].activation_sd == 0.2
    assert cfg.cell_type_specs["Fibroblast / CAF"].program_activations == {}
    assert cfg.leakage_by_celltype == {}
    assert cfg.ambient_rate_per_um2 == cfg.instrument.ambient_rate_per_um2 == 0.0


def test_proportions_are_weights_normalised_to_fractions():
    cfg = program_config(cell_type_specs={"A": {"proportion": 2}, "B": {"proportion": 6}})
    assert [s.proportion for s in cfg.cell_type_specs.values()] == [0.25, 0.75]
    assert cfg.celltype_proportions == [0.25, 0.75]
    equal = program_config(cell_type_specs={"A": {}, "B": {}, "C": {}})
    assert [s.proportion for s in equal.cell_type_specs.values()] == pytest.approx([1 / 3] * 3)
    with pytest.raises(ValidationError, match=r"not for \['B'\]"):
        program_config(cell_type_specs={"A": {"proportion": 1}, "B": {}})
    with pytest.raises(ValidationError, match="at least one must be > 0"):
        program_config(cell_type_specs={"A": {"proportion": 0}, "B": {"proportion": 0}})


def test_leakage_by_celltype_takes_the_names_and_defaults_to_zero():
    cfg = program_config(leakage_by_celltype={"Fibroblast / CAF": 0.3})
    assert cfg.leakage_by_celltype == {"Fibroblast / CAF": 0.3}
    assert program_config(leakage_by_celltype=None).leakage_by_celltype == {}
    with pytest.raises(ValidationError, match=r"unknown cell types \['Fibroblast'\].*allowed are"):
        program_config(leakage_by_celltype={"Fibroblast": 0.3})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, [0.0] * 4), (0.2, [0.2] * 4), ([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]),
     ({"PTPRC": 0.5}, [0.0, 0.0, 0.5, 0.0])],
)
def test_leakage_by_gene_forms(value, expected):
    from STpuppeteer.simulation import build_program_gpar_df

    cfg = program_config(leakage_by_gene=value)
    assert build_program_gpar_df(cfg)["gene_leakage"].tolist() == expected


def test_leakage_by_gene_is_checked_against_the_program_genes():
    with pytest.raises(ValidationError, match="one per gene"):
        program_config(leakage_by_gene=[0.1, 0.2])
    with pytest.raises(ValidationError, match="unknown genes"):
        program_config(leakage_by_gene={"ACTB": 0.1})


# ---------------------------------------------------------------------------------------
# Validation: every value, named
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "needles"),
    [
        ({"expression_baseline": -0.1}, ["expression_baseline", "greater than or equal to 0"]),
        ({"overdispersion_cv": 0}, ["overdispersion_cv", "greater than or equal to 0.001"]),
        ({"overdispersion_cv": math.inf}, ["overdispersion_cv", "finite"]),
        ({"overdispersion_exponent": 1.5}, ["overdispersion_exponent", "less than or equal to 1"]),
        ({"programs": [*PROGRAMS, PROGRAMS[0]]}, ["programs", "'epi'", "unique"]),
        ({"programs": [{"name": "p", "loading": {"A": -1.0}}]}, ["loading['A']=-1.0", "≥ 0"]),
        ({"programs": [{"name": "p", "loading": {"A": math.nan}}]}, ["loading['A']", "finite"]),
        ({"programs": [{"name": "p", "loading": {}}]}, ["loading", "at least 1"]),
        ({"programs": [{"name": "gene_leakage", "loading": {"A": 1}}]}, ["gene_leakage", "column"]),
        ({"programs": [{"name": "x_mu", "loading": {"A": 1}}]}, ["x_mu", "_mu"]),
        ({"programs": [{"name": " ", "loading": {"A": 1}}]}, ["programs[].name", "non-empty"]),
        ({"programs": [{"name": "p", "loadings": {"A": 1}}]}, ["loadings", "Extra inputs"]),
        ({"cell_type_specs": {"A": {"program_activations": {"nope": 1.0}}}}, ["'A'", "unknown programs", "nope"]),
        ({"cell_type_specs": {"A": {"program_activations": [1.0]}}}, ["'A'", "1 values", "program order"]),
        ({"cell_type_specs": {"A": {"program_activations": {"epi": 1}, "activation_sd": -1}}},
         ["activation_sd=-1", "≥ 0"]),
        ({"cell_type_specs": {"A": {"program_activations": {"epi": 1}, "activation_sd": {"imm": 0.1}}}},
         ["'A'", "activation_sd", "imm"]),
        ({"cell_type_specs": {"A": {"proportion": -0.5}}}, ["proportion", "greater than or equal to 0"]),
        ({"cell_type_specs": {"": {}}}, ["cell_type_specs key", "non-empty"]),
        ({"cell_type_specs": {"A": {"share": 1}}}, ["share", "Extra inputs"]),
        ({"n_celltype": 2}, ["n_celltype=2", "gives 3"]),
        ({"n_genes": 300}, ["n_genes=300", "gives 4"]),
        ({"celltype_names": ["a", "b", "c"]}, ["celltype_names", "keys of cell_type_specs"]),
        ({"marker_mu": 2.0, "expression_scale": 3.0}, ["marker_mu", "expression_scale", "prior model"]),
        ({"tissue": {"proportions": [0.2, 0.3, 0.5]}}, ["tissue.proportions", "cell_type_specs[name].proportion"]),
        ({"tissue": {"layer_order": ["T cell"]}}, ["layer_order", "Fibroblast / CAF"]),
        ({"tissue": {"prototypes": [{"kind": "cluster", "celltype": "CAF"}]}}, ["prototypes[0].celltype", "'CAF'"]),
        ({"morphology": {"celltype_shapes": {"Tcell": {}}}}, ["celltype_shapes", "Tcell"]),
    ],
)
def test_invalid_program_configs_name_the_field_and_the_rule(fields, needles):
    with pytest.raises(ValidationError) as err:
        program_config(**fields)
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))


def test_program_model_needs_both_parts_and_its_knobs_need_it():
    with pytest.raises(ValidationError, match="cell_type_specs is empty"):
        SimulationConfig(programs=PROGRAMS)
    with pytest.raises(ValidationError, match="programs is empty"):
        SimulationConfig(cell_type_specs=SPECS)
    with pytest.raises(ValidationError, match=r"\['expression_baseline'\] only apply to the program model"):
        SimulationConfig(expression_baseline=0.2)


def test_assignment_revalidates_and_rederives():
    cfg = program_config()
    cfg.cell_type_specs = {**SPECS, "Endothelial": {"proportion": 0.1, "program_activations": {"imm": 0.1}}}
    assert cfg.n_celltype == 4 and cfg.celltype_names[-1] == "Endothelial"
    with pytest.raises(ValidationError, match="unknown programs"):
        cfg.cell_type_specs = {"A": {"program_activations": {"zzz": 1.0}}}


# ---------------------------------------------------------------------------------------
# Named cell types in the prior model
# ---------------------------------------------------------------------------------------
def test_prior_model_takes_named_celltypes():
    cfg = SimulationConfig(celltype_names=["Tumour / epithelial", "T cell", "B cell"], n_markers=5, n_genes=30,
                           leakage_by_celltype={"T cell": 0.2},
                           shared_markers=[{"celltypes": ["T cell", "B cell"], "n_genes": 2}])
    assert cfg.expression_model == "priors" and cfg.n_celltype == 3
    assert cfg.resolve_gene_names()[15:17] == ["ct_1_ct_2_mkr_0", "ct_1_ct_2_mkr_1"]
    assert cfg.to_dict()["celltype_names"] == ["Tumour / epithelial", "T cell", "B cell"]
    assert SimulationConfig.from_dict(cfg.to_dict()) == cfg
    assert SimulationConfig(n_celltype=4).celltype_names == ["ct_0", "ct_1", "ct_2", "ct_3"]
    assert "celltype_names" not in SimulationConfig().to_dict()  # default names: the seed's dump is unchanged
    assert not {"programs", "cell_type_specs", "expression_baseline"} & set(SimulationConfig().to_dict())
    with pytest.raises(ValidationError, match="n_celltype=2 disagrees with celltype_names"):
        SimulationConfig(n_celltype=2, celltype_names=["a", "b", "c"])
    with pytest.raises(ValidationError, match="unique"):
        SimulationConfig(celltype_names=["a", "a", "b"])


# ---------------------------------------------------------------------------------------
# YAML (flat and wrapped), dicts (explicit and shorthand), round trips
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("wrapped", [False, True], ids=["flat", "wrapped"])
def test_from_yaml_flat_and_wrapped(tmp_path, wrapped):
    text = "simulation:\n" + "".join(f"  {line}\n" for line in YAML_BODY.splitlines()) if wrapped else YAML_BODY
    path = tmp_path / "programs.yaml"
    path.write_text(text)
    cfg = SimulationConfig.from_yaml(path)
    assert cfg.seed == 42 and cfg.leak_dist_factor == 1.0
    assert cfg.celltype_names == ["Fibroblast / CAF", "Ductal/tumor epithelial", "Immune"]
    assert cfg.resolve_gene_names() == ["KRT8", "KRT18", "EPCAM", "PTPRC", "CD3D"]
    assert cfg.leakage_by_celltype == {"Fibroblast / CAF": 0.2}
    assert cfg.cell_type_specs["Immune"].program_activations == {"ProgEpi": 0.0, "ProgImm": 1.0}
    assert cfg == SimulationConfig.from_dict(yaml.safe_load(text))


def test_unknown_keys_are_refused_by_name(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(YAML_BODY + "leak_dist_facter: 2\n")
    with pytest.raises(ValidationError, match="leak_dist_facter"):
        SimulationConfig.from_yaml(path)
    path.write_text("simulation:\n  seed: 1\ntypo: 3\n")
    with pytest.raises(ValueError, match=r"nothing beside it; found \['typo'\]"):
        SimulationConfig.from_yaml(path)
    path.write_text("simulation:\n  sed: 1\n")
    with pytest.raises(ValidationError, match="sed"):
        SimulationConfig.from_yaml(path)


def test_yaml_round_trip_keeps_names_and_gene_order(tmp_path):
    cfg = program_config(leakage_by_celltype={"Fibroblast / CAF": 0.1}, extra_genes=["ACTB"])
    cfg.to_yaml(tmp_path / "c.yaml")
    back = SimulationConfig.from_yaml(tmp_path / "c.yaml")
    assert back == cfg
    assert back.resolve_gene_names() == cfg.resolve_gene_names()
    assert not {"n_genes", "n_celltype", "marker_mu", "expression_scale"} & set(cfg.to_dict())
    (tmp_path / "commented.yaml").write_text(commented_yaml(cfg))
    commented = SimulationConfig.from_yaml(tmp_path / "commented.yaml")
    assert commented == cfg and commented.resolve_gene_names() == cfg.resolve_gene_names()
    assert SimulationConfig.model_validate_json(cfg.model_dump_json()) == cfg


def test_from_dict_explicit_equals_the_constructor():
    fields = {"programs": PROGRAMS, "cell_type_specs": SPECS, "n_cells": 300}
    assert SimulationConfig.from_dict(fields) == SimulationConfig(**fields)
    assert SimulationConfig.from_dict({"simulation": fields}) == SimulationConfig(**fields)


def test_from_dict_shorthand_builds_a_synthetic_program_config():
    cfg = SimulationConfig.from_dict({"n_cells": 500, "n_celltype": 3, "n_programs": 5, "n_genes_per_program": 4,
                                      "n_hk_genes": 6, "seed": 7})
    assert (cfg.n_cells, cfg.seed, cfg.n_celltype) == (500, 7, 3)
    assert cfg.n_genes == 5 * 4 + 6 == len(cfg.resolve_gene_names())
    assert [p.name for p in cfg.programs] == ["prog_0", "prog_1", "prog_2", "prog_3", "prog_4", "housekeeping"]
    # program p goes to type p mod n_celltype; every type has the housekeeping program
    assert cfg.cell_type_specs["ct_0"].program_activations == {"prog_0": 1.0, "prog_3": 1.0, "housekeeping": 1.0}
    assert cfg.cell_type_specs["ct_2"].program_activations == {"prog_2": 1.0, "housekeeping": 1.0}
    assert cfg.programs[0].loading["prog_0_gene_0"] == 10.0 and cfg.programs[0].loading["prog_0_gene_3"] == 2.0
    with_tissue = SimulationConfig.from_dict({"n_programs": 2, "n_celltype": 2, "tissue": {"pattern": "domains"}})
    assert with_tissue.tissue.pattern == "domains" and with_tissue.n_genes == 20
    with pytest.raises(ValueError, match="n_programs=2 is less than n_celltype=3"):
        SimulationConfig.from_dict({"n_programs": 2, "n_celltype": 3})
    with pytest.raises(ValueError, match="n_genes_per_program=0"):
        SimulationConfig.from_dict({"n_genes_per_program": 0})
    with pytest.raises(ValueError, match=r"do not give \['programs'\]"):
        SimulationConfig.from_dict({"n_programs": 2, "programs": PROGRAMS})


def test_breast_preset_is_a_named_program_tissue():
    cfg = SimulationConfig.from_preset("breast_programs", n_cells=500)
    assert cfg.expression_model == "programs" and cfg.n_celltype == 7 and cfg.n_genes == 35
    assert "Fibroblast / CAF" in cfg.celltype_names and "ESR1" in cfg.resolve_gene_names()
    assert math.isclose(sum(cfg.celltype_proportions), 1.0)
    assert cfg.instrument.ambient_rate_per_um2 > 0  # on the Xenium platform's settings
