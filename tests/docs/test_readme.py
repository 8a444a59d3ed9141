"""The README's Python blocks run as printed."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_quickstart_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(BLOCKS[0], "README quickstart", "exec"), namespace)  # noqa: S102 - our own README
    result = namespace["result"]
    assert namespace["adata"].n_obs == result.config.n_cells == 1_000
    assert (tmp_path / "sim_xenium" / "transcripts.parquet").is_file()


def test_program_example_runs():
    section = README.read_text().split("## Gene programs and named cell types", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)
    namespace: dict = {}
    exec(compile(block, "README program example", "exec"), namespace)  # noqa: S102 - our own README
    result = namespace["result"]
    assert set(result.cell_gdf["celltype"]) == {"Ductal/tumor epithelial", "Fibroblast / CAF"}
    assert result.count_array.shape == (1_000, 6)


def test_every_other_block_runs(tmp_path, monkeypatch):
    """The blocks not checked above (the program example is) run as printed."""
    monkeypatch.chdir(tmp_path)
    program_section = README.read_text().split("## Gene programs and named cell types", 1)[1]
    others = [block for block in BLOCKS[1:] if block not in program_section]
    assert others
    for i, block in enumerate(others, start=1):
        exec(compile(block, f"README block {i}", "exec"), {})  # noqa: S102 - our own README
    plt.close("all")
