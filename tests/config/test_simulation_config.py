import pytest
from pydantic import ValidationError

from STpuppeteer.simulation import SimulationConfig


def test_defaults_are_the_tutorials_priors():
    cfg = SimulationConfig()
    assert (cfg.marker_mu, cfg.marker_cv) == (0.75, 0.6)
    assert (cfg.silence_mu, cfg.silence_cv) == (0.05, 1.0)
    assert (cfg.hk_mu, cfg.hk_cv) == (0.2, 0.3)
    assert (cfg.theta_alpha, cfg.theta_rate) == (2.0, 1.0)
    assert cfg.n_silence == 0


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("n_cells", 0, "greater than 0"),
        ("n_genes", -5, "greater than 0"),
        ("n_celltype", 0, "greater than 0"),
        ("n_markers", -1, "greater than or equal to 0"),
        ("n_silence", -1, "greater than or equal to 0"),
        ("seed", -1, "greater than or equal to 0"),
        ("marker_cv", 0.0, "greater than or equal to 0.001"),
        ("silence_cv", -0.2, "greater than or equal to 0.001"),
        ("hk_cv", 0, "greater than or equal to 0.001"),
        ("marker_mu", 0, "greater than or equal to 0.000001"),
        ("theta_alpha", 0, "greater than or equal to 0.01"),
        ("theta_rate", -1, "greater than or equal to 0.001"),
        ("leakage_by_gene", 1.5, "[0, 1]"),
        ("leakage_by_gene", -0.1, "[0, 1]"),
        ("leakage_by_celltype", {"ct_0": 2.0}, "[0, 1]"),
        ("leak_dist_factor", 0, "greater than or equal to 0.01"),
        ("expression_scale", float("inf"), "finite"),
    ],
)
def test_invalid_field_names_field_value_and_rule(field, value, allowed):
    with pytest.raises(ValidationError) as err:
        SimulationConfig(**{field: value})
    text = str(err.value)
    assert field in text
    assert allowed in text
    assert repr(value) in text or str(value) in text


def test_unknown_key_is_refused():
    with pytest.raises(ValidationError, match="n_markerz"):
        SimulationConfig(n_markerz=3)


def test_too_many_marker_genes_is_refused():
    with pytest.raises(ValidationError, match=r"n_genes=100 is too small.*3\*30.*n_silence \(20\)"):
        SimulationConfig(n_genes=100, n_celltype=3, n_markers=30, n_silence=20)


def test_leakage_by_gene_list_length_and_dict_keys():
    with pytest.raises(ValidationError, match="one per gene"):
        SimulationConfig(n_genes=10, n_markers=1, leakage_by_gene=[0.1] * 9)
    with pytest.raises(ValidationError, match="unknown genes"):
        SimulationConfig(n_genes=10, n_markers=1, leakage_by_gene={"not_a_gene": 0.1})
    with pytest.raises(ValidationError, match=r"leakage_by_gene\[2\]"):
        SimulationConfig(n_genes=10, n_markers=1, leakage_by_gene=[0.1, 0.1, 1.1] + [0.0] * 7)


def test_unknown_celltype_keys_are_refused():
    with pytest.raises(ValidationError, match="celltype_priors has unknown cell types"):
        SimulationConfig(n_celltype=2, celltype_priors={"ct_5": {"marker_mu": 1.0}})
    with pytest.raises(ValidationError, match=r"shared_markers\[0\].celltypes"):
        SimulationConfig(n_celltype=2, shared_markers=[{"celltypes": ["ct_0", "ct_9"], "n_genes": 2}])
    with pytest.raises(ValidationError, match="twice"):
        SimulationConfig(n_celltype=2, shared_markers=[{"celltypes": ["ct_0", "ct_0"], "n_genes": 2}])


def test_assignment_is_validated():
    cfg = SimulationConfig()
    with pytest.raises(ValidationError, match="n_genes"):
        cfg.n_genes = 0


def test_yaml_round_trip(tmp_path):
    cfg = SimulationConfig(
        seed=7, n_genes=120, n_markers=10, n_silence=5, leakage_by_gene={"hk_0": 0.2},
        celltype_priors={"ct_1": {"marker_mu": 2.0}},
        shared_markers=[{"celltypes": ["ct_0", "ct_2"], "n_genes": 4}],
        leakage_by_celltype={"ct_2": 0.1},
    )
    path = tmp_path / "cfg.yaml"
    cfg.to_yaml(path)
    assert SimulationConfig.from_yaml(path) == cfg


def test_yaml_with_misspelled_key_is_refused(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("seed: 1\nn_gene: 300\n")
    with pytest.raises(ValidationError, match="n_gene"):
        SimulationConfig.from_yaml(path)


def test_yaml_that_is_not_a_mapping_is_refused(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="must be a YAML mapping"):
        SimulationConfig.from_yaml(path)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("xenium_pixel_size_um", 0.0, "greater than or equal to 0.05"),
        ("merscope_pixel_size_um", 11, "less than or equal to 10"),
        ("spatialdata_pixel_size_um", True, "boolean, not a number"),
        ("cosmx_composite_binning", 2.5, "not a whole number"),
        ("cosmx_composite_binning", 0, "greater than or equal to 1"),
        ("spatialdata_pyramid_levels", 9, "less than or equal to 8"),
    ],
)
def test_invalid_image_field_names_field_value_and_rule(field, value, allowed):
    with pytest.raises(ValidationError) as err:
        SimulationConfig(images={field: value})
    text = str(err.value)
    assert f"images.{field}" in text
    assert allowed in text
    assert repr(value) in text or str(value) in text


def test_image_config_round_trips_through_yaml(tmp_path):
    config = SimulationConfig(images={"merscope_pixel_size_um": 0.108, "spatialdata_pyramid_levels": 2})
    config.to_yaml(tmp_path / "c.yaml")
    back = SimulationConfig.from_yaml(tmp_path / "c.yaml")
    assert back.images == config.images
    assert back.images.merscope_pixel_size_um == 0.108 and back.images.spatialdata_pyramid_levels == 2
