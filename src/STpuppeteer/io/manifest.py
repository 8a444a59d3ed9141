"""``manifest.json``: what made an output folder and a checksum of every file in it.

It records no time stamp (the folder's own time says when it was written): the same config
and seed give the same manifest, byte for byte, as they give the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from STpuppeteer._version import __version__

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

__all__ = ["MANIFEST_NAME", "file_sha256", "write_manifest"]

MANIFEST_NAME = "manifest.json"


def file_sha256(path: Path, *, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, config: SimulationConfig, *, fmt: str, extra: dict[str, Any] | None = None) -> Path:
    """Write ``manifest.json`` into ``folder`` listing every file with its size and SHA-256.

    Parameters
    ----------
    folder
        The (temporary) output folder, complete but for the manifest.
    config
        The config that produced the data (seed included).
    fmt
        The output format, e.g. ``"xenium"``.
    extra
        More fields to record.

    Returns
    -------
    The manifest's path.
    """
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST_NAME)
    # hashlib releases the GIL on large reads: the files are hashed side by side.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        digests = list(pool.map(file_sha256, paths))
    files = {p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": digest}
             for p, digest in zip(paths, digests, strict=True)}
    manifest = {
        "format": fmt,
        "stpuppeteer_version": __version__,
        "python": platform.python_version(),
        "seed": config.seed,
        "config": config.to_dict(),
        "files": files,
        **(extra or {}),
    }
    out = folder / MANIFEST_NAME
    out.write_text(json.dumps(manifest, indent=2))
    return out
