"""The command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from STpuppeteer.config import SimulationConfig


def stp(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "STpuppeteer", *args], capture_output=True, text=True, cwd=cwd, timeout=600,
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    proc = stp("simulate", "--preset", "xenium", "--n-cells", "250", "--seed", "3", "--out", str(out),
               "--format", "xenium,h5ad", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "median molecules per cell" in proc.stdout
    return out


def test_simulate_writes_formats_truth_and_manifest(run_dir):
    assert (run_dir / "xenium" / "experiment.xenium").is_file()
    assert (run_dir / "simulation.h5ad").is_file()
    assert (run_dir / "ground_truth" / "molecules.parquet").is_file()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seed"] == 3
    assert manifest["config"]["n_cells"] == 250
    assert "xenium/experiment.xenium" in manifest["files"]
    assert SimulationConfig.from_yaml(run_dir / "config.yaml").n_cells == 250
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(".")], "no temporary folders left"


def test_ground_truth_is_written_once_per_run(tmp_path):
    out = tmp_path / "run"
    proc = stp("simulate", "--n-cells", "60", "--out", str(out), "--format", "xenium,merscope,cosmx", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("molecules.parquet")) == [
        "ground_truth/molecules.parquet"
    ]
    # CosMx's cells are cut at field-of-view borders: its mapping to the true cells stays with it.
    assert (out / "cosmx" / "ground_truth" / "instrument_cells.parquet").is_file()
    assert not (out / "xenium" / "ground_truth").exists() and not (out / "merscope" / "ground_truth").exists()
    from STpuppeteer.io import read_ground_truth

    truth = read_ground_truth(out / "cosmx")
    assert len(truth["trs_df"]) == len(read_ground_truth(out)["trs_df"])
    assert truth["instrument_cells"] is not None
    assert len(read_ground_truth(out / "xenium")["trs_df"]) == len(truth["trs_df"])


def test_existing_output_is_refused(run_dir):
    before = sorted(p.name for p in run_dir.iterdir())
    proc = stp("simulate", "--n-cells", "50", "--out", str(run_dir), "--quiet")
    assert_one_line_error(proc, "already exists", "--overwrite")
    assert sorted(p.name for p in run_dir.iterdir()) == before


def test_plot_draws_overview_from_a_written_folder(run_dir, tmp_path):
    png = tmp_path / "overview.png"
    proc = stp("plot", str(run_dir), "--out", str(png))
    assert proc.returncode == 0, proc.stderr
    assert png.stat().st_size > 10_000
    assert (tmp_path / "qc.png").is_file()
    assert str(png.resolve()) in proc.stdout and str((tmp_path / "qc.png").resolve()) in proc.stdout


def test_plot_help_names_both_pictures():
    proc = stp("plot", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "_qc.png" in proc.stdout and "two PNGs" in proc.stdout, proc.stdout


def to_bytes(text: str) -> float:
    number, unit = text.split()
    return float(number) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


def test_progress_lines_off_a_terminal_and_times_and_sizes_in_the_summary(tmp_path):
    out = tmp_path / "run"
    proc = stp("simulate", "--n-cells", "100", "--out", str(out), "--format", "xenium,h5ad")
    assert proc.returncode == 0, proc.stderr
    # stderr is a pipe here, not a terminal: one line per finished stage, in order, then one per output
    # as each is finished (they are written side by side, so in any order)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("stpuppeteer: ")]
    stages = [re.fullmatch(r"stpuppeteer: (.+) done in \d+\.\d s", line) for line in lines[:4]]
    assert [m.group(1) for m in stages if m] == ["gene parameters", "cells", "counts", "transcripts"], proc.stderr
    wrote = [re.fullmatch(r"stpuppeteer: wrote (\w+) \((.+)\) in \d+\.\d s", line) for line in lines[4:]]
    assert sorted(m.group(1) for m in wrote if m) == ["ground_truth", "h5ad", "xenium"] and len(lines) == 7, proc.stderr
    assert "\r" not in proc.stderr, "no tqdm bar off a terminal"

    stdout = proc.stdout
    assert "time per stage:" in stdout and "size per format:" in stdout
    for stage in ("gene parameters", "cells", "counts", "transcripts", "write ground_truth", "write xenium",
                  "write h5ad"):
        assert re.search(rf"^    {stage} +\d+\.\d s$", stdout, flags=re.MULTILINE), stage
    on_disk = {name: sum(p.stat().st_size for p in (out / name).rglob("*") if p.is_file())
               for name in ("xenium", "ground_truth")} | {"h5ad": (out / "simulation.h5ad").stat().st_size}
    for fmt, size in on_disk.items():
        shown = re.search(rf"^    {fmt} +(\d+(?:\.\d)? k?M?G?B)$", stdout, flags=re.MULTILINE)
        assert shown, fmt
        assert to_bytes(shown.group(1)) == pytest.approx(size, rel=0.05), (fmt, shown.group(1), size)
        assert f"wrote {fmt} ({shown.group(1)})" in proc.stderr


def test_quiet_prints_no_progress(tmp_path):
    proc = stp("simulate", "--n-cells", "100", "--out", str(tmp_path / "run"), "--format", "h5ad", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "stpuppeteer:" not in proc.stderr and "\r" not in proc.stderr, proc.stderr
    assert "time per stage:" in proc.stdout


def test_config_prints_a_commented_config_that_reads_back(tmp_path):
    proc = stp("config", "--preset", "xenium")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n# ") > 10
    path = tmp_path / "c.yaml"
    path.write_text(proc.stdout)
    assert SimulationConfig.from_yaml(path) == SimulationConfig.from_preset("xenium")
    assert yaml.safe_load(proc.stdout)["seed"] == 0


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["simulate", "--preset", "xenium", "--n-cells", "0", "--out", "x"], ["n_cells", "greater than 0"]),
        (["simulate", "--seed", "-1", "--out", "x"], ["seed", "-1"]),
        (["simulate", "--out", "x", "--format", "xenium,tiff"], ["--format", "tiff", "cosmx"]),
        (["simulate", "--config", "nope.yaml", "--out", "x"], ["nope.yaml", "no such file"]),
        (["simulate", "--preset", "visium", "--out", "x"], ["visium"]),
        (["simulate", "--n-cells", "ten", "--out", "x"], ["--n-cells", "ten"]),
        (["plot", "missing_dir"], ["missing_dir"]),
        (["score", "--truth", "missing_dir", "--pred", "p.csv"], ["missing_dir"]),
        (["frobnicate"], ["frobnicate"]),
        (["simulate", "--out", "x", "--stream", "--format", "xenium,h5ad"], ["--stream", "xenium,h5ad"]),
        (["simulate", "--out", "x", "--stream", "--format", "xenium", "--plot"], ["--stream", "--plot"]),
        # refused before simulating: a format that cannot hold the run names itself and the fix
        (["simulate", "--n-cells", "1", "--out", "x", "--format", "xenium,cosmx"],
         ["--format cosmx", "n_cells=1", "--n-cells 3"]),
        (["simulate", "--n-cells", "200000", "--out", "x", "--format", "h5ad,xenium"],
         ["--format xenium", "pixels", "density_per_mm2", "--stream"]),
        (["simulate", "--n-cells", "500000", "--out", "x", "--format", "merscope"],
         ["--format merscope", "pixels", "images.merscope_pixel_size_um"]),  # mosaics of 0.432 µm pixels
        (["simulate", "--n-cells", "1000000000000000000", "--out", "x"], ["n_cells", "less than or equal to"]),
    ],
)
def test_bad_input_gives_one_clear_line(args, needles, tmp_path):
    proc = stp(*args, cwd=tmp_path)
    assert_one_line_error(proc, *needles)
    assert not (tmp_path / "x").exists()


def test_misspelled_config_key_is_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\nn_markerz: 3\n")
    proc = stp("simulate", "--config", str(path), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, "n_markerz", "Extra inputs are not permitted")
    assert not (tmp_path / "o").exists()


def test_score_reads_the_instruments_own_assignment(run_dir, tmp_path):
    import pandas as pd

    from STpuppeteer.io.cell_ids import decode_cell_ids

    tx = pd.read_parquet(run_dir / "xenium" / "transcripts.parquet", columns=["transcript_id", "cell_id"])
    truth = pd.read_parquet(run_dir / "ground_truth" / "molecules.parquet", columns=["transcript_id", "landed_cell_id"])
    pred = tmp_path / "pred.csv"
    instrument_cell = decode_cell_ids(tx["cell_id"].astype(str).to_numpy())
    tx.assign(cell=instrument_cell)[["transcript_id", "cell"]].to_csv(pred, index=False)
    out = tmp_path / "scores.json"
    proc = stp("score", "--truth", str(run_dir), "--pred", str(pred), "--cell-col", "cell", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(out.read_text())
    # the instrument assigns each molecule to the cell it landed in: the polygon oracle
    landed = truth.set_index("transcript_id")["landed_cell_id"]
    assert (landed.reindex(tx["transcript_id"]).to_numpy() == instrument_cell).all()
    assert 0.5 < scores["prediction"]["assignment"]["precision"] <= 1.0
    assert scores["prediction"]["assignment"] == scores["ceiling"]["assignment"]  # the instrument is the ceiling
    assert "accuracy" in proc.stdout


def test_score_labels_and_regions_beside_the_baselines(run_dir, tmp_path):
    import pandas as pd

    cells = pd.read_parquet(run_dir / "ground_truth" / "cells.parquet", columns=["cell_id", "celltype"])
    mols = pd.read_parquet(run_dir / "ground_truth" / "molecules.parquet",
                           columns=["transcript_id", "cell_id", "landed_cell_id", "celltype"])
    pred, labels, regions, out = (tmp_path / n for n in ("pred.csv", "labels.csv", "regions.csv", "s.json"))
    mols[["transcript_id", "cell_id"]].to_csv(pred, index=False)  # the source oracle: perfect
    cells.rename(columns={"celltype": "cluster"}).to_csv(labels, index=False)
    mols[["transcript_id", "celltype"]].rename(columns={"celltype": "domain"}).to_csv(regions, index=False)
    proc = stp("score", "--truth", str(run_dir), "--pred", str(pred), "--pred-labels", str(labels),
               "--pred-regions", str(regions), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split() == ["assignment", "prediction", "floor", "ceiling"]
    assert "floor: nucleus baseline; ceiling: oracle_polygons baseline" in proc.stdout
    doc = json.loads(out.read_text())
    assert doc["prediction"]["typing"]["ari"] == doc["prediction"]["regions"]["ari"] == 1.0
    assert doc["prediction"]["assignment"]["accuracy"] == 1.0
    assert doc["floor"]["assignment"]["accuracy"] < doc["ceiling"]["assignment"]["accuracy"] < 1.0


def test_score_help_defines_every_metric():
    from STpuppeteer.metrics.definitions import METRIC_DEFINITIONS

    proc = stp("score", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--pred-labels" in proc.stdout and "--pred-regions" in proc.stdout
    for metrics in METRIC_DEFINITIONS.values():
        for metric, text in metrics.items():
            assert re.search(rf"^ +{metric} +{re.escape(text)}$", proc.stdout, re.MULTILINE), metric


@pytest.mark.parametrize(
    ("flag", "table", "needles"),
    [
        ("--pred-labels", "cell_id,cluster\n999999,a\n", ["labels", "999999", "not in the prediction"]),
        ("--pred-labels", "cell_id,kind\n1,a\n", ["labels", "label columns", "kind"]),
        ("--pred-regions", "transcript_id,region\n-5,a\n", ["regions", "-5", "not in the prediction"]),
        ("--pred-regions", "transcript_id,zone\n1,a\n", ["regions", "label columns", "zone"]),
    ],
)
def test_score_bad_label_tables_are_one_line(run_dir, tmp_path, flag, table, needles):
    path = tmp_path / "t.csv"
    path.write_text(table)
    assert_one_line_error(stp("score", "--truth", str(run_dir), flag, str(path)), *needles)


def test_demo_writes_bundle_h5ad_and_pictures(tmp_path):
    out = tmp_path / "demo"
    proc = stp("demo", "--out", str(out), "--n-cells", "200", "--quiet")
    assert proc.returncode == 0, proc.stderr
    for name in ("xenium/transcripts.parquet", "simulation.h5ad", "overview.png", "qc.png", "localisation.png",
                 "manifest.json"):
        assert (out / name).is_file(), name
    assert "spatialdata_io.xenium" in proc.stdout
    assert "time per stage:" in proc.stdout and "size per format:" in proc.stdout
    again = stp("demo", "--out", str(out), "--n-cells", "200", "--quiet")
    assert_one_line_error(again, "already exists")


def test_stream_writes_the_same_molecules_as_simulate(run_dir, tmp_path):
    import pandas as pd

    out = tmp_path / "streamed"
    proc = stp("simulate", "--preset", "xenium", "--n-cells", "250", "--seed", "3", "--out", str(out),
               "--format", "xenium", "--stream")
    assert proc.returncode == 0, proc.stderr
    assert "streamed seed 3" in proc.stdout
    assert re.search(r"in \d+\.\d s → .* \(\d+(\.\d)? k?M?B\)", proc.stdout), proc.stdout
    # Control codewords are numbered within the panel, which the streamed writer fills with every
    # control of non-zero rate (see docs/scale.md); all else is the same, row for row.
    streamed = pd.read_parquet(out / "transcripts.parquet").drop(columns="codeword_index")
    in_memory = pd.read_parquet(run_dir / "xenium" / "transcripts.parquet").drop(columns="codeword_index")
    pd.testing.assert_frame_equal(streamed, in_memory)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "ground_truth" / "molecules.parquet"),
                                  pd.read_parquet(run_dir / "ground_truth" / "molecules.parquet"))


def test_out_as_the_current_folder_is_refused_and_nothing_is_deleted(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    (box / "notes.txt").write_text("mine")
    for out in (".", ".."):
        proc = stp("simulate", "--n-cells", "20", "--out", out, "--overwrite", "--quiet", cwd=box)
        assert_one_line_error(proc, "current folder or one of its ancestors")
    assert (box / "notes.txt").read_text() == "mine"


def test_overwrite_refuses_a_folder_stpuppeteer_did_not_write(tmp_path):
    other = tmp_path / "data"
    other.mkdir()
    (other / "raw.csv").write_text("1,2\n")
    proc = stp("simulate", "--n-cells", "20", "--out", str(other), "--overwrite", "--quiet")
    assert_one_line_error(proc, "not a folder STpuppeteer wrote")
    assert (other / "raw.csv").is_file()


def _wait_for_temporary(parent: Path, proc: subprocess.Popen, timeout: float = 120.0) -> Path:
    import time

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        found = [p for p in parent.iterdir() if p.name.startswith(".run.tmp-")]
        if found and any(found[0].iterdir()):
            return found[0]
        assert proc.poll() is None, "the run ended before it was interrupted"
        time.sleep(0.05)
    raise AssertionError("no temporary folder appeared")


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGKILL"])
def test_a_run_killed_while_writing_leaves_no_output_and_the_rerun_cleans_up(tmp_path, signal_name):
    import signal

    args = [sys.executable, "-m", "STpuppeteer", "simulate", "--n-cells", "4000", "--out", str(tmp_path / "run"),
            "--format", "xenium,merscope,cosmx,h5ad", "--quiet"]
    # SIGINT at its default in the child: a shell starting the suite in the background (`cmd &`)
    # makes it ignored, and Python then never raises KeyboardInterrupt (the run just completes).
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for_temporary(tmp_path, proc)
    proc.send_signal(getattr(signal, signal_name))
    _, stderr = proc.communicate(timeout=120)
    assert not (tmp_path / "run").exists()
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".run.")]
    if signal_name == "SIGINT":
        assert proc.returncode == 130 and "Traceback" not in stderr, stderr
        assert "interrupted" in stderr and left == []
    else:
        assert proc.returncode == -signal.SIGKILL and len(left) == 1  # nothing can clean up after SIGKILL
        proc = stp("clean", str(tmp_path))
        assert proc.returncode == 0 and "1 stale temporary" in proc.stdout, proc.stdout + proc.stderr
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".run.")] == []


@pytest.mark.parametrize(("address", "needle"), [("not an address", "is not an address"),
                                                 ("tcp://127.0.0.1:9", "no Dask scheduler answered")])
def test_a_bad_or_unreachable_scheduler_is_one_line_naming_the_flag(tmp_path, address, needle):
    proc = stp("simulate", "--n-cells", "20", "--out", str(tmp_path / "o"), "--scheduler", address, "--quiet")
    assert_one_line_error(proc, "--scheduler", needle)
    assert not (tmp_path / "o").exists()


def test_an_over_long_output_name_is_one_line(tmp_path):
    proc = stp("simulate", "--n-cells", "20", "--out", str(tmp_path / ("x" * 300)), "--quiet")
    assert_one_line_error(proc, "File name too long")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content", [bytes(range(256)) * 8, "n_cells: 100\nceltype_names: [Zelltyp ä]\n".encode("latin-1")],
    ids=["binary", "latin-1"],
)
def test_a_binary_or_latin1_config_is_one_line_naming_the_file(tmp_path, content):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    proc = stp("simulate", "--config", str(path), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, str(path), "not a UTF-8 text file")


def test_a_run_larger_than_memory_is_one_line_before_any_stage(tmp_path):
    # 10⁷ cells × 30,000 genes: a 1.2 TB count matrix on any machine
    path = tmp_path / "huge.yaml"
    path.write_text("n_cells: 10000000\nn_genes: 30000\nn_markers: 1\nn_silence: 29000\nsilence_mu: 0.000001\n"
                    "hk_mu: 0.001\n")
    proc = stp("simulate", "--config", str(path), "--out", str(tmp_path / "o"), "--format", "h5ad")
    assert_one_line_error(proc, "GB in memory", "lower n_cells", "--stream")


def test_xenium_with_non_ascii_gene_names_is_one_line_naming_the_format(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("n_cells: 20\nprograms: [{name: p, loading: {Génè: 3, B: 2}}]\n"
                    "cell_type_specs: {T: {program_activations: {p: 1.0}}}\n", encoding="utf-8")
    proc = stp("simulate", "--config", str(path), "--out", str(tmp_path / "o"), "--format", "xenium")
    assert_one_line_error(proc, "--format xenium", "Génè", "not ASCII")
    assert not (tmp_path / "o").exists()
