"""The files a run writes are the same, file for file, as the recorded digests.

The digests in ``data/output_digests.json`` were computed before the package was
reorganised into layers (issue 14); a refactor that changes any byte of any output fails
here. A deliberate change of output regenerates them with
``python tests/pipeline/test_output_identity.py --update`` and says why in its commit.

The recorded digests were taken when reruns still differed in bytes (a time stamp in
``manifest.json``, member times in ``.zip`` files, a Parquet dictionary that depended on
Python's hash seed), so they digest those files by content. Reruns are now byte-identical,
which the CLI test here checks file by file across processes and hash seeds.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

DIGESTS = Path(__file__).parent / "data" / "output_digests.json"
_VOLATILE_MANIFEST_KEYS = ("created", "python", "stpuppeteer_version")


def _parquet_digest(path: Path) -> str:
    table = pq.read_table(path)
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, column.type.value_type)
        columns.append((name, column))
    plain = pa.table(dict(columns))
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, plain.schema) as writer:
        writer.write_table(plain)
    return hashlib.sha256(sink.getvalue()).hexdigest()


def _zip_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode())
            digest.update(hashlib.sha256(archive.read(name)).digest())
    return digest.hexdigest()


def _manifest_digest(path: Path) -> str:
    manifest = json.loads(path.read_text())
    for key in _VOLATILE_MANIFEST_KEYS:
        manifest.pop(key, None)
    # The files are digested one by one; their checksums and sizes here follow the bytes.
    manifest["files"] = sorted(manifest.get("files", {}))
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def content_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, or of its content where reruns differ in bytes only."""
    if path.name == "manifest.json":
        return _manifest_digest(path)
    if path.suffix == ".parquet":
        return _parquet_digest(path)
    if path.suffix == ".zip":
        return _zip_digest(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_all_outputs(out: Path) -> dict[str, str]:
    """Simulate two small configs into every format (and the streamed Xenium writer); digest every file."""
    from STpuppeteer import SimulationConfig, simulate
    from STpuppeteer.pipeline.streamed import simulate_to_xenium

    configs = {
        "leaky": SimulationConfig(seed=11, n_cells=150, leakage_by_gene=0.1, leakage_by_celltype={"ct_1": 0.2}),
        "xenium_preset": SimulationConfig.from_preset("xenium", seed=5, n_cells=150),
    }
    for name, config in configs.items():
        folder = out / name
        folder.mkdir(parents=True)
        result = simulate(config)
        result.write_xenium(folder / "xenium")
        result.write_merscope(folder / "merscope")
        result.write_cosmx(folder / "cosmx")
        result.write_h5ad(folder / "simulation.h5ad")
        result.write_spatialdata(folder / "simulation.zarr")
        simulate_to_xenium(config, folder / "streamed", images=True)
    return {p.relative_to(out).as_posix(): content_digest(p) for p in sorted(out.rglob("*")) if p.is_file()}


def _cli_run(out: Path, hash_seed: str, *extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run(
        [sys.executable, "-m", "STpuppeteer", "simulate", "--preset", "xenium", "--n-cells", "60", "--seed", "4",
         "--out", str(out), "--quiet", *extra],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["all_formats", "streamed"])
def test_reruns_are_byte_identical_across_processes_and_hash_seeds(tmp_path, mode):
    extra = ["--format", "xenium", "--stream"] if mode == "streamed" else [
        "--format", "xenium,merscope,cosmx,spatialdata,h5ad"]
    first = _cli_run(tmp_path / "a", "1", *extra)
    second = _cli_run(tmp_path / "b", "2", *extra)
    assert len(first) > 10
    assert first == second, sorted(k for k in first if first[k] != second.get(k))


@pytest.mark.slow
def test_outputs_equal_the_recorded_digests(tmp_path):
    expected = json.loads(DIGESTS.read_text())
    got = write_all_outputs(tmp_path)
    assert sorted(got) == sorted(expected), "the set of files written changed"
    changed = sorted(name for name in expected if got[name] != expected[name])
    assert not changed, f"{len(changed)} files changed: {changed[:10]}"


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/pipeline/test_output_identity.py --update")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        digests = write_all_outputs(Path(tmp))
    DIGESTS.parent.mkdir(exist_ok=True)
    DIGESTS.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(digests)} digests to {DIGESTS}")
