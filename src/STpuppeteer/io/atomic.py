"""Atomic output: write into a temporary sibling, rename into place only when complete.

A failed or interrupted writer leaves nothing at the target path; an existing target is
refused unless ``overwrite=True``, and even then it is replaced only once the new output
is complete.
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["atomic_output_dir", "atomic_output_file", "check_target"]


def check_target(path: str | Path, *, overwrite: bool) -> Path:
    """Refuse an existing ``path`` unless ``overwrite``; check its parent exists.

    Parameters
    ----------
    path
        The output path.
    overwrite
        Whether an existing output may be replaced.

    Returns
    -------
    The path, as an absolute :class:`~pathlib.Path`.
    """
    path = Path(path).expanduser().absolute()
    if path.exists() and not overwrite:
        msg = f"{path} already exists; pass overwrite=True (CLI: --overwrite) to replace it."
        raise FileExistsError(msg)
    if not path.parent.is_dir():
        msg = f"cannot write {path}: its parent folder {path.parent} does not exist."
        raise FileNotFoundError(msg)
    return path


def _tmp_sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def _commit(tmp: Path, path: Path) -> None:
    if path.exists() or path.is_symlink():
        trash = _tmp_sibling(path, "old")
        os.replace(path, trash)
        os.replace(tmp, path)
        _remove(trash)
    else:
        os.replace(tmp, path)


@contextmanager
def _committed(tmp: Path, path: Path) -> Iterator[None]:
    """Move ``tmp`` to ``path`` if the block finishes; remove ``tmp`` if it does not."""
    try:
        yield
        _commit(tmp, path)
    except BaseException:
        # BaseException: a KeyboardInterrupt must not leave a half-written output either.
        _remove(tmp)
        raise


@contextmanager
def atomic_output_dir(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Context manager yielding a temporary folder that becomes ``path`` on success.

    Parameters
    ----------
    path
        The final folder.
    overwrite
        Replace an existing ``path`` (only after the new one is complete).

    Yields
    ------
    The temporary folder to write into (a hidden sibling of ``path``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "bundle"
    >>> with atomic_output_dir(out) as tmp:
    ...     _ = (tmp / "a.txt").write_text("hi")
    >>> sorted(p.name for p in out.iterdir())
    ['a.txt']
    """
    path = check_target(path, overwrite=overwrite)
    tmp = _tmp_sibling(path, "tmp")
    tmp.mkdir()
    with _committed(tmp, path):
        yield tmp


@contextmanager
def atomic_output_file(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Context manager yielding a temporary file path that becomes ``path`` on success.

    Parameters
    ----------
    path
        The final file.
    overwrite
        Replace an existing ``path`` (only after the new one is complete).

    Yields
    ------
    The temporary path to write (a hidden sibling of ``path`` with the same suffix).
    """
    path = check_target(path, overwrite=overwrite)
    tmp = _tmp_sibling(path, "tmp").with_suffix(path.suffix)
    with _committed(tmp, path):
        yield tmp
