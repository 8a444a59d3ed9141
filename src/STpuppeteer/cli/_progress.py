"""Progress of a run: tqdm's bar on a terminal, one line per finished step elsewhere (CI logs, files)."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TypeVar

from STpuppeteer.summary import disk_bytes, human_bytes

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["Steps"]

T = TypeVar("T")


class Steps:
    """Run named steps, keeping each one's seconds (and, for written outputs, bytes on disk).

    On a terminal the steps advance a tqdm bar on stderr; otherwise each finished step prints one
    line on stderr (``stpuppeteer: cells done in 3.2 s``), so a redirected log shows the run moving.
    ``quiet`` prints neither.

    Parameters
    ----------
    total
        Number of steps (the bar's length).
    desc
        The bar's label.
    unit
        The bar's unit.
    quiet
        Print nothing.
    """

    def __init__(self, total: int, *, desc: str, unit: str, quiet: bool = False) -> None:
        from tqdm.auto import tqdm

        terminal = sys.stderr.isatty()
        self.lines = not quiet and not terminal
        self.bar = tqdm(total=total, desc=desc, unit=unit, disable=quiet or not terminal)
        self.seconds: dict[str, float] = {}
        self.sizes: dict[str, int] = {}

    def run(self, name: str, step: Callable[[], T], *, writes: Path | None = None) -> T:
        """Run ``step`` as the step ``name``; if it ``writes`` a file or folder, measure it."""
        self.bar.set_postfix_str(name)
        start = time.perf_counter()
        value = step()
        self.seconds[name] = seconds = time.perf_counter() - start
        self.bar.update()
        if writes is not None:
            self.sizes[name] = disk_bytes(writes)
            line = f"wrote {name} ({human_bytes(self.sizes[name])}) in {seconds:.1f} s"
        else:
            line = f"{name} done in {seconds:.1f} s"
        if self.lines:
            print(f"stpuppeteer: {line}", file=sys.stderr, flush=True)
        return value

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
