"""Outputs appear whole or not at all, never replace what STpuppeteer did not write, and clean up after
killed writers."""

import os
import subprocess
import sys

import pytest

from STpuppeteer.io.atomic import atomic_output_dir, atomic_output_file, remove_stale_temporaries


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_folder_leaves_nothing(tmp_path, error):
    out = tmp_path / "bundle"
    with pytest.raises(error), atomic_output_dir(out) as tmp:
        (tmp / "half.txt").write_text("half")
        raise error
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_output(tmp_path):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    with pytest.raises(RuntimeError), atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    assert [p.name for p in out.iterdir()] == ["manifest.json"]


def test_overwrite_replaces_when_complete(tmp_path):
    out = tmp_path / "x.h5ad"
    out.write_text("old")
    with pytest.raises(FileExistsError, match="overwrite=True"), atomic_output_file(out):
        pass
    with atomic_output_file(out, overwrite=True) as tmp:
        assert tmp.suffix == ".h5ad" and tmp != out
        tmp.write_text("new")
        assert out.read_text() == "old"
    assert out.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["x.h5ad"]


def test_missing_parent_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"), atomic_output_dir(tmp_path / "no" / "out"):
        pass


@pytest.mark.parametrize("target", ["cwd", "ancestor", "home", "root"])
def test_current_folder_its_ancestors_home_and_root_are_never_targets(tmp_path, monkeypatch, target):
    work = tmp_path / "box" / "inner"
    work.mkdir(parents=True)
    (work / "precious.txt").write_text("keep")
    (work / "manifest.json").write_text("{}")  # even a folder STpuppeteer wrote
    monkeypatch.chdir(work)
    home = tmp_path / "home"  # a home that is safe to lose if this test fails
    home.mkdir()
    (home / "manifest.json").write_text("{}")
    monkeypatch.setenv("HOME", str(home))
    path = {"cwd": ".", "ancestor": "..", "home": str(home), "root": "/"}[target]
    with pytest.raises(FileExistsError, match="cannot write to"), atomic_output_dir(path, overwrite=True):
        pass
    assert (work / "precious.txt").read_text() == "keep"
    assert (home / "manifest.json").is_file()


def test_overwrite_replaces_only_a_folder_stpuppeteer_wrote(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="not a folder STpuppeteer wrote"), atomic_output_dir(out, overwrite=True):
        pass
    assert (out / "thesis.tex").is_file()


def _killed_writer_temporary(parent, name):
    """A temporary left by a writer that was killed outright (its pid no longer exists)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_pid = int(proc.stdout)
    with atomic_output_dir(parent / "probe") as tmp:
        live_name = tmp.name
    # Same host tag and layout as a real temporary, but the pid of a finished process.
    parts = live_name.split("-")
    stale = parent / f".{name}.tmp-{dead_pid}-{parts[-2]}-{parts[-1]}"
    stale.mkdir()
    (stale / "half.parquet").write_bytes(b"x" * 100)
    return stale


def test_next_write_removes_the_temporaries_of_killed_writers(tmp_path):
    stale = _killed_writer_temporary(tmp_path, "bundle")
    live = tmp_path / f".bundle.tmp-{os.getpid()}-{stale.name.split('-')[-2]}-0000abcd"
    live.mkdir()  # this process is alive: its temporary is kept
    with atomic_output_dir(tmp_path / "bundle") as tmp:
        (tmp / "manifest.json").write_text("{}")
    assert not stale.exists()
    assert live.exists()


def test_remove_stale_temporaries_leaves_other_outputs(tmp_path):
    stale = _killed_writer_temporary(tmp_path, "run1")
    (tmp_path / "run2").mkdir()
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe", "run2"]
