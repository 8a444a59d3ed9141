"""How the command line fails: one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, NoReturn

from pydantic import ValidationError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Parser", "UserError", "one_line"]


class UserError(Exception):
    """A problem with the user's input, reported as one line."""


class Parser(argparse.ArgumentParser):
    # A callable returning the epilog, called only when help is shown (keeps start-up light).
    epilog_factory: Callable[[], str] | None = None

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def format_help(self) -> str:
        if self.epilog_factory is not None and self.epilog is None:
            self.epilog = self.epilog_factory()
        return super().format_help()


def one_line(err: BaseException) -> str:
    if isinstance(err, ValidationError):
        parts = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "config"
            parts.append(f"{loc}: {e['msg']} (got {e['input']!r})" if "input" in e else f"{loc}: {e['msg']}")
        return "invalid config: " + "; ".join(parts)
    return " ".join(str(err).split())
