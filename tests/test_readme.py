"""The README's Python quickstart runs as printed."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_runs(tmp_path, monkeypatch):
    block = re.search(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README quickstart", "exec"), namespace)  # noqa: S102 - our own README
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
