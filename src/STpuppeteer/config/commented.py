"""A config rendered as YAML with every field's description as a comment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

__all__ = ["commented_yaml"]


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _lines(model: BaseModel, indent: int) -> list[str]:
    pad = "  " * indent
    out: list[str] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if field.description:
            out.append(f"{pad}# {field.description}")
        if isinstance(value, BaseModel):
            doc = (type(value).__doc__ or "").strip().splitlines()
            if doc and not field.description:
                out.append(f"{pad}# {doc[0]}")
            out.append(f"{pad}{name}:")
            out += _lines(value, indent + 1)
        else:
            dumped = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
            if isinstance(dumped, list) and dumped and isinstance(dumped[0], BaseModel):
                dumped = [v.model_dump(mode="json") for v in dumped]
            if isinstance(dumped, dict):
                dumped = {k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in dumped.items()}
            out.append(f"{pad}{name}: {_scalar(dumped)}")
    return out


def commented_yaml(config: SimulationConfig, *, header: str | None = None) -> str:
    """Render ``config`` as YAML that :meth:`SimulationConfig.from_yaml` reads back, with comments.

    Parameters
    ----------
    config
        The config to render.
    header
        A comment placed at the top (e.g. which preset it came from).

    Returns
    -------
    The YAML text.
    """
    lines = [f"# {line}" for line in (header or "").splitlines()]
    lines += _lines(config, 0)
    return "\n".join(lines) + "\n"
