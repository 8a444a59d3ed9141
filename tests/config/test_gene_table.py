"""The table model's configuration: the gene table's form, its checks, derived values, YAML and arrays."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from STpuppeteer.cli import main
from STpuppeteer.config import SimulationConfig
from STpuppeteer.config._base import MAX_THETA, MIN_THETA
from STpuppeteer.config.budget import estimate_resources
from STpuppeteer.config.commented import commented_yaml
from STpuppeteer.config.gene_table import GeneTable

TYPES = ["T cell", "B cell", "Mono / DC"]
GENES = {
    "CD3E": {"marks": ["T cell"], "mu": [3.1, 0.02, 0.01], "theta": 1.4},
    "CD79A": {"class": "marker", "marks": ["B cell"], "mu": [0.01, 2.5, 0.0], "theta": [2.0, 2.5, 3.0]},
    "LYZ": {"marks": ["Mono / DC", "B cell"], "mu": [0.1, 0.8, 6.0], "theta": [0.5, 1.0, 0.8]},
    "ACTB": {"mu": [5.0, 4.2, 6.1], "theta": [8.0, 7.5, 9.0]},
    "XIST": {"class": "silent", "mu": 0.01, "theta": 2.0},
}
TABLE = {"celltypes": TYPES, "genes": GENES}
YAML_BODY = """\
seed: 7
n_cells: 400
leakage_by_gene: {CD3E: 0.1}
tissue: {proportions: [0.5, 0.3, 0.2]}
gene_table:
  celltypes: [T cell, B cell, Mono / DC]
  genes:
    CD3E: {marks: [T cell], mu: [3.1, 0.02, 0.01], theta: 1.4}
    CD79A: {class: marker, marks: [B cell], mu: [0.01, 2.5, 0.0], theta: [2.0, 2.5, 3.0]}
    LYZ: {marks: [Mono / DC, B cell], mu: [0.1, 0.8, 6.0], theta: [0.5, 1.0, 0.8]}
    ACTB: {mu: [5.0, 4.2, 6.1], theta: [8.0, 7.5, 9.0]}
    XIST: {class: silent, mu: 0.01, theta: 2.0}
"""


def table_config(genes: dict | None = None, **fields) -> SimulationConfig:
    table = {"celltypes": TYPES, "genes": GENES if genes is None else genes}
    return SimulationConfig(**{"n_cells": 300, "gene_table": table, **fields})


def with_gene(gene: str, **entry) -> dict:
    genes = copy.deepcopy(GENES)
    genes[gene] = {**genes[gene], **entry}
    return genes


# ---------------------------------------------------------------------------------------
# Form and derived values
# ---------------------------------------------------------------------------------------
def test_yaml_form_gives_the_table_model_and_its_derived_values(tmp_path):
    path = tmp_path / "table.yaml"
    path.write_text(YAML_BODY)
    cfg = SimulationConfig.from_yaml(path)
    assert cfg.expression_model == "table"
    assert cfg.celltype_names == TYPES and cfg.n_celltype == 3 and cfg.n_genes == 5
    assert cfg.resolve_gene_names() == list(GENES)
    assert cfg.celltype_proportions == [0.5, 0.3, 0.2]  # tissue.proportions
    assert cfg.n_hk == 1
    entries = cfg.gene_table.genes
    assert [entries[g].gene_class for g in GENES] == ["marker", "marker", "marker", "housekeeping", "silent"]
    assert entries["CD3E"].theta == [1.4, 1.4, 1.4]  # one number stands for every type
    assert entries["XIST"].mu == [0.01, 0.01, 0.01]


def test_arrays_are_types_by_genes_and_gene_types_follow_the_prior_model():
    table = table_config().gene_table
    mu, theta = table.mu_array(), table.theta_array()
    assert mu.shape == theta.shape == (3, 5)
    np.testing.assert_array_equal(mu[:, 0], [3.1, 0.02, 0.01])
    np.testing.assert_array_equal(theta[:, 2], [0.5, 1.0, 0.8])
    # Marks in cell type order, whatever order they were listed in.
    assert table.gene_types() == ["ct_0_mkr", "ct_1_mkr", "ct_1_ct_2_mkr", "hk", "silence"]


def test_leakage_by_gene_keyed_by_real_gene_names():
    cfg = table_config(leakage_by_gene={"LYZ": 0.2})
    assert cfg.leakage_by_gene == {"LYZ": 0.2}
    with pytest.raises(ValidationError, match=r"unknown genes \['ct_0_mkr_0'\]"):
        table_config(leakage_by_gene={"ct_0_mkr_0": 0.2})
    with pytest.raises(ValidationError, match="one per gene"):
        table_config(leakage_by_gene=[0.1, 0.2])


def test_other_fields_keyed_by_cell_type_take_the_table_names():
    cfg = table_config(leakage_by_celltype={"B cell": 0.1}, tissue={"pattern": "layers", "layer_order": TYPES[::-1]})
    assert cfg.leakage_by_celltype == {"B cell": 0.1}
    with pytest.raises(ValidationError, match="unknown cell types"):
        table_config(leakage_by_celltype={"ct_0": 0.1})
    with pytest.raises(ValidationError, match="tissue.proportions has 2 values"):
        table_config(tissue={"proportions": [0.5, 0.5]})


# ---------------------------------------------------------------------------------------
# Refusals: each names the field path, the value and what is allowed
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("genes", "expected"),
    [
        (
            with_gene("CD3E", mu=[3.1, 0.02]),
            ["gene_table.genes['CD3E'].mu=[3.1, 0.02]", "has 2 values", "one per cell type", "or one number for all"],
        ),
        (with_gene("ACTB", theta=[8.0, 7.5, 9.0, 1.0]), ["gene_table.genes['ACTB'].theta=", "has 4 values"]),
        (
            with_gene("CD3E", mu=[3.1, -0.5, 0.01]),
            ["gene_table.genes['CD3E'].mu[1]=-0.5", "cell type 'B cell'", "from 0 to 10000"],
        ),
        (with_gene("CD3E", mu=[3.1, 2e4, 0.01]), ["gene_table.genes['CD3E'].mu[1]=20000.0", "from 0 to 10000"]),
        (
            with_gene("ACTB", theta=[8.0, 1e-4, 9.0]),
            ["gene_table.genes['ACTB'].theta[1]=0.0001", "from 0.001 to 1e+07"],
        ),
        (with_gene("ACTB", theta=2e7), ["gene_table.genes['ACTB'].theta[0]=20000000.0", "from 0.001 to 1e+07"]),
        (with_gene("CD3E", mu=[3.1, float("nan"), 0.01]), ["gene_table.genes.CD3E.mu.1", "nan", "not a finite number"]),
        (with_gene("CD3E", theta=float("inf")), ["gene_table.genes.CD3E.theta", "inf", "not a finite number"]),
        (with_gene("CD3E", mu=[3.1, True, 0.01]), ["gene_table.genes.CD3E.mu.1", "True is a boolean"]),
        (with_gene("CD3E", mu="3.1"), ["gene_table.genes.CD3E.mu", "valid list"]),
        (
            with_gene("ACTB", **{"class": "house keeping"}),
            ["gene_table.genes.ACTB.class", "'house keeping'", "'marker', 'housekeeping' or 'silent'"],
        ),
        (
            with_gene("ACTB", **{"class": "marker"}),
            ["gene_table.genes['ACTB'].class='marker' needs marks", "['T cell', 'B cell', 'Mono / DC']"],
        ),
        (
            with_gene("XIST", marks=["T cell"]),
            ["gene_table.genes['XIST'].marks=['T cell'] is not allowed with class='silent'"],
        ),
        (with_gene("CD3E", marks=["NK cell"]), ["gene_table.genes['CD3E'].marks=['NK cell']", "unknown: ['NK cell']"]),
        (with_gene("CD3E", marks=["T cell", "T cell"]), ["gene_table.genes['CD3E'].marks=", "twice: ['T cell']"]),
        (with_gene("CD3E", colour="red"), ["gene_table.genes.CD3E.colour", "Extra inputs are not permitted"]),
        ({}, ["gene_table.genes", "at least 1 item"]),
        ({"CD3E\tx": {"mu": 1.0, "theta": 1.0}}, ["control characters"]),
    ],
)
def test_invalid_table_is_refused_naming_path_value_and_rule(genes, expected):
    with pytest.raises(ValidationError) as err:
        table_config(genes)
    text = str(err.value)
    for part in expected:
        assert part in text, (part, text)


def test_cell_types_must_be_unique_and_given():
    with pytest.raises(ValidationError, match=r"gene_table.celltypes=.* names \['T cell'\] more than once"):
        SimulationConfig(gene_table={"celltypes": ["T cell", "T cell"], "genes": {"A": {"mu": 1.0, "theta": 1.0}}})
    with pytest.raises(ValidationError, match="gene_table.celltypes"):
        SimulationConfig(gene_table={"celltypes": [], "genes": {"A": {"mu": 1.0, "theta": 1.0}}})


def test_a_gene_given_twice_is_refused(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(YAML_BODY + "    ACTB: {mu: 1.0, theta: 1.0}\n")
    with pytest.raises(ValueError, match="ACTB"):
        SimulationConfig.from_yaml(path)
    with pytest.raises(ValueError, match=r"genes has names \['A'\] more than once"):
        GeneTable.from_arrays(["A", "A"], ["T"], mu=np.ones((1, 2)), theta=np.ones((1, 2)))


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"marker_mu": 1.0, "n_markers": 3}, ["n_markers", "marker_mu"]),
        ({"expression_scale": 2.0}, ["expression_scale"]),
        ({"shared_theta": True}, ["shared_theta"]),
        ({"celltype_priors": {"T cell": {"hk_mu": 1.0}}}, ["celltype_priors"]),
        (
            {"programs": [{"name": "p", "loading": {"CD3E": 1.0}}], "cell_type_specs": {"T cell": {}}},
            ["programs", "cell_type_specs"],
        ),
        ({"expression_baseline": 0.1}, ["expression_baseline"]),
    ],
)
def test_prior_and_program_fields_are_refused_beside_the_table(fields, named):
    with pytest.raises(ValidationError) as err:
        table_config(**fields)
    text = str(err.value)
    assert "do not apply with gene_table" in text
    for name in named:
        assert name in text


def test_counts_and_names_given_beside_the_table_must_agree():
    assert table_config(n_genes=5, n_celltype=3, celltype_names=TYPES).n_genes == 5
    for field, value in (("n_genes", 300), ("n_celltype", 2), ("celltype_names", ["a", "b", "c"])):
        with pytest.raises(ValidationError, match=f"{field}=.* disagrees with gene_table"):
            table_config(**{field: value})


# ---------------------------------------------------------------------------------------
# Serialisation
# ---------------------------------------------------------------------------------------
def test_yaml_round_trip_is_identical_and_one_line_per_gene(tmp_path):
    cfg = table_config(seed=3, leakage_by_gene={"CD3E": 0.1}, tissue={"proportions": [0.5, 0.3, 0.2]})
    path = tmp_path / "out.yaml"
    cfg.to_yaml(path)
    back = SimulationConfig.from_yaml(path)
    assert back == cfg and back.to_dict() == cfg.to_dict()
    text = path.read_text()
    assert "  celltypes: [T cell, B cell, Mono / DC]\n" in text
    assert "    CD3E: {marks: [T cell], mu: [3.1, 0.02, 0.01], theta: 1.4}\n" in text
    assert "    XIST: {class: silent, mu: 0.01, theta: 2.0}\n" in text
    assert "    CD79A: {marks: [B cell]," in text  # the default class is not written
    assert yaml.safe_load(text) == cfg.to_dict()  # YAML 1.1 readers see the same
    # Only the table model's fields: no priors, no programs, no derived counts.
    data = cfg.to_dict()
    for field in (
        "n_genes",
        "n_celltype",
        "celltype_names",
        "marker_mu",
        "expression_scale",
        "programs",
        "expression_baseline",
    ):
        assert field not in data


def test_other_models_do_not_write_gene_table():
    assert "gene_table" not in SimulationConfig().to_dict()
    assert "gene_table" not in SimulationConfig.from_preset("breast_programs").to_dict()


def test_commented_yaml_reads_back(tmp_path):
    cfg = table_config(seed=5)
    text = commented_yaml(cfg)
    assert "    LYZ: {marks: [Mono / DC, B cell], mu: [0.1, 0.8, 6.0], theta: [0.5, 1.0, 0.8]}" in text
    path = tmp_path / "commented.yaml"
    path.write_text(text)
    assert SimulationConfig.from_yaml(path) == cfg


def test_fitted_floats_survive_the_yaml_exactly(tmp_path, rng):
    mu = rng.gamma(0.5, 2.0, size=(3, 40))
    theta = rng.uniform(0.05, 50.0, size=40)
    genes = [f"G{i}" for i in range(40)]
    cfg = SimulationConfig(n_cells=200, gene_table=GeneTable.from_arrays(genes, TYPES, mu=mu, theta=theta))
    cfg.to_yaml(tmp_path / "fit.yaml")
    back = SimulationConfig.from_yaml(tmp_path / "fit.yaml")
    np.testing.assert_array_equal(back.gene_table.mu_array(), mu)
    np.testing.assert_array_equal(back.gene_table.theta_array(), np.broadcast_to(theta, (3, 40)))


# ---------------------------------------------------------------------------------------
# from_arrays
# ---------------------------------------------------------------------------------------
def test_from_arrays_builds_the_same_table_as_the_mapping():
    table = table_config().gene_table
    built = GeneTable.from_arrays(
        list(GENES),
        TYPES,
        mu=table.mu_array(),
        theta=table.theta_array(),
        classes={"XIST": "silent"},
        marks={"CD3E": ["T cell"], "CD79A": ["B cell"], "LYZ": ["Mono / DC", "B cell"]},
    )
    assert built == table


def test_from_arrays_refuses_shapes_that_do_not_fit():
    mu = np.ones((2, 3))
    with pytest.raises(
        ValueError,
        match=r"mu has shape \(3, 2\); it must be cell types × genes \(2, 3\) "
        r"\(transpose it",
    ):
        GeneTable.from_arrays(["a", "b", "c"], ["T", "B"], mu=mu.T, theta=mu)
    with pytest.raises(ValueError, match=r"theta has shape \(2,\); .* or one θ per gene"):
        GeneTable.from_arrays(["a", "b", "c"], ["T", "B"], mu=mu, theta=np.ones(2))
    with pytest.raises(ValueError, match=r"marks names genes \['Z'\]"):
        GeneTable.from_arrays(["a", "b", "c"], ["T", "B"], mu=mu, theta=mu, marks={"Z": ["T"]})
    with pytest.raises(ValidationError, match=r"gene_table.genes\['b'\].theta\[0\]=0.0"):
        GeneTable.from_arrays(["a", "b", "c"], ["T", "B"], mu=mu, theta=np.array([1.0, 0.0, 1.0]))


def test_theta_bounds_are_the_simulators():
    from STpuppeteer.stages.genes import MIN_THETA as STAGE_MIN_THETA

    assert MIN_THETA == STAGE_MIN_THETA == 1e-3
    edge = {"A": {"mu": 0.0, "theta": MIN_THETA}, "B": {"mu": 1e4, "theta": MAX_THETA}}
    assert SimulationConfig(gene_table={"celltypes": ["T"], "genes": edge}).n_genes == 2


# ---------------------------------------------------------------------------------------
# Budget and command line
# ---------------------------------------------------------------------------------------
def test_budget_costs_the_table_from_its_means():
    cfg = table_config()
    est = estimate_resources(cfg)
    np.testing.assert_allclose(est.molecules_per_cell, cfg.gene_table.mu_array().sum(axis=1))
    genes = {f"G{i}": {"mu": 9000.0, "theta": 1.0} for i in range(12)}
    with pytest.raises(ValidationError, match="lower the gene_table's mu or its number of genes"):
        table_config(genes)


def test_cli_prints_and_checks_a_table_config(tmp_path, capsys):
    path = tmp_path / "table.yaml"
    path.write_text(YAML_BODY)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["config", "--config", str(path), "--model", "table"]) == 0
    text = out.getvalue()
    assert text.startswith(f"# STpuppeteer config (table model, config: {path})")
    (tmp_path / "again.yaml").write_text(text)
    assert SimulationConfig.from_yaml(tmp_path / "again.yaml") == SimulationConfig.from_yaml(path)
    assert main(["config", "--model", "table"]) != 0
    assert "the table model has no preset" in capsys.readouterr().err
    assert main(["config", "--config", str(path), "--model", "programs"]) != 0
    assert "is a config of the table model" in capsys.readouterr().err
