"""Config files are read by the YAML 1.2 core schema: no octal surprise, no silent duplicate, one-line errors."""

from __future__ import annotations

import pytest
import yaml

from STpuppeteer.config import SimulationConfig
from STpuppeteer.config._yaml import dump_yaml, load_yaml


def _read(tmp_path, text: str | bytes) -> SimulationConfig:
    path = tmp_path / "config.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return SimulationConfig.from_yaml(path)


def test_leading_zero_integers_are_decimal_not_octal(tmp_path):
    assert _read(tmp_path, "n_cells: 060\n").n_cells == 60  # YAML 1.1 read 48


def test_exponent_without_a_dot_is_a_number(tmp_path):
    assert _read(tmp_path, "n_cells: 1e2\nexpression_scale: 2e0\n").n_cells == 100  # YAML 1.1: the text '1e2'


def test_duplicate_keys_are_refused_naming_the_key_and_lines(tmp_path):
    with pytest.raises(ValueError, match=r"config.yaml: .*'n_cells' is given twice \(lines 1 and 3\)") as err:
        _read(tmp_path, "n_cells: 100\nseed: 1\nn_cells: 200\n")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="'density_per_mm2' is given twice"):
        _read(tmp_path, "tissue:\n  density_per_mm2: 100\n  density_per_mm2: 200\n")


def test_yes_no_on_off_are_text_and_text_is_not_a_boolean(tmp_path):
    assert load_yaml("a: yes\nb: off\nc: true\nd: False") == {"a": "yes", "b": "off", "c": True, "d": False}
    with pytest.raises(ValueError, match=r"shared_theta"):
        _read(tmp_path, "shared_theta: yes\n")


def test_true_is_not_a_number_in_a_file(tmp_path):
    with pytest.raises(ValueError, match=r"n_cells[\s\S]*boolean, not a number"):
        _read(tmp_path, "n_cells: true\n")


def test_core_schema_numbers_and_nulls():
    assert load_yaml("a: 0o17\nb: 0x1F\nc: +5\nd: -.inf\ne: ~\nf:\ng: 1:30\nh: 2024-01-31\ni: 10_000") == {
        "a": 15, "b": 31, "c": 5, "d": float("-inf"), "e": None, "f": None, "g": "1:30", "h": "2024-01-31",
        "i": "10_000",
    }


def test_written_yaml_reads_back_the_same_with_both_yaml_versions(tmp_path):
    # strings that one YAML version or the other would read as something else are quoted
    names = ["1e3", "yes", "060", "0o7", "null", "1:30", "T cell", "2024-01-31"]
    cfg = SimulationConfig(celltype_names=names, n_cells=200, n_markers=5)
    path = tmp_path / "c.yaml"
    cfg.to_yaml(path)
    assert SimulationConfig.from_yaml(path) == cfg
    assert SimulationConfig.from_dict(yaml.safe_load(path.read_text())) == cfg
    data = {"a": names, "b": 1.5, "c": None, "d": True}
    assert load_yaml(dump_yaml(data)) == yaml.safe_load(dump_yaml(data)) == data


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (bytes(range(256)) * 4, "not a UTF-8 text file"),  # a binary file
        ("n_cells: 100\ncelltype_names: [Zelltyp ä, b, c]\n".encode("latin-1"), "not a UTF-8 text file"),
        (b"n_cells: [1, 2\n", "not valid YAML"),
    ],
    ids=["binary", "latin-1", "broken"],
)
def test_an_unreadable_config_is_one_line_naming_the_file(tmp_path, content, needle):
    with pytest.raises(ValueError, match=needle) as err:
        _read(tmp_path, content)
    text = str(err.value)
    assert str(tmp_path / "config.yaml") in text
    assert "\n" not in text
