"""The CLI's writers side by side: the same bytes as one after another, nothing left behind on a failure."""

from __future__ import annotations

import hashlib
import threading

import pytest

from STpuppeteer.cli._writing import WRITE_ORDER, writer_peak_bytes, writer_threads
from STpuppeteer.cli.simulate import FORMATS, write_outputs
from STpuppeteer.config import preset_config

# ome_zarr.writer (imported by spatialdata's writer) instantiates its own deprecated Scaler at
# import time; nothing we call uses it.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated class Scaler:DeprecationWarning")


@pytest.fixture(scope="module")
def result():
    from STpuppeteer import simulate

    return simulate(preset_config("xenium", seed=3, n_cells=60))


def _digests(folder) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_side_by_side_writes_the_same_bytes_as_one_after_another(result, tmp_path):
    alone = write_outputs(result, tmp_path / "alone", list(FORMATS), progress=False, threads=1)
    together = write_outputs(result, tmp_path / "together", list(FORMATS), progress=False, threads=4)
    assert alone[0] == together[0]  # the same files listed, in the same order
    assert list(together[1]) == list(together[2]) == ["ground_truth", *FORMATS]
    first, second = _digests(tmp_path / "alone"), _digests(tmp_path / "together")
    assert len(first) > 50
    assert first == second, sorted(k for k in first if first[k] != second.get(k))


def test_a_failing_writer_leaves_nothing_and_no_writer_running(result, tmp_path, monkeypatch):
    from STpuppeteer.result import SimulationResult

    def broken(self, path, **kwargs):
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(SimulationResult, "write_merscope", broken)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(result, tmp_path / "run", list(FORMATS), progress=False, threads=3)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary one
    assert not [t for t in threading.enumerate() if t.name.startswith("stpuppeteer-write")]


def test_threads_are_the_cores_while_the_largest_writers_fit_in_memory(monkeypatch):
    config = preset_config("xenium", n_cells=3000)
    names = list(WRITE_ORDER)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    peaks = sorted((writer_peak_bytes(config, n) for n in names), reverse=True)
    assert peaks[0] > 0 and peaks[-1] == 0  # the truth and the h5ad draw no image
    assert writer_threads(config, names, available_bytes=1e12) == 4
    assert writer_threads(config, names, available_bytes=sum(peaks[:3]) + 1) == 3
    assert writer_threads(config, names, available_bytes=sum(peaks[:2]) - 1) == 1
    assert writer_threads(config, ["h5ad"], available_bytes=1e12) == 1
