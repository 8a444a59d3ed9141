"""YAML for configs: read by the YAML 1.2 core schema, duplicate keys refused, written readable by both.

PyYAML implements YAML 1.1, whose implicit types surprise in a config: ``060`` is octal (48),
``1:30`` is sexagesimal (90), ``yes``/``no``/``on``/``off`` are booleans, ``2024-01-31`` is a
date, and ``1e3`` (no dot) is a string; and a key given twice silently keeps the last value.
:func:`load_yaml` reads plain scalars by the YAML 1.2 core schema instead:

* ``null``, ``Null``, ``NULL``, ``~`` and an empty value are null;
* ``true``/``True``/``TRUE`` and ``false``/``False``/``FALSE`` are booleans (nothing else);
* ``[-+]?[0-9]+`` is a decimal integer (leading zeros are decimal: ``060`` is 60),
  ``0o17`` octal and ``0x1F`` hexadecimal;
* ``[-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?`` is a float (``1e3`` is 1000.0), as are
  ``.inf``, ``-.inf`` and ``.nan`` (in the three spellings of the spec);
* everything else is a string.

A mapping that repeats a key is an error naming the key and both lines. :func:`dump_yaml`
quotes every string that either YAML 1.1 or 1.2 would read as something else, so the files
it writes read back the same with :func:`load_yaml` and with ``yaml.safe_load``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DuplicateKeyError", "FlowMapping", "FlowSequence", "dump_yaml", "load_yaml", "read_yaml_mapping"]

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"

# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_CORE = (
    (_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), [*"~nN", ""]),
    (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")),
    (_INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")),
    (
        _FLOAT,
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+.0123456789"),
    ),
)


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A YAML mapping gives the same key twice."""


class _CoreResolver(yaml.resolver.BaseResolver):
    """Implicit types of plain scalars by the YAML 1.2 core schema only."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}


for _tag, _regexp, _first in _CORE:
    _CoreResolver.add_implicit_resolver(_tag, _regexp, _first)


class _CoreConstructor(yaml.constructor.SafeConstructor):
    """SafeConstructor with YAML 1.2 numbers and booleans, refusing duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:  # noqa: FBT001, FBT002
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key; the base class reports it
                continue
            if first is not None:
                msg = (
                    f"the key {key!r} is given twice (lines {first.start_mark.line + 1} and "
                    f"{key_node.start_mark.line + 1}); each key may appear once"
                )
                raise DuplicateKeyError(None, None, msg, key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        try:
            return int(text, 10)
        except ValueError:
            msg = f"{text!r} is not an integer (YAML 1.2: digits, 0o… or 0x…)"
            raise yaml.constructor.ConstructorError(None, None, msg, node.start_mark) from None

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        text = str(self.construct_scalar(node)).lower()
        if text.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        if text == ".nan":
            return float("nan")
        try:
            return float(text)
        except ValueError:
            msg = f"{text!r} is not a number (YAML 1.2 floats: 1.5, 1e3, .inf, .nan)"
            raise yaml.constructor.ConstructorError(None, None, msg, node.start_mark) from None

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> bool:
        text = str(self.construct_scalar(node))
        if text.lower() not in ("true", "false"):
            msg = f"{text!r} is not a boolean (YAML 1.2: true or false)"
            raise yaml.constructor.ConstructorError(None, None, msg, node.start_mark)
        return text.lower() == "true"


_CoreConstructor.add_constructor(_INT, _CoreConstructor.construct_yaml_int)
_CoreConstructor.add_constructor(_FLOAT, _CoreConstructor.construct_yaml_float)
_CoreConstructor.add_constructor(_BOOL, _CoreConstructor.construct_yaml_bool)


class _CoreLoader(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _CoreConstructor,
    _CoreResolver,
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _CoreConstructor.__init__(self)
        _CoreResolver.__init__(self)


class _BothDumper(yaml.SafeDumper):
    """SafeDumper that quotes a string whenever YAML 1.1 *or* the 1.2 core schema would not read a string."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:  # noqa: ANN401
        tag = super().resolve(kind, value, implicit)
        if kind is yaml.ScalarNode and implicit[0] and tag == _STR:
            for core_tag, regexp, first in _CORE:
                if value[:1] in first and regexp.match(value):
                    return core_tag
        return tag


def load_yaml(text: str) -> Any:  # noqa: ANN401 - whatever the document holds
    r"""Read one YAML document by the YAML 1.2 core schema, refusing duplicate keys.

    Parameters
    ----------
    text
        The document.

    Returns
    -------
    Its value (mappings as dicts, sequences as lists, scalars as str, int, float, bool, None).

    Raises
    ------
    yaml.YAMLError
        If the text is not YAML, or a mapping gives a key twice (:class:`DuplicateKeyError`).

    Examples
    --------
    >>> load_yaml("n_cells: 060\nseed: 1e3\nname: no")
    {'n_cells': 60, 'seed': 1000.0, 'name': 'no'}
    """
    loader = _CoreLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


class FlowMapping(dict):
    """A mapping :func:`dump_yaml` writes on one line, in flow style: ``{mu: [1.5, 2.0], theta: 3.0}``."""


class FlowSequence(list):
    """A list :func:`dump_yaml` writes on one line, in flow style: ``[T cell, B cell]``."""


_BothDumper.add_representer(
    FlowMapping, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)
_BothDumper.add_representer(
    FlowSequence, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def dump_yaml(data: Any, **kwargs: Any) -> str:  # noqa: ANN401
    r"""``yaml.safe_dump`` whose strings read back as strings by YAML 1.1 and by the 1.2 core schema.

    Parameters
    ----------
    data
        Plain Python data (dicts, lists, str, int, float, bool, None).
    **kwargs
        Passed to :func:`yaml.dump` (``sort_keys``, ``default_flow_style``, ``width`` …).

    Returns
    -------
    The YAML text.

    Examples
    --------
    >>> dump_yaml({"a": "1e3", "b": "yes", "c": 1.5})
    "a: '1e3'\nb: 'yes'\nc: 1.5\n"
    """
    return yaml.dump(data, Dumper=_BothDumper, **kwargs)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The mapping a YAML config file holds (``{}`` for an empty file), by :func:`load_yaml`'s rules.

    Raises
    ------
    ValueError
        In one line naming the file: not UTF-8 text, not YAML, a repeated key, not a mapping.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        msg = (
            f"{path}: not a UTF-8 text file (byte {raw[err.start]:#04x} at offset {err.start}); a config is "
            "YAML text in UTF-8."
        )
        raise ValueError(msg) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as err:
        msg = f"{path}: not valid YAML ({' '.join(str(err).split())})."
        raise ValueError(msg) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        msg = f"{path}: a config must be a YAML mapping of fields, got {type(data).__name__}."
        raise ValueError(msg)
    return data
