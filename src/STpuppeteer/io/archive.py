"""Zip archives whose bytes depend on their content only.

A zip member records its modification time; two runs of the same simulation would write
different bytes. Members are written in sorted order, stored (as zarr's own zip store
writes them), with a fixed time stamp and permissions.
"""

from __future__ import annotations

import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["FIXED_DATE_TIME", "zip_folder"]

#: The time stamp of every member (the earliest a zip can hold).
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16  # a regular file, rw-r--r--


def zip_folder(folder: Path, path: Path) -> None:
    """Write every file below ``folder`` into the zip ``path``, names relative to ``folder``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(file.relative_to(folder).as_posix(), date_time=FIXED_DATE_TIME)
            info.external_attr = _FILE_MODE
            info.create_system = 3  # unix, as zarr's zip store writes it
            archive.writestr(info, file.read_bytes())
