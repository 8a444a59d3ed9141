"""Shared base of every configuration model: unknown keys refused, strict numbers, names, probabilities.

Numbers are strict: a boolean is not a number (YAML's ``true`` would otherwise be 1), text is
not a number (``"5"``), an integer field takes only whole numbers, and a float field only
finite ones (``.nan`` and ``.inf`` are refused). Every numeric field also carries bounds
(``Field(ge=…, le=…)``) with its unit and the reason in its description; the limits shared by
several fields are the constants below.
"""

from __future__ import annotations

import math
import unicodedata
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import AllowInfNan, BaseModel, BeforeValidator, ConfigDict, StrictBool, ValidationInfo

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "MAX_CELLS",
    "MAX_CELLTYPES",
    "MAX_CONTROL_NAMES",
    "LENGTH_RANGE",
    "MAX_EXTENT_UM",
    "MAX_GENES",
    "MAX_GENE_MEAN",
    "MAX_NAME_LENGTH",
    "MAX_SEED",
    "MAX_THETA",
    "MIN_THETA",
    "Flag",
    "Int",
    "Name",
    "Real",
    "StrictModel",
    "check_name",
    "check_probability",
    "unwrapped_fields",
]

#: Largest seed: a signed 64-bit integer, what h5ad, Zarr and Parquet store natively.
MAX_SEED = 2**63 - 1
#: Most cells of one simulation: a whole slide holds about 10⁶; 10⁷ streamed needs ~30 GB for the cells alone.
MAX_CELLS = 10_000_000
#: Most genes of a panel: a whole transcriptome (about 20,000 protein-coding genes) fits.
MAX_GENES = 30_000
#: Most cell types: finer than any atlas annotation (hundreds of types).
MAX_CELLTYPES = 1_000
#: Most names of one control kind (Xenium panels have tens to a few hundred).
MAX_CONTROL_NAMES = 100_000
#: Largest tissue extent and coordinate, µm (10 cm: beyond a 75 × 25 mm slide; float32 coordinates
#: of the instrument files still resolve 0.01 µm there).
MAX_EXTENT_UM = 100_000.0
#: The allowed range of a tissue length, as field descriptions say it.
LENGTH_RANGE = f"; 1 to {MAX_EXTENT_UM:,.0f} µm (a structure smaller than a cell is none; the slide's extent)"
#: Largest mean molecules of one gene per cell (the most abundant mRNAs reach ~10⁴ copies per cell).
MAX_GENE_MEAN = 10_000.0
#: Smallest NB dispersion θ of a gene (variance m + m²/θ): prior draws below are raised to it, a gene
#: table below it is refused. At θ = 10⁻³ a count's variance is already m + 1000 m²; a smaller θ lets a
#: single Gamma–Poisson draw reach m/θ molecules (10⁹ and more), which no run can hold. Draws of the
#: default prior (shape 2, rate 1) fall below it about once in two million.
MIN_THETA = 1e-3
#: Largest θ of a gene table: at θ = 10⁷ even a gene of :data:`MAX_GENE_MEAN` molecules has a variance
#: within 0.1 % of Poisson's (a fit that finds no overdispersion writes this, not infinity).
MAX_THETA = 1e7
#: Longest name (cell type, gene, program), bytes of UTF-8: a name becomes part of file names in
#: Zarr stores (``{type}_theta``), and file systems allow 255 bytes.
MAX_NAME_LENGTH = 200


class StrictModel(BaseModel):
    """Pydantic model that refuses unknown keys and re-validates on assignment.

    A misspelled key silently ignored is a lost experiment; ``extra="forbid"`` turns it
    into an error naming the key.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


def _field(info: ValidationInfo | None) -> str:
    return info.field_name if info is not None and info.field_name else "value"


def _not_number(value: object, field: str, kind: str) -> ValueError:
    if isinstance(value, bool | np.bool_):
        what = f"{value!r} is a boolean, not a number"
    elif isinstance(value, str | bytes):
        what = f"{value!r} is text, not a number (write it without quotes; YAML 1.2 numbers: 60, 1.5, 1e3)"
    else:
        what = f"{value!r} ({type(value).__name__}) is not a number"
    return ValueError(f"{field}: {what}; expected {kind}.")


def _integer(value: object, info: ValidationInfo) -> object:
    """An integer from an int or a whole finite float; booleans, text and fractions refused."""
    field = _field(info)
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise _not_number(value, field, "an integer")
    if isinstance(value, float | np.floating):
        if not math.isfinite(value) or not float(value).is_integer():
            msg = f"{field}: {value!r} is not a whole number; expected an integer."
            raise ValueError(msg)
        return int(value)
    return int(value)


def _real(value: object, info: ValidationInfo) -> object:
    """A float from an int or float; booleans and text refused (finiteness: ``AllowInfNan(False)``)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise _not_number(value, _field(info), "a finite number")
    if not math.isfinite(value):
        msg = f"{_field(info)}: {value!r} is not a finite number; expected a finite number."
        raise ValueError(msg)
    return float(value)


#: An integer field: ``true``, ``"5"`` and ``2.5`` are refused, ``2.0`` is 2.
Int = Annotated[int, BeforeValidator(_integer)]
#: A float field: ``true``, ``"0.5"``, ``.nan`` and ``.inf`` are refused.
Real = Annotated[float, BeforeValidator(_real), AllowInfNan(False)]
#: A boolean field: only ``true`` and ``false`` (not 1, 0, "yes").
Flag = StrictBool


def check_name(field: str, value: object) -> str:
    """``value`` if it is a usable name: non-empty text of printable characters, at most 200 bytes of UTF-8.

    Control characters (tab, newline, NUL …) are refused: they break the instrument formats'
    tab- and comma-separated files and cannot be HDF5 or Zarr keys; so are ``.`` and ``..``,
    which are not keys of a Zarr store.
    """
    if not isinstance(value, str) or not value.strip():
        msg = f"{field}={value!r} is not allowed; a name must be a non-empty string."
        raise ValueError(msg)
    bad = sorted({c for c in value if unicodedata.category(c) in ("Cc", "Cs")})
    if bad:
        msg = f"{field}={value!r} is not allowed; a name must not hold control characters (found {bad})."
        raise ValueError(msg)
    if value.strip() in (".", ".."):
        msg = f"{field}={value!r} is not allowed; '.' and '..' cannot name anything in a store."
        raise ValueError(msg)
    if len(value.encode("utf-8", "surrogatepass")) > MAX_NAME_LENGTH:
        msg = (
            f"{field}={value[:40]!r}… is {len(value.encode('utf-8', 'surrogatepass'))} bytes long in UTF-8; a name "
            f"may have at most {MAX_NAME_LENGTH} (it becomes part of file names in Zarr stores)."
        )
        raise ValueError(msg)
    return value


def _name(value: object, info: ValidationInfo) -> object:
    return check_name(_field(info), value)


#: A name field (a cell type, gene or program): see :func:`check_name`.
Name = Annotated[str, BeforeValidator(_name)]


def check_probability(field: str, value: float) -> float:
    """``value`` as a float if it is a number in [0, 1]; else an error naming ``field``."""
    if (isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating)
            or not (0.0 <= value <= 1.0)):
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
