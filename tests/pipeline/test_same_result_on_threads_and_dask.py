"""Dask execution: same molecules on any number of workers and any grouping of blocks into tasks."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from STpuppeteer import SimulationConfig, SpotlessSimulator
from STpuppeteer._parallel import dask_client, map_blocks, require_distributed
from STpuppeteer._random import stage_rng
from STpuppeteer.cli import build_parser, main
from STpuppeteer.stages.counts import CountModel, generate_counts
from STpuppeteer.stages.transcripts import generate_transcripts

distributed = pytest.importorskip("dask.distributed")

# Every instrument effect on, so that every draw of a block (and the background tiles) is exercised.
# Every localisation pattern and the nuclear enrichment on: their draws come from their own keyed stream.
LOCALISATION = {"nuclear_density_ratio": 1.2, "strength": 0.6,
                "pattern_mix": {"nuclear": 0.1, "cytoplasmic": 0.1, "perinuclear": 0.1, "cell_edge": 0.1,
                                "distal": 0.1, "foci": 0.1}}
CONFIG = SimulationConfig(
    seed=11,
    n_cells=700,
    leakage_by_gene=0.2,
    instrument={
        "jitter_um": 0.4,
        "ambient_rate_per_um2": 0.01,
        "neg_control_probe_rate_per_um2": 0.002,
        "detection_efficiency": 0.9,
        "fov_efficiency_sd": 0.1,
        "miscall_rate": 0.02,
        # The optics (merging decided per source cell) and the qv mixture draw keyed streams of their own.
        "jitter_z_um": 0.8,
        "min_distance_um": 1.0,
        "min_distance_z_um": 2.0,
        "qv_cap_fraction": 0.8,
        "qv_background_cap_fraction": 0.2,
        "qv_density_scale_per_um2": 1.0,
    },
    transcripts={"block_size": 64, "n_threads": 1, "localisation": LOCALISATION},
)


def _hash(trs_df: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(trs_df, index=False).sum())


@pytest.fixture(scope="module")
def reference() -> SpotlessSimulator:
    sim = SpotlessSimulator(CONFIG)
    sim.run()
    return sim


@pytest.fixture(scope="module", params=[1, 2], ids=["1worker", "2workers"])
def client(request: pytest.FixtureRequest):
    # In-process workers keep the test fast; the tasks still go through the scheduler and
    # the scattered geometry, which is what could reorder or re-key blocks.
    with (
        distributed.LocalCluster(
            n_workers=request.param, threads_per_worker=1, processes=False, dashboard_address=":0",
            protocol="tcp", host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.mark.parametrize("blocks_per_task", [1, 3])
def test_workers_and_task_sizes_give_identical_molecules(reference, client, blocks_per_task):
    sim = reference
    counts = generate_counts(
        sim.gpar_df, sim.cell_gdf, stage_rng(CONFIG.seed, "counts"), config=CONFIG,
        client=client, blocks_per_task=blocks_per_task,
    )
    np.testing.assert_array_equal(counts, sim.count_array)
    expected = CountModel.build(sim.gpar_df, sim.cell_gdf, config=CONFIG).expected_gene_totals()
    trs = generate_transcripts(
        counts, sim.cell_gdf, sim.gpar_df, stage_rng(CONFIG.seed, "transcripts"), config=CONFIG,
        client=client, blocks_per_task=blocks_per_task, ambient_totals=expected,
    )
    assert len(client.scheduler_info()["workers"]) in (1, 2)
    assert len(trs) > 10 * CONFIG.n_cells
    assert _hash(trs) == _hash(sim.trs_df)
    pd.testing.assert_frame_equal(trs, sim.trs_df)


def test_run_with_client_equals_run_without(reference, client):
    result = SpotlessSimulator(CONFIG).run(client=client)
    np.testing.assert_array_equal(result.count_array, reference.count_array)
    assert _hash(result.trs_df) == _hash(reference.trs_df)


def _square(shared: int, item: int) -> int:
    return shared + item * item


@pytest.mark.parametrize(("blocks_per_task", "in_flight"), [(1, None), (2, 1), (4, 2)])
def test_map_blocks_yields_in_block_order(client, blocks_per_task, in_flight):
    out = list(map_blocks(_square, list(range(9)), shared=100, client=client,
                          blocks_per_task=blocks_per_task, max_tasks_in_flight=in_flight))
    assert out == [100 + i * i for i in range(9)]


def test_map_blocks_refuses_bad_sizes(client):
    with pytest.raises(ValueError, match="blocks_per_task=0"):
        list(map_blocks(_square, [1], shared=0, client=client, blocks_per_task=0))
    with pytest.raises(ValueError, match="max_tasks_in_flight=0"):
        list(map_blocks(_square, [1], shared=0, client=client, max_tasks_in_flight=0))


def test_dask_client_needs_one_of_workers_or_scheduler():
    with pytest.raises(ValueError, match="pass one of them"), dask_client(workers=2, scheduler="tcp://x:1"):
        pass
    with dask_client() as none:
        assert none is None


def test_missing_distributed_is_explained(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install \"dask\[distributed\]\""):
        require_distributed()


def test_two_worker_processes_give_identical_molecules(reference):
    # Real processes: the shared geometry and the keyed generators go through pickling.
    with dask_client(workers=2) as c:
        result = SpotlessSimulator(CONFIG).run(client=c)
    assert _hash(result.trs_df) == _hash(reference.trs_df)


def test_cli_simulate_on_a_scheduler(reference, client, tmp_path, capsys):
    out = tmp_path / "run"
    config = tmp_path / "config.yaml"
    CONFIG.to_yaml(config)
    code = main(["simulate", "--config", str(config), "--out", str(out), "--format", "h5ad", "--quiet",
                 "--scheduler", client.scheduler.address])
    assert code == 0, capsys.readouterr().err
    molecules = pd.read_parquet(out / "ground_truth" / "molecules.parquet")
    pd.testing.assert_frame_equal(molecules, reference.trs_df.reset_index(drop=True))


def test_cli_streams_on_a_scheduler_with_worker_files(reference, client, tmp_path, capsys):
    config = tmp_path / "config.yaml"
    CONFIG.to_yaml(config)
    args = ["simulate", "--config", str(config), "--format", "xenium", "--stream", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "alone")]) == 0, capsys.readouterr().err
    code = main([*args, "--out", str(tmp_path / "dask"), "--scheduler", client.scheduler.address, "--worker-files"])
    assert code == 0, capsys.readouterr().err
    for name in ("transcripts.parquet", "ground_truth/molecules.parquet"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes()


@pytest.mark.parametrize("extra", [[], ["--stream"]])
def test_cli_worker_files_needs_a_streamed_dask_run(extra, tmp_path, capsys):
    code = main(["simulate", "--n-cells", "50", "--format", "xenium", "--out", str(tmp_path / "o"), "--worker-files",
                 *extra])
    assert code != 0
    assert "--worker-files has the Dask workers of a streamed run write" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_workers_and_scheduler_exclude_each_other(capsys):
    parser = build_parser()
    assert parser.parse_args(["simulate", "--out", "x", "--workers", "3"]).workers == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "--out", "x", "--workers", "2", "--scheduler", "tcp://h:1"])
    assert "not allowed with argument" in capsys.readouterr().err
