"""A config rendered as YAML with every field's description as a comment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from STpuppeteer.config._yaml import dump_yaml
from STpuppeteer.config.gene_table import GeneEntry

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

__all__ = ["commented_yaml"]


def _scalar(value: Any) -> str:  # noqa: ANN401 - any YAML-able value
    text = dump_yaml(value, default_flow_style=True, width=10_000, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def _fields(model: BaseModel, indent: int, *, keep: set[str] | None = None) -> list[str]:
    """``name: value`` lines of a model's fields (nested models and collections of them as blocks)."""
    pad = "  " * indent
    out: list[str] = []
    for name, field in type(model).model_fields.items():
        if keep is not None and name not in keep:
            continue
        value = getattr(model, name)
        if field.description:
            out.append(f"{pad}# {field.description}")
        if isinstance(value, BaseModel):
            doc = (type(value).__doc__ or "").strip().splitlines()
            if doc and not field.description:
                out.append(f"{pad}# {doc[0]}")
            out.append(f"{pad}{name}:")
            out += _fields(value, indent + 1)
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            # A list of models (programs, prototypes): one block per item.
            out.append(f"{pad}{name}:")
            for item in value:
                lines = _values(item, indent + 2)
                out += [f"{pad}  - {lines[0].lstrip()}", *lines[1:]]
        elif isinstance(value, dict) and value and all(isinstance(v, GeneEntry) for v in value.values()):
            # The genes of a gene table: one line per gene, as to_yaml writes them.
            out.append(f"{pad}{name}:")
            out += [f"{pad}  {_scalar(key)}: {_scalar(item.model_dump(mode='json'))}" for key, item in value.items()]
        elif isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
            # A mapping of models (cell_type_specs): one block per key.
            out.append(f"{pad}{name}:")
            for key, item in value.items():
                out.append(f"{pad}  {_scalar(key)}:")
                out += _values(item, indent + 2)
        else:
            out.append(f"{pad}{name}: {_scalar(value)}")
    return out


def _values(model: BaseModel, indent: int) -> list[str]:
    """``name: value`` lines of a model's fields without comments (items of a list or mapping)."""
    pad = "  " * indent
    return [f"{pad}{k}: {_scalar(v)}" for k, v in model.model_dump(mode="json").items()]


def commented_yaml(config: SimulationConfig, *, header: str | None = None) -> str:
    """Render ``config`` as YAML that :meth:`SimulationConfig.from_yaml` reads back, with comments.

    Only the fields of the config's expression model are written (as :meth:`SimulationConfig.to_dict`).

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
    lines += _fields(config, 0, keep=set(config.to_dict()))
    return "\n".join(lines) + "\n"
