"""Shared base of every configuration model (unknown keys are errors) and the probability check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel", "check_probability"]


class StrictModel(BaseModel):
    """Pydantic model that refuses unknown keys and re-validates on assignment.

    A misspelled key silently ignored is a lost experiment; ``extra="forbid"`` turns it
    into an error naming the key.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


def check_probability(field: str, value: float) -> float:
    """``value`` as a float if it is a number in [0, 1]; else an error naming ``field``."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not (0.0 <= value <= 1.0):
        msg = f"{field}={value!r} is not allowed; a probability must be a number in [0, 1]."
        raise ValueError(msg)
    return float(value)
