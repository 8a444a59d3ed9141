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


def test_every_other_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert len(BLOCKS) > 1
    for i, block in enumerate(BLOCKS[1:], start=1):
        exec(compile(block, f"README block {i}", "exec"), {})  # noqa: S102 - our own README
    plt.close("all")
