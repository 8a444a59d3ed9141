"""Configs made from what users hand in: a preset's name, a dict, a YAML path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from STpuppeteer.config.simulation import SimulationConfig

__all__ = ["as_config", "preset_config"]


def preset_config(name: str, **overrides: Any) -> SimulationConfig:
    """Config of a platform preset, with overrides.

    Parameters
    ----------
    name
        ``"xenium"``, ``"merscope"`` or ``"cosmx"``.
    **overrides
        Fields replacing the preset's; a nested config given as a dict is merged key by key
        into the preset's (``instrument={"jitter_um": 0}`` keeps the other instrument knobs).

    Returns
    -------
    The validated config.

    Examples
    --------
    >>> cfg = preset_config("xenium", seed=3, n_cells=500)
    >>> cfg.tissue.section_thickness_um, cfg.n_cells
    (5.0, 500)
    """
    return SimulationConfig.from_preset(name, **overrides)


def as_config(config: SimulationConfig | dict[str, Any] | str | Path) -> SimulationConfig:
    """A validated config from a config, a dict of its fields or the path of a YAML file."""
    if isinstance(config, SimulationConfig):
        return config
    if isinstance(config, dict):
        return SimulationConfig.from_dict(config)
    if isinstance(config, str | Path):
        return SimulationConfig.from_yaml(config)
    msg = f"config={config!r} is not allowed; pass a SimulationConfig, a dict of fields or a YAML path."
    raise TypeError(msg)
