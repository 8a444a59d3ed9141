"""Shared base for every configuration model: unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """Pydantic model that refuses unknown keys and re-validates on assignment.

    A misspelled key silently ignored is a lost experiment; ``extra="forbid"`` turns it
    into an error naming the key.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)
