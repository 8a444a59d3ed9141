"""Figure checks shared by the plotting tests: what a reader needs, checked without pixels.

Every panel (an axes that is neither a colour bar nor the child of another axes) has a title
and both axis labels (the x label may sit on a child axes under it); a numeric axis names its
unit in parentheses or brackets; a colour bar has a label.
"""

from __future__ import annotations

import re

import pytest

_UNIT = re.compile(r"\(.+\)|\[.+\]")
_NUMBER = re.compile(r"\d*\.?\d+([eE]\d+)?")


def _numeric(axis) -> bool:
    # An axis is numeric when its tick labels are numbers (200, 1,000, −0.5, $\\mathdefault{10^{3}}$);
    # categorical axes (bar names, cell types) label their ticks with words.
    labels = axis.get_major_formatter().format_ticks(axis.get_ticklocs())
    cleaned = [re.sub(r"\\mathdefault|[${}^,−+\-\s×]", "", label) for label in labels]
    return any(_NUMBER.fullmatch(text) for text in cleaned)


def problems(fig) -> list[str]:
    """Every missing title, label or unit in ``fig``, as readable lines (empty: all there)."""
    found = []
    for ax in fig.axes:
        colorbar = getattr(ax, "_colorbar", None)
        if colorbar is not None:
            if not colorbar.ax.get_ylabel() and not colorbar.ax.get_xlabel():
                found.append("colour bar without a label")
            continue
        name = ax.get_title() or repr(ax.get_label())
        if not ax.get_title():
            found.append(f"axes {name}: no title")
        # A footer drawn as a child axes (the gene-class strip) may carry its panel's x label.
        xlabel = " ".join([ax.get_xlabel(), *(child.get_xlabel() for child in ax.child_axes)])
        for letter, axis, label in (("x", ax.xaxis, xlabel), ("y", ax.yaxis, ax.get_ylabel())):
            if not label.strip():
                found.append(f"{name}: no {letter} label")
            elif _numeric(axis) and not _UNIT.search(label):
                found.append(f"{name}: {letter} label {label!r} has no unit in () or []")
    return found


@pytest.fixture
def figure_problems():
    """:func:`problems`, for a test to call on its figures."""
    return problems
