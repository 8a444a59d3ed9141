"""Atomic output: write into a temporary sibling, rename into place only when complete.

A failed or interrupted writer leaves nothing at the target path; an existing target is
refused unless ``overwrite=True``, and even then it is replaced only once the new output
is complete, and only if it is a folder STpuppeteer wrote (it holds a ``manifest.json``).
The current folder, its ancestors, the home folder and a filesystem root are never
targets. A temporary sibling's name records the writing process (its pid and a tag of the
host), so a writer killed outright (SIGKILL) leaves a folder that the next write to the
same target, or ``stpuppeteer clean``, recognises as stale and removes.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "atomic_output_dir",
    "atomic_output_file",
    "check_folder_target",
    "check_target",
    "remove_stale_temporaries",
]

_MANIFEST = "manifest.json"
_HOST_TAG = f"{zlib.crc32(socket.gethostname().encode()):08x}"
# .{name}.{tmp|old}-{pid}-{host tag}-{random}{suffix}
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[0-9a-f]{8}(?:\.[^.]*)?$")


def _protected(path: Path) -> str | None:
    """Why ``path`` must never be replaced or removed, or ``None``."""
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == resolved.parent:
        return "it is a filesystem root"
    if resolved == Path.home().resolve():
        return "it is the home folder"
    if resolved == cwd or resolved in cwd.parents:
        return "it is the current folder or one of its ancestors"
    return None


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
    reason = _protected(path)
    if reason is not None:
        msg = f"cannot write to {path}: {reason}; choose a new folder (e.g. {path / 'run'})."
        raise FileExistsError(msg)
    if path.exists() and not overwrite:
        msg = f"{path} already exists; pass overwrite=True (CLI: --overwrite) to replace it."
        raise FileExistsError(msg)
    if not path.parent.is_dir():
        msg = f"cannot write {path}: its parent folder {path.parent} does not exist."
        raise FileNotFoundError(msg)
    return path


def check_folder_target(path: str | Path, *, overwrite: bool) -> Path:
    """:func:`check_target` for a folder: an existing one is replaced only if STpuppeteer wrote it.

    Parameters
    ----------
    path
        The output folder.
    overwrite
        Whether an existing output may be replaced.

    Returns
    -------
    The path, as an absolute :class:`~pathlib.Path`.
    """
    path = check_target(path, overwrite=overwrite)
    if path.exists() and not (path.is_dir() and (path / _MANIFEST).is_file()):
        msg = (f"{path} exists but is not a folder STpuppeteer wrote (it holds no {_MANIFEST}); "
               "it is not replaced even with overwrite: remove it yourself or choose another folder.")
        raise FileExistsError(msg)
    return path


def _tmp_sibling(path: Path, tag: str, *, suffix: str = "") -> Path:
    return path.with_name(f".{path.name}.{tag}-{os.getpid()}-{_HOST_TAG}-{uuid.uuid4().hex[:8]}{suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(folder: str | Path, *, name: str | None = None) -> list[Path]:
    """Remove the temporary siblings in ``folder`` that a dead writer of this host left.

    Parameters
    ----------
    folder
        The folder holding the outputs (the parent of a target).
    name
        Only the temporaries of the target of this name (default: of every target).

    Returns
    -------
    The removed paths. A temporary of a live process, or of another host, is left alone.
    """
    removed = []
    for entry in sorted(Path(folder).iterdir()):
        match = _TEMPORARY.match(entry.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        if match["host"] == _HOST_TAG and not _alive(int(match["pid"])):
            _remove(entry)
            removed.append(entry)
    return removed


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
    path = check_folder_target(path, overwrite=overwrite)
    remove_stale_temporaries(path.parent, name=path.name)
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
    if path.is_dir():
        msg = f"{path} is a folder; a file cannot replace it."
        raise FileExistsError(msg)
    remove_stale_temporaries(path.parent, name=path.name)
    tmp = _tmp_sibling(path, "tmp", suffix=path.suffix)
    with _committed(tmp, path):
        yield tmp
