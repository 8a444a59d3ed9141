"""The difficulty ladder's config: validation, what each level sets, precedence, round trip."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from STpuppeteer.config import SimulationConfig
from STpuppeteer.config.difficulty import DIFFICULTY_LEVELS, LADDER, apply_difficulty, difficulty_overrides

if TYPE_CHECKING:
    from pathlib import Path


def test_unknown_level_names_field_value_and_choices() -> None:
    with pytest.raises(
        ValidationError, match=r"difficulty='extreme' is not allowed; choose one of \['easy', 'medium', 'hard'\]"
    ):
        SimulationConfig(difficulty="extreme")
    with pytest.raises(ValueError, match="difficulty=3 is not allowed"):
        difficulty_overrides(3)  # type: ignore[arg-type]


def test_assigning_a_level_to_a_made_config_is_refused() -> None:
    cfg = SimulationConfig(n_cells=100)
    with pytest.raises(ValidationError, match="cannot be assigned to a made config"):
        cfg.difficulty = "hard"


def test_none_changes_nothing_and_is_not_written() -> None:
    assert SimulationConfig(n_cells=100, difficulty=None) == SimulationConfig(n_cells=100)
    assert "difficulty" not in SimulationConfig(n_cells=100).to_dict()
    assert SimulationConfig.from_preset("xenium", difficulty=None) == SimulationConfig.from_preset("xenium")


@pytest.mark.parametrize("level", DIFFICULTY_LEVELS)
def test_prior_model_gets_the_level_knobs(level: str) -> None:
    rung = LADDER[level]
    cfg = SimulationConfig(difficulty=level, n_cells=200)
    assert (cfg.n_celltype, cfg.n_markers, cfg.marker_mu) == (rung.n_celltype, rung.n_markers, rung.marker_mu)
    assert len(cfg.shared_markers) == rung.related_pairs
    assert all(s.n_genes == rung.shared_markers for s in cfg.shared_markers)
    assert cfg.leakage_by_gene == rung.leakage_by_gene
    assert cfg.instrument.ambient_rate_per_um2 == rung.ambient_rate_per_um2
    assert cfg.instrument.min_distance_um == rung.min_distance_um
    assert cfg.tissue.density_per_mm2 == rung.density_per_mm2
    rare = sorted(cfg.tissue.proportions or [1.0])[: rung.rare_types]
    assert all(p == pytest.approx(rung.rare_share) for p in rare)


def test_levels_move_every_knob_towards_hard() -> None:
    easy, medium, hard = (LADDER[level] for level in DIFFICULTY_LEVELS)
    for more in (
        "n_celltype",
        "related_pairs",
        "rare_types",
        "leakage_by_gene",
        "leak_dist_factor",
        "ambient_rate_per_um2",
        "density_per_mm2",
        "min_distance_um",
        "expression_baseline",
        "activation_sd",
    ):
        assert getattr(easy, more) <= getattr(medium, more) <= getattr(hard, more), more
    for less in ("n_markers", "marker_mu", "rare_share", "nuclear_density_ratio"):
        assert getattr(easy, less) >= getattr(medium, less) >= getattr(hard, less), less


def test_level_beats_preset_and_explicit_fields_beat_level() -> None:
    cfg = SimulationConfig.from_preset("xenium", difficulty="hard", leak_dist_factor=0.5, n_cells=300)
    assert cfg.leakage_by_gene == LADDER["hard"].leakage_by_gene  # the preset's 0.15 replaced
    assert cfg.leak_dist_factor == 0.5  # given by hand
    assert cfg.instrument.jitter_um == 0.2  # a preset knob the ladder leaves alone
    cfg = SimulationConfig(difficulty="hard", n_celltype=3, instrument={"ambient_rate_per_um2": 0.0})
    assert cfg.celltype_names == ["ct_0", "ct_1", "ct_2"]
    assert [s.celltypes for s in cfg.shared_markers] == [["ct_0", "ct_1"]]  # pairs among the given types
    assert cfg.instrument.ambient_rate_per_um2 == 0.0


def test_program_model_related_copies_rare_types_and_spread() -> None:
    rung = LADDER["hard"]
    base = SimulationConfig.from_preset("xenium_breast")
    cfg = SimulationConfig.from_preset("xenium_breast", difficulty="hard")
    related = [n for n in cfg.celltype_names if n.endswith(" related")]
    assert len(related) == rung.related_pairs
    assert cfg.n_celltype == base.n_celltype + rung.related_pairs
    for name in related:
        original = cfg.cell_type_specs[name.removesuffix(" related")].program_activations
        copied = cfg.cell_type_specs[name].program_activations
        differing = [p for p in original if original[p] != copied[p]]
        assert len(differing) == 1  # all programs shared but one
        assert copied[differing[0]] == pytest.approx(original[differing[0]] * rung.related_activation_factor)
    shares = sorted(spec.proportion for spec in cfg.cell_type_specs.values())
    assert all(s <= rung.rare_share + 1e-12 for s in shares[: rung.rare_types])
    assert sum(shares) == pytest.approx(1.0)
    assert cfg.expression_baseline == rung.expression_baseline
    for spec in cfg.cell_type_specs.values():
        assert all(sd >= rung.activation_sd for sd in spec.activation_sd.values())


@pytest.mark.parametrize("preset", ["default", "xenium", "breast_programs", "xenium_breast"])
@pytest.mark.parametrize("level", DIFFICULTY_LEVELS)
def test_round_trip_and_applying_twice_change_nothing(preset: str, level: str, tmp_path: Path) -> None:
    if preset == "default":
        cfg = SimulationConfig(difficulty=level, n_cells=300)
    else:
        cfg = SimulationConfig.from_preset(preset, difficulty=level, n_cells=300)
    cfg.to_yaml(tmp_path / "c.yaml")
    assert SimulationConfig.from_yaml(tmp_path / "c.yaml") == cfg
    fields = cfg.model_dump()
    assert apply_difficulty(fields) == apply_difficulty(apply_difficulty(fields))


def test_cli_difficulty_over_preset_and_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from STpuppeteer.cli import main
    from STpuppeteer.cli._config import add_config_args, load_config

    parser = argparse.ArgumentParser()
    add_config_args(parser)
    assert parser.parse_args([]).difficulty is None
    assert set(parser._option_string_actions["--difficulty"].choices) == set(DIFFICULTY_LEVELS)
    cfg = load_config(parser.parse_args(["--preset", "xenium", "--difficulty", "medium", "--n-cells", "300"]))
    assert cfg == SimulationConfig.from_preset("xenium", difficulty="medium", n_cells=300)
    assert load_config(parser.parse_args(["--difficulty", "hard"])) == SimulationConfig(difficulty="hard")
    SimulationConfig.from_preset("xenium", n_cells=300).to_yaml(tmp_path / "x.yaml")
    cfg = load_config(parser.parse_args(["--config", str(tmp_path / "x.yaml"), "--difficulty", "hard", "--seed", "4"]))
    assert cfg == SimulationConfig.from_preset("xenium", difficulty="hard", n_cells=300, seed=4)
    assert main(["config", "--preset", "xenium", "--difficulty", "easy"]) == 0
    assert "difficulty: easy" in capsys.readouterr().out
