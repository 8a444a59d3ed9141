import pytest

from STpuppeteer.io.atomic import atomic_output_dir, atomic_output_file


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
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    assert [p.name for p in out.iterdir()] == ["old.txt"]


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
