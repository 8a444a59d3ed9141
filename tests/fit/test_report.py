import json
import math

import pytest

from realism_fixtures import make_reference
from STpuppeteer.fit.compare import METHODS, compare_references
from STpuppeteer.fit.report import REPORT_FILES, write_realism_report
from STpuppeteer.plotting.realism import PANELS


def test_report_folder_holds_every_file_and_the_json_reads_back(rng, tmp_path):
    sim = make_reference(rng, source="sim run")
    real = make_reference(rng, source="real run")
    real.notes.append("qv read from the quality column")
    out = write_realism_report(sim, real, tmp_path / "report")
    assert out == tmp_path / "report"
    for name in REPORT_FILES:
        assert (out / name).is_file(), name
    assert sorted(p.stem for p in (out / "figures").iterdir()) == sorted(PANELS)
    report = json.loads((out / "distances.json").read_text())
    assert report["sim"]["source"] == "sim run" and report["real"]["source"] == "real run"
    assert report["real"]["reader_notes"] == ["qv read from the quality column"]
    table = compare_references(sim, real)
    assert [r["statistic"] for r in report["distances"]] == list(METHODS)
    for row, expected in zip(report["distances"], table.to_dict(orient="records"), strict=True):
        assert row["value"] == pytest.approx(expected["value"])
        assert row["n_sim"] == expected["n_sim"] and row["better"] == expected["better"]
    assert report["not_compared"] == {}
    md = (out / "distances.md").read_text()
    assert "`sim run`" in md and "`real run`" in md and "Every statistic was compared." in md
    assert md.count("\n| ") == len(METHODS) + 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert "figures/qv.png" in manifest["files"] and "distances.json" in manifest["files"]


def test_report_says_what_was_not_compared(rng, tmp_path):
    sim = make_reference(rng)
    real = make_reference(rng, molecules=False, source="counts only")
    out = write_realism_report(sim, real, tmp_path / "report")
    report = json.loads((out / "distances.json").read_text())
    assert set(report["not_compared"]) == {"nuclear_fraction", "qv", "control_rate"}
    assert all(r["value"] is None for r in report["distances"] if r["statistic"] in report["not_compared"])
    assert all(r["value"] is None or math.isfinite(r["value"]) for r in report["distances"])
    md = (out / "distances.md").read_text()
    assert "- **qv**: real lacks qv (no molecule table)" in md
    assert "qv.png" in {p.name for p in (out / "figures").iterdir()}  # the simulated side alone


def test_report_is_deterministic_and_an_existing_folder_needs_overwrite(rng, tmp_path):
    sim = make_reference(rng, n_cells=120, n_genes=30)
    real = make_reference(rng, n_cells=100, n_genes=30, molecules=False)
    out = write_realism_report(sim, real, tmp_path / "report")
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError, match="already exists"):
        write_realism_report(sim, real, out)
    (out / "distances.md").write_text("edited")
    write_realism_report(sim, real, out, overwrite=True)
    again = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert sorted(again) == sorted(first)
    for name, data in first.items():  # the same bytes, PNGs included
        assert again[name] == data, name
    (tmp_path / "other").mkdir()
    with pytest.raises(FileExistsError, match="not a folder STpuppeteer wrote"):
        write_realism_report(sim, real, tmp_path / "other", overwrite=True)
