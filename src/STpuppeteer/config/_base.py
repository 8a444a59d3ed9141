"""Shared base of every configuration model (unknown keys are errors), the probability check, the wrapper key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["StrictModel", "check_probability", "unwrapped_fields"]


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


def unwrapped_fields(data: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """The fields of a config given flat or as ``{"simulation": {...fields}}``."""
    if not isinstance(data, dict):
        data = dict(data)
    if "simulation" not in data:
        return data
    others = sorted(k for k in data if k != "simulation")
    if others:
        msg = (
            f"{source}: a config wrapped in 'simulation:' must have nothing beside it; found {others} "
            "(move them inside 'simulation:')."
        )
        raise ValueError(msg)
    inner = data["simulation"]
    if not isinstance(inner, dict):
        msg = f"{source}: 'simulation:' must hold a mapping of config fields, got {type(inner).__name__}."
        raise ValueError(msg)
    return inner
